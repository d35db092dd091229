"""Release requests: strict, every refusal names its field."""
from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from churnguard_ops.canary.model import ReleaseRequest

BASE: dict[str, Any] = {"function_name": "churnguard-api", "alias": "live", "new_version": "8"}


def refusal(**changes: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        ReleaseRequest.model_validate({**BASE, **changes})
    return str(caught.value)


def test_defaults_are_the_documented_ones() -> None:
    request = ReleaseRequest.model_validate(BASE)
    assert request.steps == [10, 25, 50, 75, 100]
    assert (request.bake.min_seconds, request.bake.min_invocations, request.bake.max_wait_seconds) == (300, 100, 1800)
    assert request.bake.final_seconds == 300
    assert (request.thresholds.max_error_rate_pct, request.thresholds.max_p99_ms) == (1.0, 2000)
    assert request.thresholds.relative_tolerance_pct == 50.0
    assert (request.on_no_data, request.on_provider_error, request.pre_existing_alarm) == ("rollback", "rollback",
                                                                                            "block")
    assert request.lock_key == "churnguard-api:live"


def test_blue_green_is_a_single_step_of_100() -> None:
    assert ReleaseRequest.model_validate({**BASE, "steps": [100]}).steps == [100]


@pytest.mark.parametrize(("steps", "message"), [
    ([10, 10, 100], "strictly increasing: steps[1] = 10 follows 10"),
    ([50, 25, 100], "strictly increasing: steps[1] = 25 follows 50"),
    ([10, 50], "must end at 100"),
    ([0, 100], "steps[0] = 0: each weight is a percentage from 1 to 100"),
    ([10, 101], "steps[1] = 101"),
    ([], "at least 1 item"),
])
def test_bad_weights_are_refused_naming_steps(steps: list[int], message: str) -> None:
    text = refusal(steps=steps)
    assert "steps" in text and message in text


def test_unknown_fields_are_refused_at_every_level() -> None:
    assert "stepz" in refusal(stepz=[100]) and "Extra inputs are not permitted" in refusal(stepz=[100])
    assert "thresholds.max_error_rate" in refusal(thresholds={"max_error_rate": 2})
    assert "bake.min_second" in refusal(bake={"min_second": 2})
    assert "smoke_events.0.expect.stauts" in refusal(smoke_events=[{"name": "a", "expect": {"stauts": "error"}}])


@pytest.mark.parametrize(("changes", "field"), [
    ({"thresholds": {"max_error_rate_pct": -1}}, "thresholds.max_error_rate_pct"),
    ({"thresholds": {"max_error_rate_pct": 101}}, "thresholds.max_error_rate_pct"),
    ({"thresholds": {"max_p99_ms": 0}}, "thresholds.max_p99_ms"),
    ({"thresholds": {"relative_tolerance_pct": -5}}, "thresholds.relative_tolerance_pct"),
    ({"thresholds": {"business": {"namespace": "N", "name": "M", "max_degradation_pct": -1}}},
     "thresholds.business.max_degradation_pct"),
    ({"thresholds": {"business": {"namespace": "N", "name": "M", "statistic": "Median"}}},
     "thresholds.business.statistic"),
    ({"thresholds": {"business": {"namespace": "N", "name": "M", "dimensions": {"Version": "1"}}}},
     "'Version' is the version dimension"),
    ({"bake": {"min_invocations": 0}}, "bake.min_invocations"),
    ({"bake": {"min_seconds": 600, "max_wait_seconds": 300}}, "max_wait_seconds (300) must be at least min_seconds"),
    ({"evaluation_interval_seconds": 0}, "evaluation_interval_seconds"),
    ({"metric_period_seconds": 15}, "metric_period_seconds"),
    ({"new_version": "$LATEST"}, "new_version"),
    ({"new_version": "0"}, "new_version"),
    ({"alias": "12"}, "'12' is a version number, not an alias"),
    ({"function_name": "bad name"}, "function_name"),
    ({"on_no_data": "ignore"}, "on_no_data"),
    ({"alarms": ["a", "a"]}, "duplicate names: ['a']"),
    ({"smoke_events": [{"name": "x"}, {"name": "x"}]}, "duplicate names: ['x']"),
])
def test_insane_values_are_refused_naming_the_field(changes: dict[str, Any], field: str) -> None:
    assert field in refusal(**changes)


def test_a_smoke_event_defaults_to_expecting_success() -> None:
    request = ReleaseRequest.model_validate({**BASE, "smoke_events": [{"name": "predict", "payload": {"a": 1}}]})
    assert request.smoke_events[0].expect.status == "success"
