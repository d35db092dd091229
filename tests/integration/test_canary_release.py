"""Canary releases on the embedded AWS: the synthesized state machine, the real handlers, the sample API
with traffic flowing. Short steps (5 s metric resolution) keep each release to seconds."""
from __future__ import annotations

import threading
import time
from typing import Any

import boto3
import pytest

from opsctl import canary_runner
from opsctl.commands.canary import LOCAL_DEFAULTS, LOCAL_GATING_ALARM, local_release
from opsctl.environment import LocalEnvironment

# One-second metric periods and short bakes: a three-step release takes about 20 s.
FAST = {**LOCAL_DEFAULTS, "metric_period_seconds": 1, "evaluation_interval_seconds": 2,
        "bake": {"min_seconds": 4, "min_invocations": 10, "max_wait_seconds": 60, "final_bake_seconds": 3}}


@pytest.fixture(scope="module")
def env():
    local = LocalEnvironment(with_postgres=False, seed=False)
    with local:
        yield local


def _request(**overrides: Any) -> dict[str, Any]:
    return {**FAST, "function_name": "churnguard-api", "alias": "live", "new_version": "2",
            "alarms": [LOCAL_GATING_ALARM], "steps": [20, 60, 100], **overrides}


def _routing() -> tuple[str, dict[str, float]]:
    alias = boto3.client("lambda").get_alias(FunctionName="churnguard-api", Name="live")
    return alias["FunctionVersion"], (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}


class AliasWatch:
    """The alias's routing each time the release's ShiftTraffic task finished."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, float]]] = []

    def __call__(self, event: dict[str, Any]) -> None:
        details = event.get("stateExitedEventDetails") or {}
        if event["type"] == "TaskStateExited" and details.get("name") == "ShiftTraffic":
            self.seen.append(_routing())


def _answer_when_waiting(execution: list[str], answer: Any, after_seconds: float = 5) -> threading.Thread:
    """Once the release has waited for a human ``after_seconds`` (long enough for the approval branch to judge
    the step at least once), answer through the task token, as opsctl canary approve does."""
    def run() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if execution:
                try:
                    _, token = canary_runner.pending_token(execution[0])
                except Exception:  # noqa: BLE001 - not waiting yet
                    time.sleep(0.3)
                    continue
                time.sleep(after_seconds)
                answer(token)
                return
            time.sleep(0.3)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_alias_weights_move_per_step_and_promote_leaves_no_extra_weights(env):
    watch = AliasWatch()
    release = local_release(env, _request(), on_event=watch)
    assert release.result.outcome == "promoted", release.result.reason
    assert watch.seen == [("1", {"2": 0.2}), ("1", {"2": 0.6}), ("2", {})]
    assert [d["weight"] for d in release.result.decisions] == [20, 60, 100]
    assert _routing() == ("2", {})


def test_a_breach_rolls_back_to_the_stable_version_alone_with_the_reason(env):
    release = local_release(env, _request(), error_rate=0.5)
    assert release.result.outcome == "rolled_back"
    assert "error rate of version 2" in release.result.reason
    assert [(d["weight"], d["verdict"]) for d in release.result.decisions][-1] == (20, "FAIL")
    assert _routing() == ("1", {})


def test_a_gating_alarm_aborts_the_release_mid_step_without_waiting_for_the_next_evaluation(env):
    release = local_release(env, _request(evaluation_interval_seconds=60), fire_alarm_after=8)
    assert release.result.outcome == "aborted" and LOCAL_GATING_ALARM in release.result.reason
    assert release.result.decisions == [], "no evaluation ran: the alarm path rolled back on its own"
    assert _routing() == ("1", {})


def test_an_approval_lets_the_release_reach_100_percent_and_records_who(env):
    sfn = boto3.client("stepfunctions")
    started: list[str] = []
    waiter = _answer_when_waiting(started, lambda token: sfn.send_task_success(
        taskToken=token, output='{"approved_by": "alice"}'))
    release = local_release(env, _request(steps=[50, 100], approval={"required": True, "timeout_seconds": 120}),
                            on_start=started.append)
    waiter.join(timeout=30)
    assert release.result.outcome == "promoted", release.result.reason
    assert release.result.final_state and release.result.final_state.get("approved_by") == "alice"
    assert "AwaitApproval" in release.result.states and "WatchWhileWaiting" in release.result.states
    assert _routing() == ("2", {})


def test_an_approval_that_never_comes_times_out_and_rolls_back(env):
    release = local_release(env, _request(steps=[50, 100], approval={"required": True, "timeout_seconds": 4}))
    assert release.result.outcome == "rolled_back"
    assert "ApprovalTimedOut" in (release.result.reason or ""), release.result.reason
    assert _routing() == ("1", {})


def test_a_rejection_rolls_back_with_the_reason_given(env):
    sfn = boto3.client("stepfunctions")
    started: list[str] = []
    waiter = _answer_when_waiting(started, lambda token: sfn.send_task_failure(
        taskToken=token, error="Rejected", cause="checkout looks off in the dashboard"))
    release = local_release(env, _request(steps=[50, 100], approval={"required": True, "timeout_seconds": 120}),
                            on_start=started.append)
    waiter.join(timeout=30)
    assert release.result.outcome == "rolled_back"
    assert "checkout looks off in the dashboard" in (release.result.reason or "")
    assert _routing() == ("1", {})


def test_a_second_release_of_the_same_alias_is_refused_naming_the_running_one(env):
    sfn = boto3.client("stepfunctions")
    started: list[str] = []
    second: dict[str, Any] = {}

    def start_second_while_first_runs() -> None:
        while not started:
            time.sleep(0.2)
        time.sleep(3)  # the first one holds the lock once Validate ran
        machine = canary_runner.state_machine_arn("churnguard-ops")
        arn = canary_runner.start(machine, _request())
        second["run"] = canary_runner.follow(arn, [20, 60, 100])
        sfn.stop_execution(executionArn=started[0], error="TestDone", cause="the second release was judged")
    thread = threading.Thread(target=start_second_while_first_runs, daemon=True)
    thread.start()
    first = local_release(env, _request(evaluation_interval_seconds=60), on_start=started.append)
    thread.join(timeout=60)
    refused = second["run"]
    assert refused.outcome == "refused"
    assert first.result.execution_arn.rsplit(":", 1)[-1] in (refused.reason or ""), refused.reason
    assert first.result.outcome == "aborted"
    # Stopped by hand while holding the alias: the "release ended" rule rolls it back and frees the lock.
    assert _eventually(lambda: _routing() == ("1", {}) and not _locks()), (_routing(), _locks())


def _locks() -> list[dict[str, Any]]:
    return boto3.client("dynamodb").scan(TableName="churnguard-ops-canary-releases")["Items"]


def _eventually(condition: Any, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.25)
    return bool(condition())


@pytest.mark.parametrize(("change", "problem"), [({"steps": [10, 5, 100]}, "strictly increasing"),
                                                 ({"new_version": "1"}, "already the version"),
                                                 ({"new_version": "9"}, "not a published version"),
                                                 ({"alarms": ["no-such-alarm"]}, "not found")])
def test_a_bad_request_is_refused_before_any_traffic_moves(env, change, problem):
    from opsctl.commands.canary import create_local_gating_alarm
    from opsctl.local.sample_api import SampleApi

    lam = boto3.client("lambda")
    if "churnguard-api" in {f["FunctionName"] for f in lam.list_functions()["Functions"]}:
        lam.delete_function(FunctionName="churnguard-api")
    SampleApi.deploy(env.aws)
    create_local_gating_alarm(boto3.client("cloudwatch"), "churnguard-api")
    machine = canary_runner.state_machine_arn("churnguard-ops")
    run = canary_runner.follow(canary_runner.start(machine, _request(**change)), [10, 100])
    assert run.outcome == "refused" and problem in (run.reason or ""), run.reason
    assert "ShiftTraffic" not in run.states and _routing() == ("1", {})
