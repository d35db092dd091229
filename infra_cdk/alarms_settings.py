"""The ``alarms`` context: the alarm router: routing table, actions, severity topics."""
from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from churnguard_ops.alarms.actions import ROUTER_ACTIONS
from churnguard_ops.alarms.routes import Route, RoutingTable
from churnguard_ops.core import contracts
from infra_cdk.context_types import _Strict

#: First match wins, so the specific routes come first. Backup lag: ``<prefix>-backup-restorable-lag-<db>``
#: (infra_cdk/stacks/backup_alarms.py); canary gates carry the ``CanaryGate=true`` tag; the seed's application
#: alarms carry Severity/Team/Runbook/IncidentGroup tags.
DEFAULT_ROUTES: list[dict[str, Any]] = [
    {"name": "backup-restorable-lag", "match": {"names": ["*-backup-restorable-lag-*"]},
     "severity": "critical", "team": "platform", "group": "backups",
     "actions": [{"action": "start_backup"}, {"action": "notify"}]},
    {"name": "canary-gates", "match": {"tags": {contracts.ALARM_CANARY_GATE_TAG: "true"}},
     "actions": [{"action": "abort_release"}, {"action": "notify"}]},
    {"name": "application", "match": {"names": ["churnguard-*"], "tags": {contracts.ALARM_SEVERITY_TAG: "*"}},
     "actions": [{"action": "notify"}, {"action": "open_incident"}]},
]


class AlarmsContext(_Strict):
    """The alarm router: routing table, actions, severity topics."""

    # Ordered; the first route matching an alarm state change handles it (validated here: a typo fails synth).
    routes: list[Route] = Field(default_factory=lambda: [Route.model_validate(r) for r in DEFAULT_ROUTES])
    # How long an event id is remembered (a redelivery later than this acts again).
    idempotency_hours: int = Field(24, ge=1, le=24 * 14)
    # Give up on an event this old (EventBridge and Lambda async retries); then the DLQ.
    max_event_age_minutes: int = Field(60, ge=1, le=360)

    def model_post_init(self, __context: Any) -> None:
        RoutingTable(routes=list(self.routes))  # unique route names

    def actions(self) -> set[str]:
        return {spec.action for route in self.routes for spec in route.actions}

    def permissions(self) -> set[str]:
        return ROUTER_ACTIONS.permissions(sorted(self.actions()))

    def state_machine_arns(self) -> list[str]:
        """The ARNs ``start_execution`` routes name (StartExecution is granted on exactly these)."""
        return sorted({str(spec.params["state_machine_arn"]) for route in self.routes for spec in route.actions
                       if spec.action == "start_execution"})

    def lambda_environment(self) -> dict[str, str]:
        routes = [r.model_dump(mode="json", exclude_none=True) for r in self.routes]
        return {"ALARMS_ROUTES": json.dumps(routes, separators=(",", ":")),
                "ALARMS_IDEMPOTENCY_TTL_SECONDS": str(self.idempotency_hours * 3600)}
