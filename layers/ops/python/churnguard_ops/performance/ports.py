"""What the performance use cases need besides the core ports; AWS adapters in :mod:`.adapters`."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from churnguard_ops.performance.model import AlertState, MetricRead, RawQuery


class MetricReader(Protocol):
    """GetMetricData: every query in ``ceil(n / 500)`` calls (NextToken pages followed); per query id the
    per-period values by period start."""

    def read(self, queries: Sequence[RawQuery], start: datetime, end: datetime, period_seconds: int) -> MetricRead:
        ...


class InstanceClasses(Protocol):
    def instance_class(self, db_instance_id: str) -> str | None:
        """The class (``db.r6g.large``) of an RDS instance; None when there is no such instance."""
        ...


class AlertStates(Protocol):
    """Dedup state per series key, written conditionally so overlapping runs cannot both alert."""

    def load(self) -> dict[str, AlertState]: ...

    def claim(self, key: str, expected: AlertState | None, new: AlertState, *, expires_at: int) -> bool:
        """Store ``new`` only if the stored state is still ``expected`` (None: absent); False if it is not."""
        ...

    def release(self, key: str, claimed: AlertState, previous: AlertState | None, *, expires_at: int) -> None:
        """Undo a claim whose alert could not be sent (back to ``previous``; None: remove the item), only if
        the stored state is still ``claimed``."""
        ...


class ReportStore(Protocol):
    def put(self, key: str, body: str, content_type: str) -> str:
        """Store ``body`` (UTF-8) under ``key`` in the ops bucket (SSE-KMS); returns ``s3://bucket/key``."""
        ...
