"""opsctl flags on fakes: bad input is one line and exit 2 before anything starts; the table; an evaluation explained
rule by rule and bucket against threshold; the rollout request and its cohort lines; the sample API's broken flag
path and its users; a flag step's bake waits for the applications' cache period."""
from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from churnguard_ops.canary.flag_shifter import FlagShifter
from churnguard_ops.canary.flag_target import FlagTarget
from churnguard_ops.canary.model import FlagReleaseRequest, ReleaseState
from churnguard_ops.core.flag_document import FlagDocument
from churnguard_ops.flags import bucketing
from churnguard_ops.flags.model import Evaluation
from opsctl import canary_runner, cli, flags_runner
from opsctl.commands import flags
from opsctl.errors import UsageError
from opsctl.local import sample_api
from opsctl.local.traffic import TIERS, user_requests
from tests.unit.canary_fakes import T0, FakeAppConfig, FakeCloudWatch, MemoryLock

DOCUMENT = {
    "new_dashboard_ui": {"default": False, "rollout": {"percentage": 10, "value": True, "salt": "new_dashboard_ui"}},
    "advanced_analytics": {"default": False, "rules": {"paid tiers": {"when_match": True, "conditions": [
        {"action": "IN", "key": "subscription_tier", "value": ["professional", "enterprise"]}]}}},
    "dark": {"default": False, "kill_switch": True, "rollout": {"percentage": 50, "value": True, "salt": "s1"}},
}
SERVED = flags_runner.Deployed("production", FlagDocument.from_data(DOCUMENT), "7", 3)


def _user(inside: bool, percentage: float = 10) -> str:
    """The first user ``u-N`` whose new_dashboard_ui bucket is inside (or outside) ``percentage``."""
    return next(f"u-{n}" for n in range(10_000) if bucketing.in_rollout(
        bucketing.bucket("new_dashboard_ui", "new_dashboard_ui", f"u-{n}"), percentage) == inside)


# -- bad input ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("argv", "message"), [
    (["flags", "evaluate", "new_dashboard_ui", "--context", "{bad", "--local"], "--context: not valid JSON (line 1"),
    (["flags", "evaluate", "new_dashboard_ui", "--context", "[1]", "--local"], "--context: must be a JSON object"),
    (["flags", "evaluate", "new_dashboard_ui", "--context", "@/no/such/file.json", "--local"],
     "--context @/no/such/file.json: cannot read the file"),
    (["flags", "rollout", "new_dashboard_ui", "--local", "--flag-on-error-rate", "1.5"],
     "--flag-on-error-rate 1.5: a fraction from 0 to 1"),
    (["flags", "rollout", "new_dashboard_ui", "--local", "--rps", "0"], "--rps 0.0: must be positive"),
])
def test_bad_input_is_one_line_and_exit_code_2_before_anything_starts(
        argv: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flags, "local_target", lambda *a, **k: pytest.fail("the embedded AWS must not start"))
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_a_context_file_is_read_with_at(tmp_path: Any) -> None:
    path = tmp_path / "ctx.json"
    path.write_text('{"user_id": "u-42", "subscription_tier": "free"}')
    assert flags_runner.parse_context(f"@{path}") == {"user_id": "u-42", "subscription_tier": "free"}


def test_an_unknown_flag_is_the_operators_error_naming_the_known_ones() -> None:
    with pytest.raises(UsageError, match="nope: no such flag in production "
                                         r"\(flags: new_dashboard_ui, advanced_analytics, dark\)"):
        flags_runner.evaluate_explained(SERVED, "nope", {})


def _rollout_args(*extra: str) -> Any:
    return cli.build_parser().parse_args(["flags", "rollout", "new_dashboard_ui", *extra])


@pytest.mark.parametrize(("extra", "message"), [
    (["--steps", "10,x"], "--steps 10,x: comma-separated whole percentages"),
    (["--steps", "25,50"], "--steps (steps): steps must end at 100"),
    (["--environment", "prod uction"], "FLAG/--environment (flag.environment): String should match pattern"),
    (["--propagation-seconds", "-1"], "--propagation-seconds (propagation_seconds): Input should be greater"),
])
def test_a_refused_rollout_request_names_the_option(extra: list[str], message: str) -> None:
    with pytest.raises(UsageError) as refused:
        flags.rollout_request(_rollout_args(*extra), local=False)
    assert str(refused.value).startswith(message), str(refused.value)


def test_the_local_rollout_request_bakes_after_the_cache_period_and_judges_predictions_per_cohort() -> None:
    request = flags.rollout_request(_rollout_args("--steps", "25,50,100", "--approval-timeout", "60"), local=True)
    parsed = FlagReleaseRequest.model_validate(request)
    assert (parsed.kind, parsed.flag.key, parsed.flag.environment, parsed.steps) == (
        "feature_flag", "new_dashboard_ui", "production", [25, 50, 100])
    assert parsed.propagation_seconds == flags_runner.LOCAL_CACHE_SECONDS + 1
    assert parsed.approval.required and parsed.approval.timeout_seconds == 60
    business = parsed.thresholds.business
    assert business is not None
    assert (business.namespace, business.name, business.dimensions, business.version_dimension) == (
        "ChurnGuard/Api", "PredictionsServed", {"Flag": "new_dashboard_ui"}, "FlagVariant")
    on_aws = FlagReleaseRequest.model_validate(flags.rollout_request(_rollout_args(), local=False))
    # On AWS the release function's default applies: the deployed flags' cache period + 1 s.
    assert on_aws.propagation_seconds is None and on_aws.thresholds.business is None


def test_a_flag_release_execution_is_named_after_the_flag_within_80_characters() -> None:
    name = canary_runner.execution_name({"kind": "feature_flag", "flag": {"environment": "production",
                                                                          "key": "x" * 64}})
    assert name.startswith("flag-production-xxx") and len(name) <= 80
    assert re.fullmatch(r"[A-Za-z0-9_-]+", name)
    assert canary_runner.execution_name({"function_name": "api", "alias": "live", "new_version": "2"}).startswith(
        "api-live-v2-")


# -- list -----------------------------------------------------------------------------------------------------
def test_the_list_shows_default_rules_rollout_with_salt_kill_switch_and_version() -> None:
    rows = flags_runner.flag_rows(SERVED)
    assert [r["flag"] for r in rows] == ["new_dashboard_ui", "advanced_analytics", "dark"]
    lines = flags_runner.table(rows).splitlines()
    assert lines[0].split() == ["FLAG", "DEFAULT", "RULES", "ROLLOUT", "KILL", "SWITCH", "VERSION"]
    assert lines[1].split() == ["new_dashboard_ui", "false", "-", "10", "%", "by", "user_id", "(salt",
                                "new_dashboard_ui)", "off", "7"]
    assert lines[2].split() == ["advanced_analytics", "false", "paid", "tiers", "-", "off", "7"]
    assert "ON" in lines[3].split() and "(salt s1)" in lines[3]


# -- evaluate: the explanation ----------------------------------------------------------------------------------
def test_a_user_in_the_rollout_is_explained_by_bucket_against_threshold() -> None:
    user = _user(inside=True)
    result, why = flags_runner.evaluate_explained(SERVED, "new_dashboard_ui", {"user_id": user})
    bucket = bucketing.bucket("new_dashboard_ui", "new_dashboard_ui", user)
    assert (result.value, result.reason, result.variant, result.bucket, result.version) == (
        True, "rollout", "on", bucket, "7")
    assert f"bucket {bucket:,} of 100,000 < 10,000 (10 %): in the rollout -> true" in why[-1]
    assert flags_runner.headline(result) == ("new_dashboard_ui = true  (reason rollout, variant on, document "
                                             "version 7)")


def test_a_user_outside_the_rollout_gets_the_default_with_its_bucket_above_the_threshold() -> None:
    user = _user(inside=False)
    result, why = flags_runner.evaluate_explained(SERVED, "new_dashboard_ui", {"user_id": user})
    assert (result.value, result.variant) == (False, "off")
    assert f"bucket {result.bucket:,} of 100,000 >= 10,000 (10 %): not in the rollout -> the default false" in why[-1]


def test_a_context_without_the_rollout_attribute_is_explained_as_unplaceable() -> None:
    result, why = flags_runner.evaluate_explained(SERVED, "new_dashboard_ui", {"account": "a-1"})
    assert (result.reason, result.value) == ("rollout_attribute_missing", False)
    assert "the context has no usable user_id" in why[-1]


def test_a_rule_explanation_names_the_matching_rule_or_the_condition_that_failed_and_the_value_seen() -> None:
    result, why = flags_runner.evaluate_explained(SERVED, "advanced_analytics", {"subscription_tier": "enterprise"})
    assert (result.value, result.reason, result.variant) == (True, "rule:paid tiers", "rule")
    assert why == ["rule 'paid tiers' matched (all 1 condition(s) hold): true"]
    result, why = flags_runner.evaluate_explained(SERVED, "advanced_analytics", {"subscription_tier": "free"})
    assert (result.value, result.reason) == (False, "default")
    assert why[0] == ('rule \'paid tiers\' did not match: subscription_tier IN ["professional", "enterprise"] is '
                      'false (subscription_tier = "free")')
    assert why[1] == "no rule matched and the flag has no rollout: the default false"
    _, why = flags_runner.evaluate_explained(SERVED, "advanced_analytics", {})
    assert "(the context has no subscription_tier)" in why[0]


def test_a_kill_switch_is_explained_before_any_rule_or_rollout() -> None:
    result, why = flags_runner.evaluate_explained(SERVED, "dark", {"user_id": "u-1"})
    assert (result.value, result.reason, result.variant) == (False, "kill_switch", "killed")
    assert why == ["kill switch is ON: everyone gets the default false (rules and rollout are not consulted)"]


# -- rollout: cohort lines ------------------------------------------------------------------------------------
RECORD = {"weight": 25, "verdict": "PASS", "reasons": [],
          "notes": ["sample ratio ok: observed 26.00 % of 200 requests vs configured 25 % (p = 0.72)"],
          "canary": {"version": "on", "invocations": 52, "errors": 1, "p99_ms": 61.2},
          "baseline": {"version": "off", "invocations": 148, "errors": 0, "p99_ms": None}}


def test_a_cohort_line_shows_on_and_off_requests_error_rate_p99_and_the_sample_ratio_check() -> None:
    assert flags_runner.cohort_line(RECORD) == (
        "25 %: on 52 requests, err 1.92 %, p99 61 ms | off 148 requests, err 0.00 %, p99 - | "
        "sample ratio ok: observed 26.00 % of 200 requests vs configured 25 % (p = 0.72) -> PASS")
    mismatch = {**RECORD, "verdict": "FAIL", "notes": ["SRM p = 1e-09"],
                "reasons": ["sample ratio mismatch: observed 40.00 % of 500 requests vs configured 25 %"]}
    assert flags_runner.srm_note(mismatch).startswith("sample ratio mismatch")
    assert flags_runner.srm_note({"notes": []}) == "no sample-ratio check recorded"


# -- the sample API's flag behaviour -----------------------------------------------------------------------------
def _evaluation(flag: str, variant: str) -> Evaluation:
    return Evaluation(flag, variant == "on", "rollout", variant)


def test_only_the_flag_under_tests_on_cohort_runs_the_broken_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLAG_UNDER_TEST", "churn_model_v2")
    monkeypatch.setenv("FLAG_ON_ERROR_RATE", "1.0")
    assert sample_api._flag_path_fails([_evaluation("churn_model_v2", "on")])
    assert not sample_api._flag_path_fails([_evaluation("churn_model_v2", "off")])
    assert not sample_api._flag_path_fails([_evaluation("new_dashboard_ui", "on")])
    monkeypatch.setenv("FLAG_ON_ERROR_RATE", "0")
    assert not sample_api._flag_path_fails([_evaluation("churn_model_v2", "on")])


def test_a_request_without_a_user_id_evaluates_no_flag() -> None:
    assert sample_api._evaluate_flags({"customer_id": "c-1"}) == []
    assert sample_api._evaluate_flags({"user_id": ""}) == []


def test_the_traffic_draws_many_distinct_users_each_with_a_fixed_tier() -> None:
    draw = user_requests(users=3000, seed=1)
    payloads = [draw(i) for i in range(2000)]
    users = Counter(p["user_id"] for p in payloads)
    assert len(users) > 1000 and all(re.fullmatch(r"u-\d{4}", u) for u in users)
    tiers = {p["user_id"]: p["subscription_tier"] for p in payloads}
    assert all(tiers[p["user_id"]] == p["subscription_tier"] in TIERS for p in payloads)
    assert [user_requests(3000, seed=5)(i) for i in range(5)] == [user_requests(3000, seed=5)(i) for i in range(5)]
    with pytest.raises(ValueError, match="users must be at least 1"):
        user_requests(0)


# -- a flag step bakes once the applications have seen it ---------------------------------------------------------
def test_a_flag_steps_bake_starts_one_propagation_period_after_its_deployment_completed() -> None:
    now = [T0]
    appconfig = FakeAppConfig({"new_dashboard_ui": {"default": False, "rollout": {"percentage": 0, "value": True}}})
    shifter = FlagShifter(appconfig, MemoryLock(), clock=lambda: now[0])
    target = FlagTarget(shifter, FakeCloudWatch())
    deployment = shifter.set_percentage("production", "new_dashboard_ui", 25, "r1")
    assert deployment is not None and deployment.completed_at == T0

    def state(propagation: int) -> ReleaseState:
        request = FlagReleaseRequest.model_validate({"kind": "feature_flag", "propagation_seconds": propagation,
                                                     "flag": {"environment": "production", "key": "new_dashboard_ui"}})
        return ReleaseState(request=request, release_id="r1", stable_version="0", started_at=T0, action="bake",
                            step_index=0, weight=25, step_started_at=T0,
                            pending={"environment": "production", "deployment": deployment.number})

    assert target.settled(state(0)) == T0  # no propagation: live when complete
    now[0] = T0 + timedelta(seconds=15)
    assert target.settled(state(16)) is None  # an application may still serve the previous percentage
    now[0] = T0 + timedelta(seconds=16)
    assert target.settled(state(16)) == T0 + timedelta(seconds=16)
