"""The ``alarms`` context: the alarm router: routing table, actions, severity topics."""
from __future__ import annotations

from infra_cdk.context_types import _Strict


class AlarmsContext(_Strict):
    """The alarm router: routing table, actions, severity topics."""

    def lambda_environment(self) -> dict[str, str]:
        return {}
