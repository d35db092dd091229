"""Route one alarm state change: pick the first matching route, run its actions in order, once each.

Each action runs under the idempotency ledger keyed by ``<event id>:<route>:<index>:<action>``: a redelivery
of the same event replays the stored outcomes of the actions that succeeded and re-runs only the failed
ones. A failed action does not stop the others; the caller raises afterwards so the event is retried.
"""
from __future__ import annotations

from collections.abc import Callable

from churnguard_ops.alarms.actions import ROUTER_ACTIONS, ActionContext, ActionTargets
from churnguard_ops.alarms.incidents import RecordActionsAnswer, checked, incidents_function, record_actions
from churnguard_ops.alarms.model import ActionOutcome, AlarmChange, AlarmMeta, RouteResult
from churnguard_ops.alarms.ports import ActionLedger, AlarmTags, ExecutionStarter, FunctionInvoker, TopicPublisher
from churnguard_ops.alarms.routes import Route, RoutingTable
from churnguard_ops.core import contracts
from churnguard_ops.core.errors import NotFound, OpsError
from churnguard_ops.core.ports import MetricsSink

DEFAULT_SEVERITY = "warning"
DEFAULT_TEAM = "platform"


class ActionsFailed(OpsError):
    """At least one action failed after its retries: the event is retried (then the DLQ)."""


class Router:
    def __init__(self, *, table: RoutingTable, targets: ActionTargets, tags: AlarmTags, lambdas: FunctionInvoker,
                 executions: ExecutionStarter, topics: TopicPublisher, ledger: ActionLedger,
                 metrics: MetricsSink) -> None:
        self.table = table
        self.targets = targets
        self.tags = tags
        self.lambdas = lambdas
        self.executions = executions
        self.topics = topics
        self.ledger = ledger
        self.metrics = metrics

    def route(self, change: AlarmChange) -> RouteResult:
        try:
            tags = self.tags.tags(change.arn)
        except NotFound:  # deleted since it changed state: route on its name alone
            tags = {}
        route = self.table.first_match(change, tags)
        result = RouteResult(event_id=change.event_id, alarm=change.name, state=change.state,
                             route=route.name if route else None)
        if route is None:
            return result
        ctx = ActionContext(change=change, meta=alarm_meta(change, tags, route), route=route.name,
                            targets=self.targets, lambdas=self.lambdas, executions=self.executions,
                            topics=self.topics)
        for index, spec in route.actions_for(change.state):
            outcome = self._run_once(ctx, f"{change.event_id}:{route.name}:{index}:{spec.action}", spec.action,
                                     spec.params)
            result.outcomes.append(outcome)
            if spec.action == "open_incident" and outcome.data.get("incident_id"):
                result.incident_id = str(outcome.data["incident_id"])
        if result.incident_id:
            others = [o for o in result.outcomes if o.action != "open_incident"]
            if others:
                result.outcomes.append(self._record(change, result.incident_id, route.name, others))
        return result

    def _run_once(self, ctx: ActionContext, key: str, action: str, params: dict[str, object]) -> ActionOutcome:
        plugin = ROUTER_ACTIONS.lookup(action)()
        validated = ROUTER_ACTIONS.validate(action, params)

        def run() -> dict[str, object]:
            done = plugin.run(ctx, validated)
            return {"detail": done.detail, "skipped": done.skipped, "data": done.data}

        return self._guarded(action, key, run)

    def _record(self, change: AlarmChange, incident_id: str, route: str,
                outcomes: list[ActionOutcome]) -> ActionOutcome:
        def run() -> dict[str, object]:
            answer = RecordActionsAnswer.model_validate(checked(self.lambdas.invoke(
                incidents_function(self.targets.prefix), record_actions(incident_id, change.event_id, outcomes))))
            return {"detail": f"recorded {answer.recorded} action(s) on {answer.incident_id}", "skipped": False,
                    "data": {}}

        # Keyed by what is recorded: a retry that re-ran a failed action records its new outcome.
        fingerprint = ",".join(f"{o.action}={'ok' if o.ok else 'failed'}" for o in outcomes)
        return self._guarded("record_actions", f"{change.event_id}:{route}:record:{fingerprint}", run)

    def _guarded(self, action: str, key: str, run: Callable[[], dict[str, object]]) -> ActionOutcome:
        try:
            stored, replayed = self.ledger.once(key, run)
            outcome = ActionOutcome(action=action, ok=True, detail=str(stored["detail"]),
                                    skipped=bool(stored.get("skipped")), replayed=replayed,
                                    data=dict(stored.get("data") or {}))
        except Exception as exc:  # noqa: BLE001 - one action's failure must not stop the others
            outcome = ActionOutcome(action=action, ok=False, detail=f"{type(exc).__name__}: {exc}"[:1000])
        label = "Replayed" if outcome.replayed else "Skipped" if outcome.skipped else "Succeeded" if outcome.ok \
            else "Failed"
        self.metrics.put("RouterActions", 1, "Count", {"Action": action, "Outcome": label})
        return outcome


def alarm_meta(change: AlarmChange, tags: dict[str, str], route: Route) -> AlarmMeta:
    """The alarm's own tags, overridden by its route; an unknown severity tag falls back to the default."""
    tagged = tags.get(contracts.ALARM_SEVERITY_TAG, "").lower()
    severity = route.severity or (tagged if tagged in contracts.ALARM_SEVERITIES else DEFAULT_SEVERITY)
    return AlarmMeta(severity=severity,
                     team=route.team or tags.get(contracts.ALARM_TEAM_TAG) or DEFAULT_TEAM,
                     runbook_url=route.runbook_url or tags.get(contracts.ALARM_RUNBOOK_TAG) or "",
                     group=route.group or tags.get(contracts.ALARM_GROUP_TAG) or change.name)
