"""A feature-flag rollout as a canary release, on fakes: validate, the flag shifter, cohorts, SRM, endings, abort."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from churnguard_ops.canary.cohorts import build_queries, chi_square_p_value, sample_ratio_check
from churnguard_ops.canary.decisions import PublishedDecisionLog
from churnguard_ops.canary.errors import (
    FlagDeploymentBusy,
    FlagDeploymentFailed,
    ReleaseInProgress,
    ValidationFailed,
)
from churnguard_ops.canary.events import AbortReleaseRequest, DecisionRequest
from churnguard_ops.canary.flag_shifter import WRITE_LOCK_PREFIX, FlagShifter
from churnguard_ops.canary.model import FlagReleaseRequest, ReleaseState, Verdict
from churnguard_ops.canary.workflow import CanaryWorkflow
from churnguard_ops.core import contracts
from churnguard_ops.core.fakes import MemoryDocuments, RecordingEvents
from tests.events import load_event
from tests.unit.canary_fakes import (
    T0,
    FakeAlarms,
    FakeAliases,
    FakeAppConfig,
    FakeCloudWatch,
    FakeSmoke,
    MemoryDecisionLog,
    MemoryLock,
    RecordingExecutions,
)

ENV, FLAG = "production", "new_dashboard_ui"
DOCUMENT = {
    FLAG: {"default": False, "rollout": {"percentage": 0, "value": True}},
    "dark_mode": {"default": False, "rollout": {"percentage": 5, "value": True}},
    "advanced_analytics": {"default": False, "rules": {"paid tiers": {"when_match": True, "conditions": [
        {"action": "IN", "key": "subscription_tier", "value": ["professional", "enterprise"]}]}}},
}


class World:
    def __init__(self, document: dict[str, Any] | None = None) -> None:
        self.now = T0
        self.appconfig = FakeAppConfig(document or DOCUMENT, environments=(ENV, "staging"))
        self.cloudwatch = FakeCloudWatch()
        self.alarms = FakeAlarms()
        self.decisions = MemoryDecisionLog()
        self.lock = MemoryLock()
        self.events = RecordingEvents()
        self.executions = RecordingExecutions()
        self.shifter = FlagShifter(self.appconfig, self.lock, clock=lambda: self.now)
        self.flow = CanaryWorkflow(FakeAliases(), self.cloudwatch, FakeSmoke(), self.alarms, self.decisions,
                                   self.lock, self.events, clock=lambda: self.now, executions=self.executions,
                                   flags=self.shifter)

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.appconfig.now = self.now

    def percentage(self, key: str = FLAG) -> float:
        return float(self.appconfig.document(ENV)[key]["rollout"]["percentage"])

    def cohorts(self, on: float, off: float, on_errors: float = 0, off_errors: float = 0) -> None:
        self.cloudwatch.set("on", invocations=on, errors=on_errors, p99_ms=200)
        self.cloudwatch.set("off", invocations=off, errors=off_errors, p99_ms=210)


def flag_request(**changes: Any) -> FlagReleaseRequest:
    return FlagReleaseRequest.model_validate({
        "kind": "feature_flag", "flag": {"environment": ENV, "key": FLAG}, "steps": [10, 50, 100],
        "bake": {"min_seconds": 300, "min_invocations": 100, "max_wait_seconds": 900}, **changes})


@pytest.fixture
def world() -> World:
    return World()


def started(world: World, **changes: Any) -> ReleaseState:
    return world.flow.shift(world.flow.smoke(world.flow.validate(flag_request(**changes))))


# -- validate ---------------------------------------------------------------------------------
def test_validate_locks_the_flag_in_its_environment_and_remembers_the_deployed_percentage(world: World) -> None:
    state = world.flow.validate(flag_request())
    assert (state.stable_version, state.action, state.target["name"]) == ("0", "smoke", f"flag {FLAG} in {ENV}")
    assert world.lock.holder(f"flag:{ENV}:{FLAG}").release_id == state.release_id  # type: ignore[union-attr]
    assert world.events.events[0] == ("Canary Release Started", {
        "release_id": state.release_id, "flag": FLAG, "environment": ENV, "stable_version": "0",
        "new_version": "100", "weight": 0, "outcome": "running", "reason": None, "execution_id": None})


@pytest.mark.parametrize(("changes", "message"), [
    ({"flag": {"environment": ENV, "key": "no_such_flag"}}, "flag.key: flag no_such_flag is not in the document"),
    ({"flag": {"environment": ENV, "key": "advanced_analytics"}}, "flag.key: advanced_analytics has no rollout"),
    ({"flag": {"environment": "qa", "key": FLAG}}, r"flag.environment: 'qa' is not a flags environment"),
])
def test_validate_refuses_a_flag_that_cannot_be_ramped(world: World, changes: dict, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        world.flow.validate(flag_request(**changes))
    assert world.lock.entries == {}


def test_validate_refuses_steps_at_or_below_the_deployed_percentage() -> None:
    world = World({**DOCUMENT, FLAG: {"default": False, "rollout": {"percentage": 10, "value": True}}})
    with pytest.raises(ValidationFailed, match=r"steps\[0\] = 10: the flag new_dashboard_ui is already at 10 %"):
        world.flow.validate(flag_request())


def test_a_second_release_of_the_same_flag_and_environment_is_refused_naming_the_first(world: World) -> None:
    first = world.flow.validate(flag_request())
    with pytest.raises(ReleaseInProgress, match=first.release_id):
        world.flow.validate(flag_request(release_id="another"))
    other_env = world.flow.validate(flag_request(flag={"environment": "staging", "key": FLAG}))
    assert other_env.request.lock_key == f"flag:staging:{FLAG}"


def test_the_json_entry_point_takes_a_flag_request_and_names_a_bad_field(world: World) -> None:
    sample = load_event("flags/rollout-new-dashboard-ui.json")
    state = world.flow.task("validate", sample)
    assert (state["request"]["kind"], state["request"]["steps"], state["stable_version"]) == (
        "feature_flag", [1, 10, 50, 100], "0")
    with pytest.raises(ValidationFailed, match=r"^flag.key: String should match pattern"):
        world.flow.task("validate", {**sample, "flag": {"environment": ENV, "key": "Bad Key"}, "release_id": "x"})
    with pytest.raises(ValidationFailed, match="^kind: "):
        world.flow.task("validate", {**sample, "kind": "database"})


def test_a_flag_release_without_a_flags_application_is_refused_naming_kind() -> None:
    flow = CanaryWorkflow(FakeAliases(), FakeCloudWatch(), FakeSmoke(), FakeAlarms(), MemoryDecisionLog(),
                          MemoryLock(), clock=lambda: T0)
    with pytest.raises(ValidationFailed, match="^kind: feature_flag releases are not configured"):
        flow.validate(flag_request())


def test_a_flag_business_metric_is_compared_by_variant() -> None:
    request = flag_request(thresholds={"business": {"namespace": "ChurnGuard/Api", "name": "DashboardViews"}})
    assert request.thresholds.business is not None
    assert request.thresholds.business.version_dimension == contracts.FLAG_VARIANT_DIMENSION


# -- the flag shifter -------------------------------------------------------------------------
def test_shift_deploys_only_that_flags_percentage_and_bakes_once_the_deployment_is_complete(world: World) -> None:
    state = started(world)
    assert (state.step_index, state.weight, state.action) == (0, 10, "bake")
    assert state.pending == {"environment": ENV, "deployment": 2, "version": "2", "percentage": 10}
    document = world.appconfig.document(ENV)
    assert document[FLAG]["rollout"]["percentage"] == 10
    assert {k: v for k, v in document.items() if k != FLAG} == {k: v for k, v in DOCUMENT.items() if k != FLAG}
    assert not any(key.startswith(WRITE_LOCK_PREFIX) for key in world.lock.entries), "the write lock is given back"


def test_two_releases_in_one_environment_never_lose_each_others_change(world: World) -> None:
    other = FlagShifter(world.appconfig, world.lock, clock=lambda: world.now)
    refused: list[Exception] = []

    def concurrent_write() -> None:  # the other release writes while ours is between read and deploy
        try:
            other.set_percentage(ENV, "dark_mode", 25, "release-b")
        except FlagDeploymentBusy as exc:
            refused.append(exc)

    world.appconfig.before_create = concurrent_write
    world.shifter.set_percentage(ENV, FLAG, 10, "release-a")
    assert len(refused) == 1 and "another release is writing its flags" in str(refused[0])
    other.set_percentage(ENV, "dark_mode", 25, "release-b")  # the state machine's retry
    assert (world.percentage(FLAG), world.percentage("dark_mode")) == (10, 25)


def test_a_deployment_in_progress_is_a_retried_busy_error_and_writes_nothing(world: World) -> None:
    world.appconfig.complete_at_once = False
    world.shifter.set_percentage(ENV, "dark_mode", 25, "someone")
    versions = dict(world.appconfig.versions)
    with pytest.raises(FlagDeploymentBusy, match="deployment 2 is DEPLOYING") as caught:
        world.shifter.set_percentage(ENV, FLAG, 10, "release-a")
    assert type(caught.value).__name__ == contracts.FLAGS_DEPLOYMENT_BUSY_ERROR
    assert world.appconfig.versions == versions and world.lock.entries == {}


def test_a_repeated_shift_to_the_deployed_percentage_deploys_nothing(world: World) -> None:
    first = world.shifter.set_percentage(ENV, FLAG, 10, "release-a")
    again = world.shifter.set_percentage(ENV, FLAG, 10, "release-a")
    assert first == again and len(world.appconfig.versions) == 2


def test_the_bake_starts_when_the_deployment_completes(world: World) -> None:
    world.appconfig.complete_at_once = False
    state = started(world)
    world.tick(60)
    waiting = world.flow.evaluate(state)
    assert (waiting.action, waiting.pending is not None, world.cloudwatch.calls) == ("bake", True, [])
    world.tick(30)
    world.appconfig.complete(ENV)
    world.cohorts(on=500, off=4500)
    world.tick(300)
    judged = world.flow.evaluate(waiting)
    assert judged.pending is None and judged.step_started_at == T0 + timedelta(seconds=90)
    assert judged.action == "advance"


def test_with_a_propagation_period_the_bake_starts_that_long_after_the_deployment_completed(world: World) -> None:
    state = started(world, propagation_seconds=45)
    world.tick(30)
    assert world.flow.evaluate(state).pending is not None, "the applications' caches may still serve 0 %"
    world.cohorts(on=500, off=4500)
    world.tick(300)  # 285 s since it propagated: not min_seconds yet
    judged = world.flow.evaluate(state)
    assert judged.pending is None and judged.step_started_at == T0 + timedelta(seconds=45)
    assert judged.action == "bake"
    world.tick(20)
    assert world.flow.evaluate(judged).action == "advance"


def test_without_a_propagation_period_in_the_request_the_deployments_own_applies(world: World) -> None:
    world.shifter.propagation_seconds = 46  # what the stack sets for a 45 s flag cache
    state = started(world)
    world.tick(30)
    assert world.flow.evaluate(state).pending is not None, "the applications' caches may still serve 0 %"
    world.tick(16)
    world.cohorts(on=500, off=4500)
    judged = world.flow.evaluate(state)
    assert judged.pending is None and judged.step_started_at == T0 + timedelta(seconds=46)


def test_a_propagation_period_as_long_as_the_wait_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match=r"propagation_seconds\n.*900 s is not less than bake.max_wait_seconds"):
        flag_request(propagation_seconds=900)


def test_a_deployment_that_rolled_back_fails_the_step(world: World) -> None:
    world.appconfig.complete_at_once = False
    state = started(world)
    world.appconfig.complete(ENV, state="ROLLED_BACK")
    with pytest.raises(FlagDeploymentFailed, match="ended ROLLED_BACK"):
        world.flow.evaluate(state)


# -- cohorts and the sample-ratio check -------------------------------------------------------
def test_cohort_metrics_are_one_request_on_the_flags_dimensions() -> None:
    queries = build_queries(FLAG, None, 60)
    assert [q["Id"] for q in queries] == ["invocations_canary", "errors_canary", "p99_ms_canary",
                                          "invocations_baseline", "errors_baseline", "p99_ms_baseline"]
    metric = queries[0]["MetricStat"]["Metric"]
    assert (metric["Namespace"], metric["MetricName"]) == ("ChurnGuard/Flags", "FlagRequests")
    assert metric["Dimensions"] == [{"Name": "Flag", "Value": FLAG}, {"Name": "FlagVariant", "Value": "on"}]
    assert queries[2]["MetricStat"]["Stat"] == "p99" and queries[2]["MetricStat"]["Metric"]["MetricName"] == \
        "FlagLatency"


def test_a_matching_split_passes_the_sample_ratio_check() -> None:
    breach, note = sample_ratio_check(on=1020, off=8980, percentage=10, min_requests=100)
    assert breach is None and note.startswith("sample ratio ok: observed 10.20 % of 10000 requests")


def test_a_fifty_fifty_split_at_a_configured_ten_percent_is_a_mismatch() -> None:
    breach, _ = sample_ratio_check(on=5000, off=5000, percentage=10, min_requests=100)
    assert breach == ("sample ratio mismatch: observed 50.00 % of 10000 requests vs configured 10 %: the bucketing "
                      "or the exposure logging is broken")


def test_a_small_sample_and_the_ends_of_the_ramp_are_not_judged_for_ratio() -> None:
    assert sample_ratio_check(on=40, off=40, percentage=10, min_requests=100)[0] is None
    assert sample_ratio_check(on=900, off=0, percentage=100, min_requests=100)[0] is None


def test_the_chi_square_p_value_matches_the_one_degree_of_freedom_table() -> None:
    # x = 3.841 is the 5 % critical value of chi-square with 1 dof; x = 10.828 the 0.1 % one.
    n, p = 10_000, 0.5
    for x, expected in ((3.841, 0.05), (10.828, 0.001)):
        # on - n*p = d with d^2 * (1/(n p) + 1/(n (1-p))) = x
        d = (x / (1 / (n * p) + 1 / (n * (1 - p)))) ** 0.5
        assert chi_square_p_value(n * p + d, n * (1 - p) - d, 50) == pytest.approx(expected, rel=1e-3)


def test_a_sample_ratio_mismatch_fails_the_step_even_when_the_cohorts_are_healthy(world: World) -> None:
    state = started(world)
    world.cohorts(on=5000, off=5000)
    world.tick(400)
    state = world.flow.evaluate(state)
    assert state.action == "rollback" and state.last_decision
    assert state.last_decision.verdict == Verdict.FAIL
    assert (state.reason or "").startswith("sample ratio mismatch: observed 50.00 % of 10000 requests vs "
                                           "configured 10 %")


def test_errors_in_the_on_cohort_fail_and_roll_the_flag_back_to_its_stable_percentage() -> None:
    world = World({**DOCUMENT, FLAG: {"default": False, "rollout": {"percentage": 2, "value": True}}})
    state = started(world)
    world.cohorts(on=1000, off=9000, on_errors=50, off_errors=9)
    world.tick(120)
    state = world.flow.evaluate(state)
    assert state.action == "rollback"
    assert "error rate of version on is 5.00 %" in (state.reason or "")
    record = world.decisions.records[-1]
    assert (record.flag, record.environment, record.function_name, record.canary.version,
            record.baseline.version) == (FLAG, ENV, None, "on", "off")
    assert record.notes[-1] == "rolls back to 2 %"
    done = world.flow.rollback(state)
    assert (done.outcome, world.percentage()) == ("rolled_back", 2)
    assert world.lock.entries == {}
    assert world.events.events[-1][0] == "Canary Release Rolled Back"


def test_healthy_cohorts_pass_every_step_and_promote_at_100_percent(world: World) -> None:
    state = started(world, steps=[10, 100], bake={"min_seconds": 300, "min_invocations": 100,
                                                  "max_wait_seconds": 900, "final_bake_seconds": 60})
    world.cohorts(on=1000, off=9000, on_errors=1, off_errors=9)
    world.tick(300)
    state = world.flow.evaluate(state)
    assert state.action == "advance" and state.last_decision and state.last_decision.verdict == Verdict.PASS
    assert any(n.startswith("sample ratio ok") for n in world.decisions.records[-1].notes)
    state = world.flow.shift(state)
    assert world.percentage() == 100 and state.final
    world.cohorts(on=1000, off=0)  # at 100 % the off cohort is empty: absolute thresholds only
    world.tick(70)
    state = world.flow.evaluate(state)
    assert state.action == "promote"
    assert "baseline comparison skipped: the stable version has no traffic at 100 %" in \
        world.decisions.records[-1].notes
    done = world.flow.promote(state)
    assert (done.outcome, world.percentage(), world.lock.entries) == ("promoted", 100, {})


def test_flag_decision_records_are_stored_under_the_flag_and_environment(world: World) -> None:
    documents, events = MemoryDocuments(), RecordingEvents()
    world.flow.decisions = PublishedDecisionLog(documents, events)
    state = started(world)
    world.cohorts(on=1000, off=9000)
    world.tick(400)
    state = world.flow.evaluate(state)
    assert state.last_decision and state.last_decision.location
    key = state.last_decision.location.removeprefix("s3://ops-bucket/")
    assert key.startswith(f"{contracts.CANARY_DECISIONS_PREFIX}flags/{ENV}/{FLAG}/{state.release_id}/00-010-")
    detail = events.events[-1][1]
    assert (detail["flag"], detail["environment"], detail["verdict"]) == (FLAG, ENV, "PASS")


# -- approval, abort --------------------------------------------------------------------------
def test_an_approval_request_names_the_flag_and_its_environment() -> None:
    request = DecisionRequest.model_validate({
        "kind": "approval", "token": "t", "execution_id": "arn:exec", "release_id": "r", "weight": 50,
        "timeout_seconds": 60, "target": {"kind": "feature_flag", "name": f"flag {FLAG} in {ENV}", "new": "100 %"}})
    assert request.subject() == f"flag {FLAG} in {ENV} 100 %"
    with pytest.raises(ValueError, match="target"):
        DecisionRequest.model_validate({"kind": "approval", "token": "t", "execution_id": "e", "release_id": "r",
                                        "weight": 5, "timeout_seconds": 60})


ALARM_EVENT = {
    "version": "0", "id": "7e3b0a1c-0000-4000-8000-000000000002", "detail-type": "CloudWatch Alarm State Change",
    "source": "aws.cloudwatch", "account": "123456789012", "time": "2026-11-28T10:05:00Z", "region": "us-east-1",
    "resources": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:dashboard-errors"],
    "detail": {"alarmName": "dashboard-errors", "state": {"value": "ALARM", "reason": "Threshold Crossed"},
               "previousState": {"value": "OK", "reason": ""}, "configuration": {}},
}


def test_an_alarm_aborts_a_flag_release_to_its_stable_percentage_and_its_tasks_stop() -> None:
    world = World({**DOCUMENT, FLAG: {"default": False, "rollout": {"percentage": 1, "value": True}}})
    world.alarms.set("dashboard-errors", "OK")
    state = started(world, alarms=["dashboard-errors"], execution_id="arn:aws:states:us-east-1:1:execution:m:run")
    assert world.percentage() == 10
    result = world.flow.task("abort", ALARM_EVENT)
    assert [(a["flag"], a["environment"], a["stable_percentage"]) for a in result["aborted"]] == [(FLAG, ENV, 1.0)]
    assert world.percentage() == 1 and world.lock.entries == {}
    assert world.executions.stopped[0][1] == "AlarmAbort"
    after = world.flow.shift(world.flow.evaluate(state))
    assert after.outcome == "aborted" and world.percentage() == 1, "the aborted run never re-opens the flag"


def test_an_explicit_abort_of_a_flag_rolls_back_only_that_flags_release(world: World) -> None:
    started(world)
    other = AbortReleaseRequest.model_validate({"flag": {"environment": "staging", "key": FLAG}, "reason": "r"})
    assert world.flow.abort_function(other)["aborted"] == [] and world.percentage() == 10
    by_function = AbortReleaseRequest.model_validate({"function_name": "churnguard-api", "reason": "r"})
    assert world.flow.abort_function(by_function)["aborted"] == [] and world.percentage() == 10
    ours = AbortReleaseRequest.model_validate({"flag": {"environment": ENV, "key": FLAG}, "reason": "bad UX"})
    result = world.flow.abort_function(ours)
    assert [a["reason"] for a in result["aborted"]] == ["bad UX"] and world.percentage() == 0
    with pytest.raises(ValueError, match="flag"):
        AbortReleaseRequest.model_validate({"function_name": "f", "flag": {"environment": ENV, "key": FLAG},
                                            "reason": "r"})
