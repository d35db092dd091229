"""The ``monitoring`` context: the seed's alerting rules as CloudWatch alarms, and the dashboards."""
from __future__ import annotations

from infra_cdk.context_types import _Strict


class MonitoringContext(_Strict):
    """The seed's alerting rules as CloudWatch alarms, and the dashboards."""

    def lambda_environment(self) -> dict[str, str]:
        return {}
