"""How recoverable each database is right now: posture and point-in-time restore lag.

The backup tick measures this once per schedule (hourly by default), which is too coarse for a
15-minute RPO; the recoverability probe measures it every few minutes with one DescribeDBInstances
per instance and nothing else.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel

from churnguard_ops.backup import posture
from churnguard_ops.backup.model import PostureFinding
from churnguard_ops.core.clock import Clock
from churnguard_ops.core.errors import OpsError
from churnguard_ops.core.ports import MetricsSink
from churnguard_ops.core.rds_model import DbInstance


class InstanceSource(Protocol):
    def instance(self, instance_id: str) -> DbInstance: ...


def measure(instance: DbInstance, now: datetime, metrics: MetricsSink) -> list[PostureFinding]:
    """Emit PostureViolations and RestorableLagSeconds for one instance; return the posture findings.

    With automated backups off RDS reports no latest restorable time: no lag datapoint is emitted, and
    the lag alarm treats the missing data as breaching (nothing can be restored to a point in time).
    """
    findings = posture.audit(instance)
    dims = {"DBInstanceIdentifier": instance.instance_id}
    metrics.put("PostureViolations", sum(not f.passed for f in findings), "Count", dims)
    if instance.latest_restorable_time:
        lag = (now - instance.latest_restorable_time).total_seconds()
        metrics.put("RestorableLagSeconds", max(lag, 0.0), "Seconds", dims)
    return findings


class InstanceRecoverability(BaseModel):
    instance_id: str
    restorable_lag_seconds: float | None = None
    posture_violations: list[str] = []
    error: str | None = None


class ProbeReport(BaseModel):
    measured_at: datetime
    instances: list[InstanceRecoverability]

    @property
    def failures(self) -> list[InstanceRecoverability]:
        return [i for i in self.instances if i.error]

    def summary(self) -> str:
        parts = []
        for item in self.instances:
            if item.error:
                parts.append(f"{item.instance_id}: not measured ({item.error})")
            elif item.restorable_lag_seconds is None:
                parts.append(f"{item.instance_id}: no point-in-time restore (automated backups off?)")
            else:
                parts.append(f"{item.instance_id}: restorable lag {item.restorable_lag_seconds:.0f} s")
        return "; ".join(parts) or "no instances configured"


class RecoverabilityProbe:
    def __init__(self, instance_ids: Sequence[str], rds: InstanceSource, metrics: MetricsSink, clock: Clock) -> None:
        self.instance_ids = list(instance_ids)
        self.rds = rds
        self.metrics = metrics
        self.clock = clock

    def run(self) -> ProbeReport:
        now = self.clock()
        results = []
        for instance_id in self.instance_ids:  # one unreachable instance must not hide the others
            try:
                instance = self.rds.instance(instance_id)
            except OpsError as exc:
                results.append(InstanceRecoverability(instance_id=instance_id, error=str(exc)))
                continue
            findings = measure(instance, now, self.metrics)
            lag = (now - instance.latest_restorable_time).total_seconds() if instance.latest_restorable_time else None
            results.append(InstanceRecoverability(
                instance_id=instance_id, restorable_lag_seconds=None if lag is None else max(lag, 0.0),
                posture_violations=[f.check for f in findings if not f.passed]))
        return ProbeReport(measured_at=now, instances=results)
