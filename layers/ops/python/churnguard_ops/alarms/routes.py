"""The routing table: ordered routes matching alarms by name glob, tags and state, each with ordered actions.

The FIRST route that matches an alarm state change wins (like a firewall's rule list): a route list reads
top to bottom, and an alarm is handled by exactly one route, so its actions run once each. Put specific
routes (one alarm, a tag) before broad ones (``churnguard-*``). Validated at ``cdk synth`` and at run time.
"""
from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from churnguard_ops.alarms.actions import ROUTER_ACTIONS
from churnguard_ops.alarms.model import AlarmChange, AlarmState, Severity
from churnguard_ops.core.registry import PluginSpecError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RouteMatch(_Strict):
    """All given criteria must hold: a name glob (any of ``names``), every tag (value glob), the state."""

    names: list[str] = Field(default_factory=list, description="alarm name globs (fnmatch, case-sensitive)")
    tags: dict[str, str] = Field(default_factory=dict, description="tag -> value glob ('*': the tag is set)")
    states: list[AlarmState] | None = Field(
        None, description="states the route takes; null: any state one of its actions runs on")

    @model_validator(mode="after")
    def _says_something(self) -> RouteMatch:
        if not self.names and not self.tags:
            raise ValueError("a route matches by names and/or tags (use names: ['*'] for every alarm)")
        return self


class ActionSpec(_Strict):
    action: str
    params: dict[str, Any] = Field(default_factory=dict)
    states: list[AlarmState] | None = Field(None, description="null: the action's default states")

    @model_validator(mode="after")
    def _registered_with_valid_params(self) -> ActionSpec:
        try:
            ROUTER_ACTIONS.validate(self.action, self.params)
        except PluginSpecError as exc:
            raise ValueError(str(exc)) from None
        return self

    def runs_on(self) -> list[AlarmState]:
        return list(self.states) if self.states is not None else list(ROUTER_ACTIONS.lookup(self.action).states)


class Route(_Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    match: RouteMatch
    actions: list[ActionSpec] = Field(min_length=1)
    # Overrides of the alarm's own tags (Severity, Team, Runbook, IncidentGroup).
    severity: Severity | None = None
    team: str | None = None
    runbook_url: str | None = None
    group: str | None = None

    def matches(self, change: AlarmChange, tags: dict[str, str]) -> bool:
        if self.match.names and not any(fnmatchcase(change.name, glob) for glob in self.match.names):
            return False
        for key, glob in self.match.tags.items():
            if key not in tags or not fnmatchcase(tags[key], glob):
                return False
        states = self.match.states if self.match.states is not None else \
            {s for spec in self.actions for s in spec.runs_on()}
        return change.state in states

    def actions_for(self, state: AlarmState) -> list[tuple[int, ActionSpec]]:
        """(index in the route, spec) of the actions that run on ``state``; the index keys idempotency."""
        return [(i, spec) for i, spec in enumerate(self.actions) if state in spec.runs_on()]


class RoutingTable(_Strict):
    routes: list[Route] = Field(default_factory=list)

    @field_validator("routes")
    @classmethod
    def _unique_names(cls, routes: list[Route]) -> list[Route]:
        names = [r.name for r in routes]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"route names must be unique: {', '.join(duplicates)}")
        return routes

    def first_match(self, change: AlarmChange, tags: dict[str, str]) -> Route | None:
        return next((route for route in self.routes if route.matches(change, tags)), None)

    def actions(self) -> set[str]:
        return {spec.action for route in self.routes for spec in route.actions}
