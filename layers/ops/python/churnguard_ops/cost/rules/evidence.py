"""Reading the evidence: points, the CPU peak, memory and network figures, and how to cite them.

Evidence is keyed by our metric names (:mod:`churnguard_ops.cost.queries`): ``cpu`` (CPUUtilization,
Average per hour), ``cpu_p95`` (CPUUtilization, CloudWatch's p95 statistic per hour), ``memory``
(CloudWatch agent ``mem_used_percent``), ``network_in``/``network_out`` (bytes, Sum per period),
``freeable_memory`` (RDS, bytes), ``connections``, ``read_ops``/``write_ops`` (EBS, Sum per period) and
``disk_used`` (CloudWatch agent ``disk_used_percent``).

A figure is *present* when its series has at least one point; a veto uses whatever is present (a
downsize is the risky action), a verdict needs ``min_points`` points of CPU.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from churnguard_ops.cost.model import Evidence

__all__ = ["cite", "collect", "mbit_per_s", "peak_cpu", "present", "typical_peak"]


def present(evidence: Mapping[str, Evidence], metric: str) -> Evidence | None:
    ev = evidence.get(metric)
    return ev if ev is not None and ev.points > 0 else None


def typical_peak(ev: Evidence) -> float | None:
    """The series' p95 where the adapter gives it, else its average."""
    return ev.p95 if ev.p95 is not None else ev.average


def peak_cpu(evidence: Mapping[str, Evidence]) -> float | None:
    """The p95 CPU the guard compares with its ceiling: the highest p95 figure present, from the ``cpu``
    series (95th percentile of the hourly averages) and the ``cpu_p95`` series (CloudWatch's per-hour p95:
    its window p95, else its average). None when no p95 figure is present."""
    figures = []
    cpu = present(evidence, "cpu")
    if cpu is not None and cpu.p95 is not None:
        figures.append(cpu.p95)
    hourly_p95 = present(evidence, "cpu_p95")
    if hourly_p95 is not None:
        value = typical_peak(hourly_p95)
        if value is not None:
            figures.append(value)
    return max(figures) if figures else None


def mbit_per_s(ev: Evidence) -> float | None:
    """A byte-count series (statistic ``Sum`` per period) as a rate: its p95 (else average) bytes per period
    x 8 / period / 10^6. None for other statistics."""
    value = typical_peak(ev)
    if ev.statistic != "Sum" or value is None or ev.period_seconds <= 0:
        return None
    return value * 8 / ev.period_seconds / 1e6


def cite(ev: Evidence, unit: str = "%") -> str:
    """``average 12.0 %, p95 35.0 %, max 60.0 % over 336 points (3600 s) in 14 days``."""
    parts = [f"{label} {value:.1f}{' ' + unit if unit else ''}" for label, value in
             (("average", ev.average), ("p95", ev.p95), ("max", ev.maximum)) if value is not None]
    return f"{', '.join(parts) or 'no value'} over {ev.points} points ({ev.period_seconds} s) in {ev.window_days} days"


def collect(evidence: Mapping[str, Evidence], metrics: Iterable[str]) -> list[Evidence]:
    """The series of ``metrics`` that are in ``evidence``, in that order (what a recommendation cites)."""
    return [evidence[m] for m in metrics if m in evidence]
