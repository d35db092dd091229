"""Daily cost anomalies per service: a day far above both its rolling 7-day and 28-day baselines.

For each service, the daily series runs over every day of the data (a day the service has no row costs
$0). A day ``d`` is an anomaly when, with ``b7`` the mean of the 7 days before ``d`` and ``b28`` the mean of
the 28 days before ``d`` (fewer where the data starts later, at least ``min_history_days``):

- ``cost(d) > k x b7`` and ``cost(d) > k x b28`` (``k`` = 1.5 by default: half as much again as usual,
  against both the recent week and the month, so a slow ramp or one cheap week alone does not fire); and
- ``cost(d) - max(b7, b28) >= min_increase_usd`` ($10 by default: a $0.40 -> $0.90 blip is not worth a
  reader's time).

Days without 7 days of history before them are not judged, nor are days whose baselines are $0 (a service
new in the window has no baseline; its cost is in the report's service table). Baselines include earlier
spikes: each day is compared with what preceded it, as a reader of the daily chart would.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict, Field

from churnguard_ops.cost.model import Anomaly, DailyCost

SHORT_DAYS, LONG_DAYS = 7, 28


class AnomalyParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    k: float = Field(default=1.5, gt=1, description="a day above k x both baselines qualifies")
    min_increase_usd: float = Field(default=10.0, ge=0, description="and at least this much above the larger one")
    min_history_days: int = Field(default=SHORT_DAYS, ge=SHORT_DAYS, le=LONG_DAYS,
                                  description="days of data a day needs before it is judged")


def detect_anomalies(daily: Sequence[DailyCost], params: AnomalyParams | None = None) -> list[Anomaly]:
    """The anomalous (service, day)s of ``daily``, by day then service (see the module's rule)."""
    p = params or AnomalyParams()
    if not daily:
        return []
    first, last = min(d.day for d in daily), max(d.day for d in daily)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    by_service: dict[str, dict[date, float]] = defaultdict(lambda: defaultdict(float))
    for row in daily:
        by_service[row.service][row.day] += row.usd
    found = []
    for service, costs in by_service.items():
        series = [costs.get(day, 0.0) for day in days]
        for i in range(p.min_history_days, len(series)):
            anomaly = _judge(service, days[i], series[i], series[i - SHORT_DAYS:i],
                             series[max(0, i - LONG_DAYS):i], p)
            if anomaly is not None:
                found.append(anomaly)
    return sorted(found, key=lambda a: (a.day, a.service))


def _judge(service: str, day: date, usd: float, week: list[float], month: list[float],
           p: AnomalyParams) -> Anomaly | None:
    b7, b28 = sum(week) / len(week), sum(month) / len(month)
    if b7 <= 0 or b28 <= 0:
        return None
    if not (usd > p.k * b7 and usd > p.k * b28 and usd - max(b7, b28) >= p.min_increase_usd):
        return None
    r7, r28 = usd / b7, usd / b28
    reason = (f"{service} cost ${usd:,.2f} on {day.isoformat()}: {r7:.1f}x its 7-day mean (${b7:,.2f}) and "
              f"{r28:.1f}x its {len(month)}-day mean (${b28:,.2f}), ${usd - max(b7, b28):,.2f} above the larger "
              f"(thresholds: {p.k:g}x both and +${p.min_increase_usd:,.2f})")
    return Anomaly(service=service, day=day, usd=round(usd, 2), baseline_7d_usd=round(b7, 2),
                   baseline_28d_usd=round(b28, 2), ratio_7d=round(r7, 2), ratio_28d=round(r28, 2), reason=reason)
