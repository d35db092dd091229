"""privilege_escalation: a user's role changed to an administrative one."""
from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from churnguard_ops.core.registry import PluginParams
from churnguard_ops.security.model import Event

from .base import DETECTORS, Detector, DetectorContext, Finding


class PrivilegeEscalationParams(PluginParams):
    event_type: str = Field(default="role_changed", min_length=1)
    roles: list[str] = Field(default_factory=lambda: ["admin", "super_admin"], min_length=1,
                             description="roles whose grant alerts (compared case-insensitively)")
    allow_actors: list[str] = Field(default_factory=list,
                                    description="user ids whose grants never alert (the provisioning service)")


@DETECTORS.register
class PrivilegeEscalation(Detector):
    """A ``role_changed`` event whose ``details.new_role`` is one of ``roles`` (admin, super_admin).

    Stateless: every such event qualifies. Entity: the user who received the role,
    ``details.target_user_id`` when the event names one, else the event's ``user_id``; the actor (the
    event's ``user_id``) and ``details.old_role`` are in the context. A grant by a user in
    ``allow_actors`` does not alert.

    Example::

        {"detector": "privilege_escalation", "params": {"roles": ["admin", "super_admin", "owner"]}}
    """

    name = "privilege_escalation"
    Params: ClassVar[type[PluginParams]] = PrivilegeEscalationParams
    severity = "high"
    recommended_action = "Confirm the role change with the organization's owner; revert it if unexpected"
    permissions: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: PluginParams | dict[str, Any] | None = None) -> None:
        super().__init__(params)
        assert isinstance(self.params, PrivilegeEscalationParams)
        self.event_type = self.params.event_type
        self.roles = frozenset(r.strip().lower() for r in self.params.roles)
        self.allowed = frozenset(self.params.allow_actors)

    def applies(self, event: Event) -> bool:
        return event.type == self.event_type and event.kind == "app"

    def evaluate(self, event: Event, ctx: DetectorContext) -> list[Finding]:
        role = event.details.get("new_role")
        if not isinstance(role, str) or role.strip().lower() not in self.roles or event.user_id in self.allowed:
            return []
        target = event.details.get("target_user_id") or event.user_id
        if not target:
            return []
        return [Finding(entity=str(target), event_id=event.event_id, time=event.time,
                        organization_id=event.organization_id,
                        context={"new_role": role, "old_role": event.details.get("old_role"),
                                 "actor": event.user_id})]
