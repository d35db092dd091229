"""The judge: one verdict per rule, zero traffic and provider errors never pass, thresholds inclusive."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnguard_ops.canary.judge import judge
from churnguard_ops.canary.model import BakeRules, BusinessMetric, Thresholds, Verdict, VersionSamples, WindowSamples

BAKE = BakeRules(min_seconds=300, min_invocations=100, max_wait_seconds=1800)
LIMITS = Thresholds(max_error_rate_pct=1.0, max_p99_ms=2000)
BUSINESS = BusinessMetric(namespace="ChurnGuard/Api", name="PredictionsServed", max_degradation_pct=5.0)


def window(canary: dict | None = None, baseline: dict | None = None) -> WindowSamples:
    return WindowSamples(canary=VersionSamples(version="8", **{"invocations": 1000, "errors": 0, "p99_ms": 300,
                                                               **(canary or {})}),
                         baseline=VersionSamples(version="7", **{"invocations": 9000, "errors": 0, "p99_ms": 300,
                                                                 **(baseline or {})}))


def test_healthy_canary_after_time_and_samples_passes() -> None:
    result = judge(window(), LIMITS, BAKE, elapsed_seconds=300)
    assert result.verdict == Verdict.PASS and result.ready
    assert "version 8 passed every rule over 1000 invocations" in result.reasons[0]


@pytest.mark.parametrize("elapsed", [0, 299, 1799, 1800, 5000])
def test_zero_traffic_is_never_a_pass(elapsed: float) -> None:
    result = judge(window({"invocations": 0, "p99_ms": None}), LIMITS, BAKE, elapsed_seconds=elapsed)
    assert result.verdict != Verdict.PASS
    assert result.verdict == (Verdict.NO_DATA if elapsed >= 1800 else None)


def test_zero_traffic_fails_to_pass_even_with_min_invocations_of_one() -> None:
    bake = BakeRules(min_seconds=0, min_invocations=1, max_wait_seconds=60)
    assert judge(window({"invocations": 0, "p99_ms": None}), LIMITS, bake, elapsed_seconds=30).verdict is None
    assert judge(window({"invocations": 0, "p99_ms": None}), LIMITS, bake, 60).verdict == Verdict.NO_DATA


def test_no_data_names_what_was_missing_once_max_wait_passed() -> None:
    result = judge(window({"invocations": 40}), LIMITS, BAKE, elapsed_seconds=1800)
    assert result.verdict == Verdict.NO_DATA
    assert "40 invocations of version 8, need 100" in result.reasons[0]
    assert "limit 1800 s" in result.reasons[0]


@pytest.mark.parametrize("samples", [None, window()])
def test_a_provider_error_is_never_a_pass(samples: WindowSamples | None) -> None:
    result = judge(samples, LIMITS, BAKE, elapsed_seconds=600, provider_error="ThrottlingException")
    assert result.verdict == Verdict.PROVIDER_ERROR
    assert "metrics could not be read: ThrottlingException" in result.reasons[0]


def test_error_rate_exactly_at_the_threshold_passes_and_just_above_fails() -> None:
    at = judge(window({"invocations": 1000, "errors": 10}, {"errors": 90}), LIMITS, BAKE, elapsed_seconds=300)
    above = judge(window({"invocations": 1000, "errors": 11}, {"errors": 90}), LIMITS, BAKE, elapsed_seconds=300)
    assert at.verdict == Verdict.PASS
    assert above.verdict == Verdict.FAIL
    assert above.reasons == ["error rate of version 8 is 1.10 % (11 of 1000), above the maximum 1 %"]


def test_p99_exactly_at_the_threshold_passes_and_above_fails() -> None:
    at = judge(window({"p99_ms": 2000}, {"p99_ms": 1900}), LIMITS, BAKE, 300)
    above = judge(window({"p99_ms": 2001}, {"p99_ms": 1900}), LIMITS, BAKE, 300)
    assert at.verdict == Verdict.PASS
    assert above.verdict == Verdict.FAIL
    assert "p99 duration of version 8 is 2001 ms, above the maximum 2000 ms" in above.reasons


def test_canary_better_than_baseline_passes() -> None:
    result = judge(window({"errors": 1, "p99_ms": 200}, {"errors": 70, "p99_ms": 900}), LIMITS, BAKE, 300)
    assert result.verdict == Verdict.PASS


def test_canary_worse_than_baseline_beyond_tolerance_fails_though_under_the_absolute_maximum() -> None:
    # baseline 0.1 %, canary 0.9 %: under 1 % but above max(0.1 * 1.5, 0.1 + 0.5) = 0.6 %
    result = judge(window({"errors": 9}, {"errors": 9}), LIMITS, BAKE, 300)
    assert result.verdict == Verdict.FAIL
    assert result.reasons == ["error rate of version 8 is 0.90 % against 0.10 % on the stable version 7, "
                              "above the allowed 0.60 %"]


def test_the_absolute_floor_keeps_a_low_rate_from_failing_against_a_perfect_baseline() -> None:
    result = judge(window({"errors": 1}, {"errors": 0}), LIMITS, BAKE, 300)  # 0.1 % vs 0 %
    assert result.verdict == Verdict.PASS


def test_p99_much_slower_than_baseline_fails_relatively() -> None:
    result = judge(window({"p99_ms": 900}, {"p99_ms": 400}), LIMITS, BAKE, 300)  # allowed max(600, 450)
    assert result.verdict == Verdict.FAIL
    assert "against 400 ms on the stable version 7, above the allowed 600 ms" in result.reasons[0]


def test_relative_rules_are_skipped_with_a_note_when_the_baseline_has_too_little_traffic() -> None:
    result = judge(window({"errors": 9}, {"invocations": 10, "errors": 0}), LIMITS, BAKE, 300)
    assert result.verdict == Verdict.PASS
    assert any("baseline comparison skipped: 10 invocations of the stable version 7" in n for n in result.notes)


def test_min_samples_before_min_time_fails_a_breach_at_once_but_waits_to_pass() -> None:
    breach = judge(window({"errors": 50}), LIMITS, BAKE, elapsed_seconds=60)
    healthy = judge(window(), LIMITS, BAKE, elapsed_seconds=60)
    assert breach.verdict == Verdict.FAIL
    assert healthy.verdict is None and not healthy.ready
    assert healthy.reasons == ["60 s baked, need 300 s"]


def test_min_time_before_min_samples_keeps_baking_even_with_a_bad_looking_few() -> None:
    result = judge(window({"invocations": 20, "errors": 10}), LIMITS, BAKE, elapsed_seconds=600)
    assert result.verdict is None and not result.ready
    assert result.reasons == ["20 invocations of version 8, need 100"]


def test_missing_duration_series_is_not_evidence_of_health() -> None:
    result = judge(window({"p99_ms": None}), LIMITS, BAKE, elapsed_seconds=400)
    assert result.verdict is None
    assert "no Duration p99 datapoint for version 8 yet" in result.reasons


def test_business_metric_degraded_per_invocation_fails_in_its_direction() -> None:
    limits = LIMITS.model_copy(update={"business": BUSINESS})
    # stable serves a prediction per request; the canary only 90 % of the time
    result = judge(window({"business": 900}, {"business": 9000}), limits, BAKE, 300)
    assert result.verdict == Verdict.FAIL
    assert result.reasons == ["PredictionsServed of version 8 is 0.9 per invocation against 1 on the stable version "
                              "7: 10.0 % worse (higher is better), above the maximum 5 %"]


def test_business_metric_within_degradation_or_better_passes() -> None:
    limits = LIMITS.model_copy(update={"business": BUSINESS})
    assert judge(window({"business": 960}, {"business": 9000}), limits, BAKE, 300).verdict == Verdict.PASS
    lower = limits.model_copy(update={"business": BUSINESS.model_copy(update={"direction": "lower_is_better"})})
    assert judge(window({"business": 900}, {"business": 9000}), lower, BAKE, 300).verdict == Verdict.PASS
    assert judge(window({"business": 1100}, {"business": 9000}), lower, BAKE, 300).verdict == Verdict.FAIL


def test_an_empty_business_series_of_a_counting_metric_counts_zero() -> None:
    limits = LIMITS.model_copy(update={"business": BUSINESS})
    result = judge(window({"business": None}, {"business": 9000}), limits, BAKE, 300)
    assert result.verdict == Verdict.FAIL
    assert "100.0 % worse" in result.reasons[0]


def test_at_100_percent_only_absolute_rules_apply() -> None:
    result = judge(window({"errors": 9}, {"invocations": 0, "p99_ms": None}), LIMITS, BAKE, 300,
                   compare_baseline=False)
    assert result.verdict == Verdict.PASS
    assert result.notes == ["baseline comparison skipped: the stable version has no traffic at 100 %"]


def test_an_extended_deadline_keeps_baking_past_max_wait() -> None:
    result = judge(window({"invocations": 10}), LIMITS, BAKE, elapsed_seconds=2000, max_wait_seconds=3600)
    assert result.verdict is None


@settings(max_examples=300, deadline=None)
@given(canary=st.fixed_dictionaries({"errors": st.floats(0, 1e6), "p99_ms": st.none() | st.floats(0, 1e5),
                                     "business": st.none() | st.floats(0, 1e6)}),
       baseline=st.fixed_dictionaries({"invocations": st.floats(0, 1e7), "errors": st.floats(0, 1e6),
                                       "p99_ms": st.none() | st.floats(0, 1e5)}),
       elapsed=st.floats(0, 1e6), min_invocations=st.integers(1, 10_000), business=st.booleans(),
       compare=st.booleans())
def test_property_no_canary_invocations_never_passes(canary: dict, baseline: dict, elapsed: float,
                                                      min_invocations: int, business: bool, compare: bool) -> None:
    bake = BakeRules(min_seconds=0, min_invocations=min_invocations, max_wait_seconds=60)
    limits = LIMITS.model_copy(update={"business": BUSINESS if business else None})
    samples = window({**canary, "invocations": 0}, baseline)
    assert judge(samples, limits, bake, elapsed, compare_baseline=compare).verdict in (None, Verdict.NO_DATA)
    assert judge(samples, limits, bake, elapsed, provider_error="x").verdict == Verdict.PROVIDER_ERROR
