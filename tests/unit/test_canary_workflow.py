"""The canary use cases on fakes: what each task decides and what it does to the alias and the lock."""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from churnguard_ops.canary.decisions import PublishedDecisionLog
from churnguard_ops.canary.errors import (
    AlarmAlreadyFiring,
    AliasChanged,
    ReleaseInProgress,
    SmokeTestFailed,
    ValidationFailed,
)
from churnguard_ops.canary.model import ReleaseRequest, ReleaseState, Verdict
from churnguard_ops.canary.ports import LockEntry, SmokeResponse
from churnguard_ops.canary.workflow import CanaryWorkflow
from churnguard_ops.core import contracts
from churnguard_ops.core.errors import Throttled
from churnguard_ops.core.fakes import MemoryDocuments, RecordingEvents
from tests.unit.canary_fakes import (
    T0,
    FakeAlarms,
    FakeAliases,
    FakeCloudWatch,
    FakeSmoke,
    MemoryDecisionLog,
    MemoryLock,
    RecordingExecutions,
)

FN, ALIAS = "churnguard-api", "live"


class World:
    def __init__(self) -> None:
        self.now = T0
        self.aliases = FakeAliases()
        self.aliases.add_function(FN, versions=8, alias=ALIAS, alias_version="7")
        self.cloudwatch = FakeCloudWatch()
        self.smoke = FakeSmoke()
        self.alarms = FakeAlarms()
        self.decisions = MemoryDecisionLog()
        self.lock = MemoryLock()
        self.events = RecordingEvents()
        self.executions = RecordingExecutions()
        self.flow = CanaryWorkflow(self.aliases, self.cloudwatch, self.smoke, self.alarms, self.decisions, self.lock,
                                   self.events, clock=lambda: self.now, executions=self.executions)

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def healthy(self, canary_invocations: float = 500) -> None:
        self.cloudwatch.set("8", invocations=canary_invocations, errors=0, p99_ms=300, business=canary_invocations)
        self.cloudwatch.set("7", invocations=5000, errors=5, p99_ms=320, business=5000)

    def routing(self) -> tuple[str, dict[str, float]]:
        current = self.aliases.routing(FN, ALIAS)
        return current.version, current.weights


def request(**changes: Any) -> ReleaseRequest:
    return ReleaseRequest.model_validate({"function_name": FN, "alias": ALIAS, "new_version": "8",
                                          "bake": {"min_seconds": 300, "min_invocations": 100,
                                                   "max_wait_seconds": 900}, **changes})


@pytest.fixture
def world() -> World:
    return World()


def started(world: World, **changes: Any) -> ReleaseState:
    state = world.flow.smoke(world.flow.validate(request(**changes)))
    return world.flow.shift(state)


# -- validate ---------------------------------------------------------------------------------
def test_validate_takes_the_lock_and_remembers_the_stable_version(world: World) -> None:
    state = world.flow.validate(request())
    assert (state.stable_version, state.action, state.step_index, state.weight) == ("7", "smoke", -1, 0)
    assert state.release_id == "churnguard-api-live-v8-20261128T100000Z"
    assert world.lock.holder(f"{FN}:{ALIAS}").release_id == state.release_id  # type: ignore[union-attr]
    assert world.events.events[0][0] == "Canary Release Started"


def test_a_retried_validate_of_one_execution_finds_its_own_lock(world: World) -> None:
    execution = "arn:aws:states:us-east-1:123456789012:execution:canary:release-42"
    first = world.flow.validate(request(execution_id=execution))
    world.tick(5)
    again = world.flow.validate(request(execution_id=execution))
    assert first.release_id == again.release_id == "release-42"


def test_a_second_release_of_the_alias_is_refused_naming_the_running_one(world: World) -> None:
    first = world.flow.validate(request())
    with pytest.raises(ReleaseInProgress, match=first.release_id):
        world.flow.validate(request(release_id="another"))


@pytest.mark.parametrize(("changes", "message"), [
    ({"new_version": "7"}, "new_version: 7 is already the version of churnguard-api:live"),
    ({"new_version": "9"}, "new_version: 9 is not a published version of churnguard-api"),
    ({"alias": "prod"}, "function_name/alias: churnguard-api:prod not found"),
    ({"alarms": ["api-errors", "missing"]}, r"alarms: not found: \['missing'\]"),
])
def test_validate_refuses_what_cannot_be_released(world: World, changes: dict, message: str) -> None:
    world.alarms.set("api-errors", "OK")
    with pytest.raises(ValidationFailed, match=message):
        world.flow.validate(request(**changes))
    assert world.lock.entries == {}


def test_an_alias_that_already_splits_traffic_is_refused(world: World) -> None:
    world.aliases.set_routing(FN, ALIAS, "7", {"6": 20.0})
    with pytest.raises(ValidationFailed, match="already splits traffic"):
        world.flow.validate(request())


def test_a_pre_existing_alarm_blocks_by_default_and_is_reported_when_ignored(world: World) -> None:
    world.alarms.set("api-errors", "ALARM", T0 - timedelta(hours=1))
    with pytest.raises(AlarmAlreadyFiring, match=r"\['api-errors'\] already in ALARM"):
        world.flow.validate(request(alarms=["api-errors"]))
    state = world.flow.validate(request(alarms=["api-errors"], pre_existing_alarm="ignore"))
    assert state.preexisting_alarms == ["api-errors"]


def test_json_entry_point_turns_bad_input_into_validation_failed(world: World) -> None:
    with pytest.raises(ValidationFailed,
                       match=r"^steps: Value error, steps must end at 100.*\(invalid release request\)"):
        world.flow.task("validate", {"function_name": FN, "alias": ALIAS, "new_version": "8", "steps": [10]})


# -- smoke ------------------------------------------------------------------------------------
def test_smoke_invokes_the_new_version_and_checks_expectations(world: World) -> None:
    state = world.flow.validate(request(smoke_events=[
        {"name": "predict", "payload": {"case": "ok"}, "expect": {"field_equals": {"body.label": "stay"}}}]))
    after = world.flow.smoke(state)
    assert world.smoke.calls == [(FN, "8", {"case": "ok"})]
    assert after.action == "advance" and after.smoke[0]["passed"]
    assert world.routing() == ("7", {})


def test_a_failed_smoke_event_raises_naming_it_and_rollback_releases_the_lock(world: World) -> None:
    world.smoke.responses["bad"] = SmokeResponse(status="error", body='{"errorMessage": "boom"}',
                                                 function_error="Unhandled")
    state = world.flow.validate(request(smoke_events=[{"name": "predict", "payload": {"case": "bad"}}]))
    with pytest.raises(SmokeTestFailed, match="smoke event 'predict' on version 8: status error .*Unhandled"):
        world.flow.smoke(state)
    caught = state.model_copy(update={"error": {"Error": "SmokeTestFailed",
                                                "Cause": json.dumps({"errorMessage": "predict failed"})}})
    done = world.flow.rollback(caught)
    assert (done.outcome, done.reason) == ("rolled_back", "SmokeTestFailed: predict failed")
    assert world.aliases.writes == [] and world.lock.entries == {}


# -- shift and evaluate -----------------------------------------------------------------------
def test_shift_moves_the_alias_to_the_next_weight(world: World) -> None:
    state = started(world)
    assert (state.step_index, state.weight, state.action, state.wait_seconds) == (0, 10, "bake", 60)
    assert world.routing() == ("7", {"8": 10.0})


def test_evaluate_keeps_baking_until_time_and_samples_then_advances(world: World) -> None:
    state = started(world)
    world.healthy()
    world.tick(120)
    state = world.flow.evaluate(state)
    assert state.action == "bake" and world.decisions.records == []
    world.tick(200)
    state = world.flow.evaluate(state)
    assert state.action == "advance" and state.last_decision and state.last_decision.verdict == Verdict.PASS
    state = world.flow.shift(state)
    assert world.routing() == ("7", {"8": 25.0}) and state.step_index == 1


@pytest.mark.parametrize(("thresholds", "queries"), [
    ({}, 6),
    ({"business": {"namespace": "ChurnGuard/Api", "name": "PredictionsServed", "dimensions": {"FunctionName": FN}}},
     8),
])
def test_every_evaluation_is_exactly_one_metrics_request_whatever_the_metric_count(
        world: World, thresholds: dict, queries: int) -> None:
    state = started(world, thresholds=thresholds)
    world.healthy()
    for _ in range(3):
        world.tick(60)
        state = world.flow.evaluate(state)
    assert len(world.cloudwatch.calls) == 3
    assert {len(call["queries"]) for call in world.cloudwatch.calls} == {queries}


def test_a_breach_rolls_back_with_the_reason_recorded(world: World) -> None:
    state = started(world)
    world.healthy()
    world.cloudwatch.set("8", invocations=500, errors=50, p99_ms=300)
    world.tick(120)  # enough samples before min time: a breach fails at once
    state = world.flow.evaluate(state)
    assert state.action == "rollback"
    assert "error rate of version 8 is 10.00 % (50 of 500), above the maximum 1 %" in (state.reason or "")
    record = world.decisions.records[-1]
    assert (record.verdict, record.action, record.weight, record.canary.invocations) == (Verdict.FAIL, "rollback", 10,
                                                                                           500)
    done = world.flow.rollback(state)
    assert done.outcome == "rolled_back" and world.routing() == ("7", {}) and world.lock.entries == {}
    assert world.events.events[-1][0] == "Canary Release Rolled Back"


def test_zero_traffic_until_max_wait_is_no_data_and_rolls_back_by_default(world: World) -> None:
    state = started(world)
    world.tick(900)
    state = world.flow.evaluate(state)
    assert state.action == "rollback" and state.last_decision
    assert state.last_decision.verdict == Verdict.NO_DATA


def test_no_data_can_hold_or_extend_once(world: World) -> None:
    held = started(world, on_no_data="hold")
    world.tick(900)
    held = world.flow.evaluate(held)
    assert held.action == "hold" and world.routing() == ("7", {"8": 10.0})
    resumed = world.flow.resume(held)
    assert (resumed.action, resumed.extensions) == ("bake", 1)

    other = World()
    state = started(other, on_no_data="extend")
    other.tick(900)
    state = other.flow.evaluate(state)
    assert (state.action, state.extensions) == ("bake", 1)
    other.tick(900)
    assert other.flow.evaluate(state).action == "rollback"


def test_a_provider_error_rolls_back_or_holds_never_passes(world: World) -> None:
    state = started(world)
    world.healthy()
    world.cloudwatch.failure = "read 6 metrics: ThrottlingException"
    world.tick(600)
    assert world.flow.evaluate(state).action == "rollback"
    held = World()
    held_state = started(held, on_provider_error="hold")
    held.cloudwatch.failure = "boom"
    held.tick(600)
    result = held.flow.evaluate(held_state)
    assert result.action == "hold" and result.last_decision
    assert result.last_decision.verdict == Verdict.PROVIDER_ERROR


def test_an_unreadable_alarm_turns_a_pass_into_a_provider_error(world: World) -> None:
    world.alarms.set("api-errors", "OK")
    state = started(world, alarms=["api-errors"])
    world.healthy()
    world.alarms.failure = Throttled("describe alarms")
    world.tick(400)
    assert world.flow.evaluate(state).last_decision.verdict == Verdict.PROVIDER_ERROR  # type: ignore[union-attr]


def test_a_gating_alarm_in_alarm_fails_the_step(world: World) -> None:
    world.alarms.set("api-errors", "OK")
    state = started(world, alarms=["api-errors"])
    world.healthy()
    world.alarms.set("api-errors", "ALARM", T0 + timedelta(seconds=30))
    world.tick(60)
    state = world.flow.evaluate(state)
    assert state.action == "rollback" and state.reason == "alarm api-errors is in ALARM"


def test_an_ignored_pre_existing_alarm_fails_only_once_it_changes_again(world: World) -> None:
    world.alarms.set("old", "ALARM", T0 - timedelta(hours=2))
    state = started(world, alarms=["old"], pre_existing_alarm="ignore")
    world.healthy()
    world.tick(400)
    assert world.flow.evaluate(state).action == "advance"
    world.alarms.set("old", "ALARM", T0 + timedelta(seconds=350))
    assert world.flow.evaluate(state).action == "rollback"


def test_approval_is_asked_before_the_step_to_100_percent(world: World) -> None:
    state = started(world, steps=[50, 100], approval={"required": True, "timeout_seconds": 600})
    world.healthy()
    world.tick(400)
    state = world.flow.evaluate(state)
    assert state.action == "approve"
    assert world.flow.shift(state).action == "approve"  # no way round it
    state = world.flow.approve(state, "alice")
    assert (state.action, state.approved_by) == ("advance", "alice")
    assert world.flow.shift(state).weight == 100


def test_blue_green_with_approval_asks_right_after_smoke(world: World) -> None:
    state = world.flow.smoke(world.flow.validate(request(steps=[100], approval={"required": True})))
    assert state.action == "approve"


def test_the_full_progression_promotes_after_the_final_bake(world: World) -> None:
    state = started(world, steps=[25, 100], bake={"min_seconds": 300, "min_invocations": 100,
                                                  "max_wait_seconds": 900, "final_bake_seconds": 120})
    world.healthy()
    world.tick(300)
    state = world.flow.evaluate(state)
    state = world.flow.shift(state)
    assert world.routing() == ("8", {}) and state.final and state.action == "bake"
    world.cloudwatch.set("7", invocations=0)  # the stable version gets nothing any more
    world.tick(130)
    state = world.flow.evaluate(state)
    assert state.action == "promote"
    assert world.decisions.records[-1].notes == ["baseline comparison skipped: the stable version has no traffic at "
                                                 "100 %"]
    done = world.flow.promote(state)
    assert (done.action, done.outcome) == ("done", "promoted")
    assert world.routing() == ("8", {}) and world.lock.entries == {}
    assert world.events.events[-1][0] == "Canary Release Promoted"


def test_a_failure_in_the_final_bake_rolls_back_to_the_stable_version(world: World) -> None:
    state = started(world, steps=[100])
    assert world.routing() == ("8", {})
    world.cloudwatch.set("8", invocations=500, errors=100, p99_ms=300)
    world.tick(60)
    state = world.flow.evaluate(state)
    assert state.action == "rollback"
    world.flow.rollback(state)
    assert world.routing() == ("7", {})


def test_final_bake_of_zero_promotes_at_once(world: World) -> None:
    state = started(world, steps=[100], bake={"final_bake_seconds": 0})
    assert state.action == "promote"


# -- concurrency and the alarm path -----------------------------------------------------------
def test_shift_refuses_an_alias_someone_else_moved(world: World) -> None:
    state = world.flow.smoke(world.flow.validate(request()))
    world.aliases.set_routing(FN, ALIAS, "6")
    with pytest.raises(AliasChanged, match="moved outside this release"):
        world.flow.shift(state)


def test_shift_writes_with_the_revision_it_read(world: World) -> None:
    state = world.flow.smoke(world.flow.validate(request()))
    world.aliases.before_write = lambda: world.aliases.set_routing(FN, ALIAS, "7")  # a change in between
    with pytest.raises(AliasChanged, match="PreconditionFailedException"):
        world.flow.shift(state)


ALARM_EVENT = {
    "version": "0", "id": "7e3b0a1c-0000-4000-8000-000000000001", "detail-type": "CloudWatch Alarm State Change",
    "source": "aws.cloudwatch", "account": "123456789012", "time": "2026-11-28T10:05:00Z", "region": "us-east-1",
    "resources": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-errors"],
    "detail": {"alarmName": "api-errors", "state": {"value": "ALARM", "reason": "Threshold Crossed"},
               "previousState": {"value": "OK", "reason": ""}, "configuration": {}},
}


def test_an_alarm_aborts_the_running_release_and_its_own_tasks_stop(world: World) -> None:
    world.alarms.set("api-errors", "OK")
    execution = "arn:aws:states:us-east-1:123456789012:execution:canary:run-1"
    state = started(world, alarms=["api-errors"], execution_id=execution)
    result = world.flow.task("abort", ALARM_EVENT)
    assert [a["release_id"] for a in result["aborted"]] == [state.release_id]
    assert world.routing() == ("7", {}) and world.lock.entries == {}
    assert world.events.events[-1][0] == "Canary Release Aborted"
    assert world.executions.stopped == [("arn:aws:states:us-east-1:123456789012:execution:canary:run-1", "AlarmAbort",
                                         "alarm api-errors went to ALARM: Threshold Crossed")]
    after = world.flow.evaluate(state)
    assert (after.action, after.outcome) == ("aborted", "aborted")
    assert world.flow.shift(after).action == "aborted"
    assert world.routing() == ("7", {})  # the aborted run never re-opens traffic


def test_an_alarm_that_gates_nothing_or_recovers_aborts_nothing(world: World) -> None:
    started(world, alarms=[])
    assert world.flow.task("abort", ALARM_EVENT)["aborted"] == []
    ok = {**ALARM_EVENT, "detail": {**ALARM_EVENT["detail"], "state": {"value": "OK"}}}
    assert "went to OK" in world.flow.task("abort", ok)["ignored"]
    assert world.routing() == ("7", {"8": 10.0})


def test_an_explicit_abort_rolls_back_only_the_named_functions_release_with_the_reason(world: World) -> None:
    from churnguard_ops.canary.events import AbortRelease, abort_trigger

    state = started(world, alarms=[])
    trigger = abort_trigger({"abort_release": {"function_name": "someone-else", "reason": "r"}})
    assert isinstance(trigger, AbortRelease)
    assert world.flow.abort_function(trigger.abort_release)["aborted"] == []
    assert world.routing() == ("7", {"8": 10.0})
    trigger = abort_trigger({"abort_release": {"function_name": FN, "reason": "alarm x went to ALARM: boom"}})
    assert isinstance(trigger, AbortRelease)
    result = world.flow.abort_function(trigger.abort_release)
    assert [(a["release_id"], a["reason"]) for a in result["aborted"]] == [
        (state.release_id, "alarm x went to ALARM: boom")]
    assert world.routing() == ("7", {}) and world.lock.entries == {}
    with pytest.raises(ValueError, match="function_name"):
        abort_trigger({"abort_release": {"reason": "r"}})


def test_rollback_after_another_release_took_the_alias_leaves_it_alone(world: World) -> None:
    world.alarms.set("api-errors", "OK")
    state = started(world, alarms=["api-errors"])
    world.flow.task("abort", ALARM_EVENT)
    world.lock.acquire(LockEntry(key=f"{FN}:{ALIAS}", release_id="someone-else", new_version="6",
                                 stable_version="7", started_at=world.now,
                                 expires_at=world.now + timedelta(hours=1)), world.now)
    world.aliases.set_routing(FN, ALIAS, "7", {"6": 5.0})
    done = world.flow.rollback(state, "late rollback")
    assert done.outcome == "aborted" and world.routing() == ("7", {"6": 5.0})


# -- JSON shapes and the decision log ---------------------------------------------------------
def test_tasks_take_and_return_json_state_whole(world: World) -> None:
    state = world.flow.task("validate", {"function_name": FN, "alias": ALIAS, "new_version": "8",
                                         "execution_id": "arn:aws:states:exec"})
    state = world.flow.task("smoke", {**state, "error": None, "extra_from_sfn": 1})
    state = world.flow.task("shift", state)
    assert (state["action"], state["weight"], state["request"]["steps"]) == ("bake", 10, [10, 25, 50, 75, 100])
    json.dumps(state)
    with pytest.raises(ValidationFailed, match="task: 'deploy'"):
        world.flow.task("deploy", state)


def test_the_published_decision_log_stores_then_announces(world: World) -> None:
    documents, events = MemoryDocuments(), RecordingEvents()
    world.flow.decisions = PublishedDecisionLog(documents, events)
    state = started(world)
    world.healthy()
    world.tick(400)
    state = world.flow.evaluate(state)
    assert state.last_decision and state.last_decision.location
    key = state.last_decision.location.removeprefix("s3://ops-bucket/")
    assert key.startswith(f"{contracts.CANARY_DECISIONS_PREFIX}{FN}/{ALIAS}/{state.release_id}/00-010-")
    document = documents.documents[key]
    assert document["verdict"] == "PASS" and document["canary"]["invocations"] == 500
    assert document["thresholds"]["max_error_rate_pct"] == 1.0
    detail_type, detail = events.events[-1]
    assert detail_type == contracts.CANARY_DECISION_DETAIL_TYPE and detail["record"] == state.last_decision.location


def test_a_second_release_is_refused_naming_the_running_one_even_while_the_alias_is_split(world: World) -> None:
    first = started(world)  # 10 % on version 8: the alias is split
    with pytest.raises(ReleaseInProgress, match=first.release_id):
        world.flow.validate(request(release_id="another-release"))


def test_an_execution_that_ended_holding_the_alias_is_rolled_back_and_its_lock_freed(world: World) -> None:
    from churnguard_ops.canary.events import ExecutionStatusChange
    from tests.events import load_event

    execution = load_event("canary/execution-status-change.json")["detail"]["executionArn"]
    started(world, execution_id=execution)
    assert world.routing() == ("7", {"8": 10.0})
    result = world.flow.execution_ended(ExecutionStatusChange.model_validate(
        load_event("canary/execution-status-change.json")))
    assert [a["execution_id"] for a in result["aborted"]] == [execution]
    assert world.routing() == ("7", {}) and world.lock.entries == {}
    assert world.executions.stopped == [], "an execution that already ended is not stopped again"


def test_an_ended_execution_that_holds_nothing_changes_nothing(world: World) -> None:
    from churnguard_ops.canary.events import ExecutionStatusChange
    from tests.events import load_event

    state = started(world, execution_id="arn:aws:states:us-east-1:123456789012:execution:m:another")
    event = ExecutionStatusChange.model_validate(load_event("canary/execution-status-change.json"))
    assert world.flow.execution_ended(event)["aborted"] == []
    assert world.lock.holder(state.request.lock_key) is not None and world.routing() == ("7", {"8": 10.0})
