"""Canary gates on the embedded AWS: CloudWatch calls per judgement, and how fast an alarm takes traffic back.

(a) Each evaluation must cost exactly one ``GetMetricData`` request, however many metrics it judges. Counted
    with a botocore ``before-parameter-build`` hook (once per API call, with its parameters) on the CloudWatch
    client the handlers use (``core.aws`` caches one per region; the local alarm evaluator and opsctl have their
    own), for a release judged on the three Lambda metrics (x 2 versions) and for one that also judges a business
    metric. Goal: exactly 1.
(b) The alarm path against the poll it replaces: a release with ``evaluation_interval_seconds=60`` whose gating
    alarm fires mid-bake. Printed: alarm fired -> alias back on the stable version alone (sampled every
    0.25 s), as a ratio to the interval a poll-based abort would wait at worst, and the wait this run's next
    evaluation would actually have had. Goal: ratio well below 1.
Both are ratios/counts within one process; no wall-clock goal is asserted.
"""
from __future__ import annotations

import json
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

from opsctl.canary_runner import JUDGING_STATES
from opsctl.commands.canary import LOCAL_DEFAULTS, LOCAL_GATING_ALARM, local_release
from opsctl.environment import LocalEnvironment

CALLS_GOAL = 1
INTERVAL_SECONDS = 60
FIRE_ALARM_AFTER = 8.0  # seconds after the start: the first step is shifted and baking by then
# Short bakes, as the integration tests use: each release is judged several times within seconds.
FAST = {**LOCAL_DEFAULTS, "bake": {"min_seconds": 5, "min_invocations": 10, "max_wait_seconds": 60,
                                   "final_bake_seconds": 5}}
BUSINESS = {"namespace": "ChurnGuard/Api", "name": "PredictionsServed",
            "dimensions": {"FunctionName": "churnguard-api"}, "statistic": "Sum"}


def request(**overrides: Any) -> dict[str, Any]:
    return {**FAST, "function_name": "churnguard-api", "alias": "live", "new_version": "2",
            "alarms": [LOCAL_GATING_ALARM], "steps": [20, 60, 100], **overrides}


class MetricCalls:
    """GetMetricData requests the canary handlers send (and the queries in each)."""

    def __init__(self) -> None:
        self.queries: list[int] = []
        self._lock = threading.Lock()

    def attach(self) -> None:
        from churnguard_ops.core import aws

        # The very client the handlers get: core.aws caches it per (service, region), and they ask for the
        # session's default region. Hooks registered on it see nothing but the handlers' requests.
        client = aws.client("cloudwatch", aws.default_region())
        client.meta.events.register("before-parameter-build.cloudwatch.GetMetricData", self._seen)

    def _seen(self, params: dict[str, Any], **_: Any) -> None:
        with self._lock:
            self.queries.append(len(params.get("MetricDataQueries", [])))

    def take(self) -> list[int]:
        with self._lock:
            taken, self.queries = self.queries, []
        return taken


class Evaluations:
    """Judging tasks that finished (Evaluate, and WatchWhileWaiting inside the approval gate)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, event: dict[str, Any]) -> None:
        details = event.get("stateExitedEventDetails") or {}
        if event["type"] == "TaskStateExited" and details.get("name") in JUDGING_STATES:
            self.count += 1


def calls_per_evaluation(env: LocalEnvironment, calls: MetricCalls, label: str,
                         release_request: dict[str, Any]) -> dict[str, Any]:
    calls.take()
    evaluations = Evaluations()
    release = local_release(env, release_request, on_event=evaluations)
    queries = calls.take()
    if evaluations.count == 0:
        raise RuntimeError(f"{label}: the release ({release.result.outcome}) was never judged")
    return {"outcome": release.result.outcome, "evaluations": evaluations.count, "requests": len(queries),
            "per_evaluation": round(len(queries) / evaluations.count, 2),
            "queries_per_request": sorted(set(queries))}


class BakeClock:
    """When the release last entered Bake, and for how long it meant to wait there."""

    def __init__(self) -> None:
        self.entered_at: float | None = None
        self.wait_seconds: float | None = None

    def __call__(self, event: dict[str, Any]) -> None:
        if event["type"] == "WaitStateEntered" and event["stateEnteredEventDetails"]["name"] == "Bake":
            self.entered_at = time.monotonic()
            self.wait_seconds = json.loads(event["stateEnteredEventDetails"]["input"]).get("wait_seconds")


def alarm_to_stable(env: LocalEnvironment) -> dict[str, Any]:
    bake = BakeClock()
    release = local_release(env, request(evaluation_interval_seconds=INTERVAL_SECONDS),
                            fire_alarm_after=FIRE_ALARM_AFTER, on_event=bake)
    if release.alarm_fired_at is None or release.stable_again_at is None:
        raise RuntimeError(f"the alias never came back to the stable version alone ({release.result.outcome}: "
                           f"{release.result.reason})")
    seconds = release.stable_again_at - release.alarm_fired_at
    result: dict[str, Any] = {"outcome": release.result.outcome, "alarm_to_stable_s": round(seconds, 2),
                              "interval_s": INTERVAL_SECONDS, "ratio": round(seconds / INTERVAL_SECONDS, 4),
                              "evaluations_before_abort": len(release.result.decisions)}
    # Events are seen when polled (every 0.25 s): this run's next evaluation, to within that.
    if bake.entered_at is not None and bake.wait_seconds is not None:
        result["next_evaluation_after_alarm_s"] = round(
            bake.entered_at + bake.wait_seconds - release.alarm_fired_at, 1)
    return result


def main() -> int:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    results: dict[str, Any] = {"get_metric_data": {}}
    with LocalEnvironment(with_postgres=False, seed=False) as env:
        calls = MetricCalls()
        calls.attach()
        for label, release_request in (
                ("3 metrics", request()),
                ("3 + business metric", request(thresholds={"business": BUSINESS}))):
            results["get_metric_data"][label] = calls_per_evaluation(env, calls, label, release_request)
        results["alarm_abort"] = alarm_to_stable(env)
    for label, r in results["get_metric_data"].items():
        ok = "ok" if r["per_evaluation"] == CALLS_GOAL else "over"
        print(f"{label:<20}: {r['evaluations']} evaluations, {r['requests']} GetMetricData requests "
              f"({r['queries_per_request']} queries each) -> {r['per_evaluation']:g} per evaluation ({ok}); "
              f"release {r['outcome']}")
    per_evaluation = {r["per_evaluation"] for r in results["get_metric_data"].values()}
    worst = max(per_evaluation)
    print(f"GetMetricData calls per evaluation: {worst:g} (goal exactly {CALLS_GOAL}) "
          f"{'ok' if per_evaluation == {CALLS_GOAL} else 'over'}")
    a = results["alarm_abort"]
    line = (f"alarm -> stable: {a['alarm_to_stable_s']:.2f} s; next evaluation would have been up to "
            f"{a['interval_s']} s away (ratio {a['ratio']:.4f})")
    if "next_evaluation_after_alarm_s" in a:
        line += f"; this run's next evaluation was {a['next_evaluation_after_alarm_s']:.1f} s away"
    print(line + f"; release {a['outcome']} after {a['evaluations_before_abort']} evaluations")
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
