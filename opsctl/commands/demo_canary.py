"""Demo steps of canary gates: a healthy release promoted, a bad one rolled back, one aborted by an alarm."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from opsctl.commands.canary import (
    LOCAL_DEFAULTS,
    LOCAL_GATING_ALARM,
    LocalRelease,
    local_release,
    with_local_defaults,
)
from opsctl.commands.demo_steps import Step
from opsctl.console import write_json

STABLE_ALONE = {"version": "1", "additional_weights": {}}


def _request(**overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "function_name": "churnguard-api", "alias": "live", "new_version": "2", "alarms": [LOCAL_GATING_ALARM],
        "thresholds": {"business": {"namespace": "ChurnGuard/Api", "name": "PredictionsServed",
                                    "dimensions": {"FunctionName": "churnguard-api"}}},
    }
    request.update(overrides)
    return with_local_defaults(request)


def _save(out: str | None, name: str, release: LocalRelease) -> None:
    if out:
        write_json(str(Path(out) / "canary"), f"{name}.json", {**release.result.as_dict(), "alias": release.alias,
                                                               "traffic": release.traffic})


def healthy_release(env: Any, out: str | None) -> Step:
    step = Step("Canary: a healthy version goes 10 -> 50 -> 100 % and is promoted")
    # A healthy version cannot breach, so 10 invocations per step are evidence enough here (the default 20
    # doubles the wait at 10 %, where only one request in ten reaches the candidate).
    release = local_release(env, _request(steps=[10, 50, 100], bake={**LOCAL_DEFAULTS["bake"], "min_invocations": 10}))
    result = release.result
    _save(out, "healthy-release", release)
    step.expect("release promoted", result.outcome == "promoted", f"{result.outcome}: {result.reason}")
    weights = [d["weight"] for d in result.decisions if d.get("verdict") == "PASS"]
    step.expect("a PASS decision at every step", weights == [10, 50, 100], f"passed at {weights}")
    recorded = all(str(d.get("location", "")).startswith("s3://") for d in result.decisions)
    step.expect("every decision has a record in S3", recorded, f"{len(result.decisions)} records")
    step.expect("alias on v2 alone, no extra weights", release.alias == {"version": "2", "additional_weights": {}},
                str(release.alias))
    return step


def failing_release(env: Any, out: str | None) -> Step:
    step = Step("Canary: a version failing 30 % of requests breaches at 25 % and is rolled back with the reason")
    release = local_release(env, _request(steps=[25, 50, 100]), error_rate=0.3)
    result = release.result
    _save(out, "failing-release", release)
    step.expect("release rolled back", result.outcome == "rolled_back", f"{result.outcome}")
    failed = [d for d in result.decisions if d.get("verdict") == "FAIL"]
    step.expect("FAIL decided at 25 %", [d["weight"] for d in failed] == [25],
                f"{[(d['weight'], d['verdict']) for d in result.decisions]}")
    step.expect("the reason names the error rate", "error rate of version 2" in (result.reason or ""),
                (result.reason or "")[:160])
    step.expect("alias back on v1 alone", release.alias == STABLE_ALONE, str(release.alias))
    return step


def alarm_abort(env: Any, out: str | None) -> Step:
    step = Step("Canary: a gating alarm fires mid-step and the release is rolled back at once")
    interval = 30  # the next evaluation would be this far away: the alarm must not wait for it
    release = local_release(env, _request(evaluation_interval_seconds=interval), fire_alarm_after=18)
    result = release.result
    _save(out, "alarm-abort", release)
    step.expect("release aborted by the alarm", result.outcome == "aborted" and LOCAL_GATING_ALARM in (
        result.reason or ""), f"{result.outcome}: {(result.reason or '')[:120]}")
    took = (release.stable_again_at - release.alarm_fired_at
            if release.stable_again_at and release.alarm_fired_at else None)
    step.expect(f"alias back on v1 alone before the next evaluation ({interval} s away)",
                took is not None and took < interval and release.alias == STABLE_ALONE,
                f"{took:.1f} s after the alarm" if took is not None else str(release.alias))
    return step


CANARY_SCENARIOS = [healthy_release, failing_release, alarm_abort]
