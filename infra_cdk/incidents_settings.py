"""The ``incidents`` context: incidents: grouping window, escalation, auto-resolve, postmortems."""
from __future__ import annotations

from infra_cdk.context_types import _Strict


class IncidentsContext(_Strict):
    """Incidents: grouping window, escalation, auto-resolve, postmortems."""

    def lambda_environment(self) -> dict[str, str]:
        return {}
