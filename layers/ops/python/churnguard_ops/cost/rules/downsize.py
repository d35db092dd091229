"""The downsize rule shared by every "low CPU -> a smaller size" rule, EC2 and RDS.

For a resource the rule judges (a running EC2 instance, an RDS instance):

1. Insufficient data: fewer than ``ctx.min_points`` points of ``cpu`` (30 hourly points by default) ->
   no verdict, and the report says so.
2. The rule's own test (CPU average strictly below ``cpu_below_pct``; the xlarge rules also need a size of
   xlarge or larger) fails -> nothing to say.
3. p95 guard: the p95 CPU (:func:`.evidence.peak_cpu`) strictly above ``p95_ceiling_pct`` -> vetoed, however
   low the average.
4. The size: ``max_steps`` sizes down (one, or two for ``ec2_severely_underutilized``) where the family has
   them; two steps only when the p95 CPU is known and, doubled per step, still fits under the ceiling (a
   size down halves the vCPUs). Memory and network evidence, where present, veto a step (see the EC2 and RDS
   subclasses); a vetoed two-step falls back to one step.
5. Saving: ``(current - proposed) $/h x 730 h`` from the price book; not cheaper -> no action.
"""
from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field

from churnguard_ops.core.registry import PluginParams
from churnguard_ops.cost.model import Ec2Instance, Evidence, Price, RdsInstance
from churnguard_ops.cost.ports import PriceBook
from churnguard_ops.cost.sizes import is_at_least, sizes_down, split

from .base import CostRule, Outcome, Resource, RuleContext
from .evidence import cite, collect, mbit_per_s, peak_cpu, present, typical_peak
from .pricing import ec2_price, hourly_change, rds_price

STEP_WORDS = {1: "one size", 2: "two sizes", 3: "three sizes"}


class DownsizeParams(PluginParams):
    cpu_below_pct: float = Field(default=40.0, gt=0, le=100, description="average CPU strictly below this qualifies")
    p95_ceiling_pct: float = Field(default=80.0, gt=0, le=100,
                                   description="no downsize when the p95 CPU is strictly above this")


class Ec2DownsizeParams(DownsizeParams):
    memory_ceiling_pct: float = Field(default=80.0, gt=0, le=100, description=(
        "highest memory use (CloudWatch agent mem_used_percent, p95 else average) the smaller size may reach: "
        "the observed figure doubles per size down"))
    network_ceiling_mbps: float = Field(default=250.0, gt=0, description=(
        "no downsize when network in or out (p95 of the hourly sums, else their average) exceeds this many "
        "Mbit/s: smaller sizes' baseline bandwidth is a fraction of their 'up to' figure"))


class RdsDownsizeParams(DownsizeParams):
    min_freeable_memory_mb: float = Field(default=1024.0, ge=0, description=(
        "no downsize when FreeableMemory averages below this many MiB: halving the memory would swap"))


class DownsizeRule(CostRule):
    """Base of the downsize rules (see the module's docs)."""

    Params: ClassVar[type[PluginParams]] = DownsizeParams
    #: Smallest size the rule judges (the xlarge rules: "xlarge"); None for any size.
    min_size: ClassVar[str | None] = None
    evidence_metrics: ClassVar[tuple[str, ...]] = ("cpu", "cpu_p95")

    @property
    def settings(self) -> DownsizeParams:
        assert isinstance(self.params, DownsizeParams)
        return self.params

    def max_steps(self) -> int:
        return 1

    def evaluate(self, resource: Resource, evidence: Mapping[str, Evidence], prices: PriceBook,
                 ctx: RuleContext) -> Outcome | None:
        if not self.eligible(resource):
            return None
        p, size = self.settings, self.size_of(resource)
        cpu = evidence.get("cpu")
        if cpu is None or cpu.average is None or cpu.points < ctx.min_points:
            points = cpu.points if cpu is not None else 0
            return self.verdict("insufficient_data", f"insufficient data: {points} CPU points (fewer than "
                                                     f"{ctx.min_points}), no verdict on its size")
        if not cpu.average < p.cpu_below_pct or (self.min_size and not is_at_least(size, self.min_size)):
            return None
        peak = peak_cpu(evidence)
        if peak is not None and peak > p.p95_ceiling_pct:
            return self.verdict("vetoed", f"CPU average {cpu.average:.1f} % < {p.cpu_below_pct:g} % but p95 CPU "
                                          f"{peak:.1f} % > {p.p95_ceiling_pct:g} %: its peaks need this size")
        vetoes: list[str] = []
        for steps in range(self.max_steps(), 0, -1):
            target = sizes_down(size, steps)
            if target is None or (steps > 1 and (peak is None or peak * 2 ** steps > p.p95_ceiling_pct)):
                continue
            veto = self.veto(evidence, steps)
            if veto is None:
                outcome = self.priced(resource, size, target, steps, cpu, peak, evidence, prices)
                return self.with_fallback(outcome, vetoes)
            vetoes.append(f"{veto} {STEP_WORDS.get(steps, f'{steps} sizes')} down")
        if vetoes:
            return self.verdict("vetoed", f"CPU average {cpu.average:.1f} % < {p.cpu_below_pct:g} % but {vetoes[-1]}")
        parts = split(size)
        family = parts[1] if parts else size
        return self.verdict("no_action", f"CPU average {cpu.average:.1f} % < {p.cpu_below_pct:g} % but {size} is "
                                         f"the smallest {family} size")

    def priced(self, resource: Resource, size: str, target: str, steps: int, cpu: Evidence, peak: float | None,
               evidence: Mapping[str, Evidence], prices: PriceBook) -> Outcome:
        current, proposed = self.price(prices, resource, size), self.price(prices, resource, target)
        if proposed.usd >= current.usd:
            return self.verdict("no_action", f"{target} is not cheaper than {size}")
        maths = hourly_change(current, proposed)
        peak_text = f"; p95 CPU {peak:.1f} % within {self.settings.p95_ceiling_pct:g} %" if peak is not None else ""
        reason = (f"CPU {cite(cpu)}: average below {self.settings.cpu_below_pct:g} %{peak_text}; "
                  f"{STEP_WORDS.get(steps, f'{steps} sizes')} down")
        return self.recommend(resource, action=self.action(size, target), reason=reason,
                              saving=(current.usd - proposed.usd) * maths.hours_per_month, maths=maths,
                              evidence=collect(evidence, self.evidence_metrics))

    def with_fallback(self, outcome: Outcome, vetoes: list[str]) -> Outcome:
        """A recommendation of fewer steps than the rule's maximum says why the larger step was vetoed."""
        rec = outcome.recommendation
        if not vetoes or rec is None:
            return outcome
        reason = f"{rec.reason} (not further: {vetoes[-1]})"
        return Outcome(outcome.status, outcome.rule, reason, rec.model_copy(update={"reason": reason}))

    def action(self, size: str, target: str) -> str:
        return f"Downsize {size} -> {target}"

    # --- per resource kind --------------------------------------------------------------------------

    @abstractmethod
    def eligible(self, resource: Resource) -> bool:
        """Could this resource be downsized at all (running, a size this rule looks at)?"""

    @abstractmethod
    def size_of(self, resource: Resource) -> str:
        """Its instance type or class."""

    @abstractmethod
    def price(self, prices: PriceBook, resource: Resource, size: str) -> Price:
        """Its hourly price at ``size`` (raises MissingPrice)."""

    def veto(self, evidence: Mapping[str, Evidence], steps: int) -> str | None:
        return None


class Ec2DownsizeRule(DownsizeRule):
    """Base of the EC2 downsize rules: running instances; memory and network evidence veto."""

    applies_to = "ec2"
    Params: ClassVar[type[PluginParams]] = Ec2DownsizeParams
    permissions: ClassVar[tuple[str, ...]] = ("ec2:DescribeInstances", "cloudwatch:GetMetricData",
                                              "pricing:GetProducts")
    evidence_metrics = ("cpu", "cpu_p95", "memory", "network_in", "network_out")

    def eligible(self, resource: Resource) -> bool:
        return isinstance(resource, Ec2Instance) and resource.state == "running"

    def size_of(self, resource: Resource) -> str:
        assert isinstance(resource, Ec2Instance)
        return resource.instance_type

    def price(self, prices: PriceBook, resource: Resource, size: str) -> Price:
        assert isinstance(resource, Ec2Instance)
        return ec2_price(prices, size, resource.platform)

    def veto(self, evidence: Mapping[str, Evidence], steps: int) -> str | None:
        p = self.settings
        assert isinstance(p, Ec2DownsizeParams)
        memory = present(evidence, "memory")
        used = typical_peak(memory) if memory is not None else None
        if used is not None and used * 2 ** steps > p.memory_ceiling_pct:
            return (f"memory use {used:.1f} % would reach {used * 2 ** steps:.1f} % (> {p.memory_ceiling_pct:g} %)"
                    f" at")
        for metric in ("network_in", "network_out"):
            series = present(evidence, metric)
            rate = mbit_per_s(series) if series is not None else None
            if rate is not None and rate > p.network_ceiling_mbps:
                return f"{metric.replace('_', ' ')} {rate:.1f} Mbit/s > {p.network_ceiling_mbps:g} Mbit/s at"
        return None


class RdsDownsizeRule(DownsizeRule):
    """Base of the RDS downsize rules: low FreeableMemory vetoes."""

    applies_to = "rds"
    Params: ClassVar[type[PluginParams]] = RdsDownsizeParams
    permissions: ClassVar[tuple[str, ...]] = ("rds:DescribeDBInstances", "cloudwatch:GetMetricData",
                                              "pricing:GetProducts")
    evidence_metrics = ("cpu", "cpu_p95", "freeable_memory", "connections")

    def eligible(self, resource: Resource) -> bool:
        return isinstance(resource, RdsInstance)

    def size_of(self, resource: Resource) -> str:
        assert isinstance(resource, RdsInstance)
        return resource.instance_class

    def price(self, prices: PriceBook, resource: Resource, size: str) -> Price:
        assert isinstance(resource, RdsInstance)
        return rds_price(prices, size, resource.engine, resource.multi_az)

    def veto(self, evidence: Mapping[str, Evidence], steps: int) -> str | None:
        p = self.settings
        assert isinstance(p, RdsDownsizeParams)
        free = present(evidence, "freeable_memory")
        if free is not None and free.average is not None and free.average / 2 ** 20 < p.min_freeable_memory_mb:
            return (f"freeable memory averages {free.average / 2 ** 20:.0f} MiB (< {p.min_freeable_memory_mb:g} "
                    f"MiB): it would swap at")
        return None
