"""The alarm router on fakes: matching, order, metadata, idempotency, partial failure and retry."""
from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from churnguard_ops.alarms.actions import ActionTargets
from churnguard_ops.alarms.events import AlarmStateChangeEvent
from churnguard_ops.alarms.incidents import AlarmStateChangeCommand, RecordActionsCommand
from churnguard_ops.alarms.routes import Route, RoutingTable
from churnguard_ops.alarms.service import Router
from churnguard_ops.core.fakes import RecordingMetrics
from infra_cdk.alarms_settings import DEFAULT_ROUTES, AlarmsContext
from tests.events import load_event
from tests.unit.alarms_fakes import FakeAlarmTags, FakeExecutions, FakeInvoker, FakeTopics, MemoryLedger, throttled

PREFIX = "churnguard-ops"
TOPICS = {s: f"arn:aws:sns:us-east-1:123456789012:{PREFIX}-alerts-{s}" for s in ("critical", "warning", "info")}
APP_TAGS = {"Severity": "critical", "Team": "platform", "Runbook": "https://runbooks.example.com/high-error-rate",
            "IncidentGroup": "api"}
INCIDENTS = f"{PREFIX}-incidents"


def change(sample: str, **overrides: Any):
    return AlarmStateChangeEvent.model_validate(load_event(f"alarms/{sample}", **overrides)).change()


def incidents_answer(payload: dict[str, Any]) -> dict[str, Any]:
    if payload["command"] == "alarm_state_change":
        return {"incident_id": "inc-20261130-100000-3d0b2f1e", "outcome": "opened", "status": "open"}
    return {"incident_id": payload["incident_id"], "recorded": len(payload["actions"])}


class World:
    def __init__(self, routes: list[dict[str, Any]] | None = None, tags: dict[str, str] | None = None,
                 missing: set[str] | None = None) -> None:
        self.tags = FakeAlarmTags({load_event("alarms/state-change-alarm.json")["resources"][0]: tags or APP_TAGS})
        self.lambdas = FakeInvoker({INCIDENTS: incidents_answer}, missing=missing)
        self.executions = FakeExecutions()
        self.topics = FakeTopics()
        self.ledger = MemoryLedger()
        self.metrics = RecordingMetrics()
        table = RoutingTable.model_validate({"routes": routes if routes is not None else DEFAULT_ROUTES})
        self.router = Router(table=table, targets=ActionTargets(
            prefix=PREFIX, topic_arns=TOPICS,  # type: ignore[arg-type]
            drill_state_machine_arn=f"arn:aws:states:us-east-1:123456789012:stateMachine:{PREFIX}-restore-drill"),
            tags=self.tags, lambdas=self.lambdas, executions=self.executions, topics=self.topics, ledger=self.ledger,
            metrics=self.metrics)


def test_application_alarm_notifies_its_severity_topic_then_opens_an_incident_and_records_the_notification():
    world = World()
    result = world.router.route(change("state-change-alarm.json"))
    assert result.route == "application"
    assert [o.action for o in result.outcomes] == ["notify", "open_incident", "record_actions"]
    assert all(o.ok for o in result.outcomes)
    (topic, subject, message), = world.topics.messages
    assert topic == TOPICS["critical"] and subject == "[CRITICAL] churnguard-HighErrorRate is ALARM"
    assert "https://runbooks.example.com/high-error-rate" in message and "5 out of the last 5" in message
    opened, recorded = world.lambdas.called(INCIDENTS)
    assert AlarmStateChangeCommand.model_validate(opened).alarm.group == "api"
    record = RecordActionsCommand.model_validate(recorded)
    assert record.incident_id == "inc-20261130-100000-3d0b2f1e"
    assert [(a.action, a.ok) for a in record.actions] == [("notify", True)]


def test_ok_state_change_reaches_the_incident_but_notify_stays_quiet_by_default():
    world = World()
    result = world.router.route(change("state-change-ok.json"))
    assert [o.action for o in result.outcomes] == ["open_incident"]
    assert world.topics.messages == []
    assert world.lambdas.called(INCIDENTS)[0]["alarm"]["state"] == "OK"


def test_first_matching_route_wins_even_when_a_later_one_matches_too():
    routes = [{"name": "specific", "match": {"names": ["churnguard-HighErrorRate"]},
               "actions": [{"action": "notify", "params": {"severity": "info"}}]},
              {"name": "broad", "match": {"names": ["churnguard-*"]}, "actions": [{"action": "open_incident"}]}]
    world = World(routes=routes)
    result = world.router.route(change("state-change-alarm.json"))
    assert result.route == "specific"
    assert [o.action for o in result.outcomes] == ["notify"]
    assert world.topics.messages[0][0] == TOPICS["info"]
    assert world.lambdas.calls == []


def test_tag_globs_must_all_match_and_an_unrouted_alarm_does_nothing():
    routes = [{"name": "compliance", "match": {"tags": {"Team": "compliance", "Severity": "*"}},
               "actions": [{"action": "notify"}]}]
    world = World(routes=routes)
    result = world.router.route(change("state-change-alarm.json"))
    assert result.route is None and result.outcomes == []


def test_route_overrides_win_over_the_alarms_tags():
    routes = [{"name": "r", "match": {"names": ["*"]}, "severity": "info", "team": "sre", "group": "g",
               "actions": [{"action": "notify"}]}]
    world = World(routes=routes)
    world.router.route(change("state-change-alarm.json"))
    topic, _, message = world.topics.messages[0]
    assert topic == TOPICS["info"] and "Team:     sre" in message and "Group:    g" in message


def test_same_event_delivered_twice_acts_once():
    world = World()
    world.router.route(change("state-change-alarm.json"))
    again = world.router.route(change("state-change-alarm.json"))
    assert len(world.topics.messages) == 1
    assert len(world.lambdas.called(INCIDENTS)) == 2  # open + record, once each
    assert all(o.ok and o.replayed for o in again.outcomes)


def test_failed_action_does_not_stop_the_others_and_only_it_reruns_on_retry():
    world = World()
    world.topics.failures.append(throttled("publish"))
    first = world.router.route(change("state-change-alarm.json"))
    assert [(o.action, o.ok) for o in first.outcomes] == [("notify", False), ("open_incident", True),
                                                          ("record_actions", True)]
    assert "Throttled" in first.outcomes[0].detail
    assert world.lambdas.called(INCIDENTS)[1]["actions"] == [
        {"action": "notify", "ok": False, "detail": first.outcomes[0].detail}]
    assert world.metrics.value("RouterActions", Action="notify", Outcome="Failed") == 1

    retry = world.router.route(change("state-change-alarm.json"))
    assert [(o.action, o.ok, o.replayed) for o in retry.outcomes] == [
        ("notify", True, False), ("open_incident", True, True), ("record_actions", True, False)]
    assert len(world.topics.messages) == 1
    opened = [p for p in world.lambdas.called(INCIDENTS) if p["command"] == "alarm_state_change"]
    assert len(opened) == 1


def test_restorable_lag_alarm_requests_an_on_demand_backup_of_its_instance_then_notifies():
    world = World()
    result = world.router.route(change("state-change-restorable-lag.json"))
    assert result.route == "backup-restorable-lag"
    assert [o.action for o in result.outcomes] == ["start_backup", "notify"]
    (kind, name, event), = world.lambdas.calls
    assert (kind, name) == ("async", f"{PREFIX}-backup")
    assert event["detail"] == {"policy": "database", "db_instance_ids": ["churnguard-prod"], "on_demand": True}
    assert world.topics.messages[0][0] == TOPICS["critical"]


def test_backup_event_the_router_sends_is_one_the_backup_function_accepts():
    from churnguard_ops.backup.events import BackupTick

    world = World()
    world.router.route(change("state-change-restorable-lag.json"))
    assert BackupTick.model_validate(world.lambdas.calls[0][2]).detail.on_demand


def test_canary_gate_aborts_the_release_of_the_alarms_function():
    world = World(tags={})
    world.tags.by_arn[load_event("alarms/state-change-canary-gate.json")["resources"][0]] = {"CanaryGate": "true"}
    world.lambdas.answers[f"{PREFIX}-canary-abort"] = {"aborted": [{"release_id": "rel-1"}]}
    result = world.router.route(change("state-change-canary-gate.json"))
    assert result.outcomes[0].action == "abort_release" and result.outcomes[0].detail == "rolled back rel-1"
    payload = world.lambdas.called(f"{PREFIX}-canary-abort")[0]
    assert payload["abort_release"]["function_name"] == "churnguard-api"
    assert payload["abort_release"]["reason"].startswith("alarm churnguard-api-5xx went to ALARM: Threshold")


def test_abort_release_is_skipped_where_the_canary_is_not_deployed():
    world = World(tags={}, missing={f"{PREFIX}-canary-abort"})
    world.tags.by_arn[load_event("alarms/state-change-canary-gate.json")["resources"][0]] = {"CanaryGate": "true"}
    result = world.router.route(change("state-change-canary-gate.json"))
    assert result.outcomes[0].ok and result.outcomes[0].skipped
    assert result.outcomes[0].detail == "skipped: canary not deployed"


def test_start_drill_and_start_execution_name_the_execution_after_the_event():
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:cleanup"
    routes = [{"name": "r", "match": {"names": ["*"]},
               "actions": [{"action": "start_drill"},
                           {"action": "start_execution", "params": {"state_machine_arn": arn, "input": {"x": 1}}}]}]
    world = World(routes=routes)
    result = world.router.route(change("state-change-alarm.json"))
    assert all(o.ok for o in result.outcomes)
    started = {name: value for name, value in world.executions.started.items()}
    assert started["alarm-drill-3d0b2f1e-5a7c-4e1b-9f2d-8c6a4b3e2d10"][1] == {"mode": "latest"}
    assert started["alarm-exec-3d0b2f1e-5a7c-4e1b-9f2d-8c6a4b3e2d10"] == (arn, {"x": 1})


def test_incidents_error_answer_is_a_failed_action():
    world = World()
    world.lambdas.answers[INCIDENTS] = {"error": "unknown command"}
    result = world.router.route(change("state-change-alarm.json"))
    assert [(o.action, o.ok) for o in result.outcomes] == [("notify", True), ("open_incident", False)]
    assert "unknown command" in result.outcomes[1].detail


@pytest.mark.parametrize("routes, message", [
    ([{"name": "r", "match": {"names": ["*"]}, "actions": [{"action": "notfy"}]}], "unknown router_action 'notfy'"),
    ([{"name": "r", "match": {"names": ["*"]}, "actions": [{"action": "notify", "params": {"sev": "x"}}]}],
     "invalid params for notify"),
    ([{"name": "r", "match": {}, "actions": [{"action": "notify"}]}], "matches by names and/or tags"),
    ([{"name": "r", "match": {"names": ["*"]}, "actions": []}], "at least 1 item"),
    ([{"name": "r", "match": {"names": ["*"]}, "actions": [{"action": "notify"}]}] * 2, "route names must be unique"),
    ([{"name": "r", "match": {"names": ["*"], "states": ["FIRING"]}, "actions": [{"action": "notify"}]}],
     "match.states.0"),
    ([{"name": "r", "match": {"names": ["*"]},
       "actions": [{"action": "start_execution", "params": {"state_machine_arn": "arn:aws:states:*"}}]}],
     "state_machine_arn"),
])
def test_a_typo_in_the_routing_table_fails_validation_naming_it(routes, message):
    with pytest.raises(ValidationError, match=message.replace(".", r"\.").replace("'", ".")):
        AlarmsContext.model_validate({"routes": routes})


def test_default_routes_grant_exactly_their_actions_permissions():
    ctx = AlarmsContext()
    assert ctx.actions() == {"start_backup", "notify", "abort_release", "open_incident"}
    assert ctx.permissions() == {"sns:Publish", "lambda:InvokeFunction"}


def test_contract_examples_parse_as_the_routers_models():
    from churnguard_ops.alarms.incidents import AlarmStateChangeAnswer, RecordActionsAnswer

    command = {"command": "alarm_state_change", "event_id": "3d0b2f1e-...-EventBridge-event-id",
               "alarm": {"name": "churnguard-HighErrorRate",
                         "arn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:churnguard-HighErrorRate",
                         "state": "ALARM", "previous_state": "OK", "reason": "Threshold Crossed: ...",
                         "time": "2026-11-30T10:00:00.000+0000", "severity": "critical", "team": "platform",
                         "runbook_url": "https://runbooks.example.com/high-error-rate", "group": "api"}}
    assert AlarmStateChangeCommand.model_validate(command).model_dump() == command
    record = {"command": "record_actions", "incident_id": "inc-1", "event_id": "e",
              "actions": [{"action": "notify", "ok": True, "detail": "published to churnguard-ops-alerts-critical"},
                          {"action": "start_backup", "ok": False, "detail": "Throttled: ..."}]}
    assert RecordActionsCommand.model_validate(record).model_dump() == record
    assert AlarmStateChangeAnswer.model_validate(
        {"incident_id": "inc-20261130-100000-3d0b2f1e", "outcome": "attached", "status": "open"}).outcome == "attached"
    assert RecordActionsAnswer.model_validate({"incident_id": "inc-1", "recorded": 2}).recorded == 2
    assert Route.model_validate(DEFAULT_ROUTES[0]).name == "backup-restorable-lag"
