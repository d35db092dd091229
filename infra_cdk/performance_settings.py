"""The ``performance`` context: which metrics to watch, their thresholds, and the schedules."""
from __future__ import annotations

from infra_cdk.context_types import _Strict


class PerformanceContext(_Strict):
    """Performance alerts and reports."""

    def lambda_environment(self) -> dict[str, str]:
        return {}
