"""opsctl canary run | approve | reject: start a canary release, follow it live, answer its approval."""
from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsctl.commands.common import (
    UsageError,
    add_target_options,
    check_out_dir,
    check_request,
    local_target,
    read_event,
    running,
    wants_local,
)
from opsctl.console import progress, write_json

# A whole release in about a minute and a half on the embedded AWS: metrics at 5 s resolution (it keeps
# raw values), short bakes. On AWS the request's own defaults apply (AWS/Lambda metrics are per minute).
LOCAL_DEFAULTS: dict[str, Any] = {
    "metric_period_seconds": 5, "evaluation_interval_seconds": 5,
    "bake": {"min_seconds": 10, "min_invocations": 20, "max_wait_seconds": 60, "final_bake_seconds": 10},
    # Over ~20 local invocations the p99 is the slowest call, and on a busy machine one call can take 50 ms
    # more than its neighbours: judge latency against the stable version only beyond 250 ms.
    "thresholds": {"relative_floor_p99_ms": 250.0},
}


def with_local_defaults(request: dict[str, Any]) -> dict[str, Any]:
    """``request`` over the local defaults; ``bake`` and ``thresholds`` are merged key by key."""
    return {**LOCAL_DEFAULTS, **request,
            **{key: {**LOCAL_DEFAULTS[key], **request.get(key, {})} for key in ("bake", "thresholds")}}
#: The gating alarm the local run creates: it watches a dependency (DB connections) the release does not
#: move, so only --fire-alarm-after trips it, and the judge alone decides on the candidate's own metrics.
LOCAL_GATING_ALARM = "churnguard-api-db-connections-high"
#: Request fields -> the option that sets them, so a refused value is named as the operator typed it.
OPTIONS = {"function_name": "--function", "alias": "--alias", "new_version": "--version", "steps": "--steps",
           "alarms": "--alarm", "approval": "--approval-timeout", "bake": "--min-seconds/--min-invocations/"
           "--max-wait-seconds", "thresholds": "--max-error-rate/--max-p99-ms",
           "evaluation_interval_seconds": "--interval", "metric_period_seconds": "--metric-period"}


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("canary", help="canary releases of Lambda functions behind an alias")
    actions = parser.add_subparsers(dest="action", required=True)

    run_parser = actions.add_parser(
        "run", help="shift an alias to a new version step by step, judged on CloudWatch; promote or roll back",
        description="Starts the release state machine and prints each shift and decision as it happens. Exit code "
                    "0: promoted; 1: rolled back, aborted by an alarm or refused; 2: bad input.")
    run_parser.add_argument("--request", metavar="FILE", help="a release request as JSON (flags override its fields)")
    run_parser.add_argument("--function", dest="function_name", help="the Lambda function (locally: churnguard-api)")
    run_parser.add_argument("--alias", help="the alias whose traffic moves (default live)")
    run_parser.add_argument("--version", dest="new_version", help="the published version to release "
                                                                  "(locally: the sample API's candidate, 2)")
    run_parser.add_argument("--steps", help="comma-separated weights ending at 100 (default 10,25,50,75,100; "
                                            "100 alone is blue-green)")
    run_parser.add_argument("--alarm", dest="alarms", action="append", metavar="NAME",
                            help="a CloudWatch alarm that aborts the release when it goes to ALARM (repeatable)")
    run_parser.add_argument("--pre-existing-alarm", choices=("block", "ignore"),
                            help="an alarm already in ALARM at the start blocks it (default) or is ignored "
                                 "(a fix must be able to go out)")
    run_parser.add_argument("--approval-timeout", type=int, metavar="SECONDS",
                            help="ask a human before 100 %% (opsctl canary approve); no answer in time rolls back")
    run_parser.add_argument("--min-seconds", type=int, help="each step bakes at least this long")
    run_parser.add_argument("--min-invocations", type=int, help="... and until the new version served this many")
    run_parser.add_argument("--max-wait-seconds", type=int, help="too few invocations by then: NO_DATA")
    run_parser.add_argument("--max-error-rate", type=float, metavar="PCT", help="error rate above this fails "
                                                                                "(default 1.0)")
    run_parser.add_argument("--max-p99-ms", type=float, help="p99 latency above this fails (default 2000)")
    run_parser.add_argument("--interval", type=int, metavar="SECONDS", dest="evaluation_interval_seconds",
                            help="between evaluations (default 60; 5 locally)")
    run_parser.add_argument("--metric-period", type=int, choices=(1, 5, 10, 30, 60), dest="metric_period_seconds",
                            help="metric resolution in seconds (default 60, AWS/Lambda's; 5 locally)")
    run_parser.add_argument("--bad-version-error-rate", type=float, default=0.0, metavar="X",
                            help="local only: the candidate version fails this fraction of requests (0..1)")
    run_parser.add_argument("--bad-version-latency-ms", type=float, default=50.0,
                            help="local only: the candidate version's latency (default 50 ms, like v1)")
    run_parser.add_argument("--rps", type=float, default=20.0,
                            help="local only: requests per second the traffic generator sends to the alias")
    run_parser.add_argument("--fire-alarm-after", type=float, metavar="SECONDS",
                            help="local only: set the gating alarm to ALARM this long after the start")
    add_target_options(run_parser)
    run_parser.set_defaults(run=run)

    for name, text in (("approve", "let a release waiting for approval go on to 100 % (or resume a held one)"),
                       ("reject", "roll back a release waiting for approval (or held)")):
        answer = actions.add_parser(name, help=text)
        answer.add_argument("--execution", required=True, metavar="ARN", help="the release's execution ARN")
        if name == "approve":
            answer.add_argument("--by", help="who approves (default: the local user)")
        else:
            answer.add_argument("--reason", required=True, help="why: recorded as the rollback's reason")
        answer.set_defaults(run=approve if name == "approve" else reject)


def _steps(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise UsageError(f"--steps {text}: comma-separated whole percentages such as 10,25,50,75,100") from None


def release_request(args: argparse.Namespace, local: bool) -> dict[str, Any]:
    """The execution input, checked with the model the Validate task parses it with."""

    from churnguard_ops.canary.model import ReleaseRequest

    request: dict[str, Any] = dict(read_event(Path(args.request))) if args.request else {}
    if local:
        request = with_local_defaults(request)
        request.setdefault("function_name", "churnguard-api")
        request.setdefault("new_version", "2")
        request.setdefault("alarms", [LOCAL_GATING_ALARM])
    request.setdefault("alias", "live")
    for key in ("function_name", "alias", "new_version", "evaluation_interval_seconds", "metric_period_seconds",
                "pre_existing_alarm"):
        if getattr(args, key, None) is not None:
            request[key] = getattr(args, key)
    if args.steps:
        request["steps"] = _steps(args.steps)
    if args.alarms:
        request["alarms"] = sorted(set(request.get("alarms", [])) | set(args.alarms))
    if args.approval_timeout is not None:
        request["approval"] = {"required": True, "timeout_seconds": args.approval_timeout}
    for option, key in (("min_seconds", "min_seconds"), ("min_invocations", "min_invocations"),
                        ("max_wait_seconds", "max_wait_seconds")):
        if getattr(args, option) is not None:
            request.setdefault("bake", {})[key] = getattr(args, option)
    for option, key in (("max_error_rate", "max_error_rate_pct"), ("max_p99_ms", "max_p99_ms")):
        if getattr(args, option) is not None:
            request.setdefault("thresholds", {})[key] = getattr(args, option)
    if local and "business" not in request.get("thresholds", {}):
        request.setdefault("thresholds", {})["business"] = {
            "namespace": "ChurnGuard/Api", "name": "PredictionsServed",
            "dimensions": {"FunctionName": request["function_name"]}, "statistic": "Sum"}
    if "function_name" not in request or "new_version" not in request:
        raise UsageError("--function and --version are required (or a --request file naming them)")
    return check_request(ReleaseRequest, request, lambda field: OPTIONS.get(field, "release request"))


def run(args: argparse.Namespace) -> int:
    check_out_dir(args.out)
    local = wants_local(args)
    if not local and (args.fire_alarm_after is not None or args.bad_version_error_rate):
        raise UsageError("--bad-version-error-rate and --fire-alarm-after only work with --local")
    if not 0.0 <= args.bad_version_error_rate <= 1.0:
        raise UsageError(f"--bad-version-error-rate {args.bad_version_error_rate}: a fraction from 0 to 1")
    if args.rps <= 0:
        raise UsageError(f"--rps {args.rps}: must be positive")
    request = release_request(args, local)
    if not local:
        return _finish(args, _run_on_aws(args, request), request, traffic=None)
    env = local_target(args)
    assert env is not None
    env.with_postgres = env.seed = False  # a release needs Lambda, CloudWatch, Step Functions; no database
    with running(env):
        assert env is not None
        return _run_locally(args, env, request)


def _run_on_aws(args: argparse.Namespace, request: dict[str, Any]) -> Any:
    from opsctl import canary_runner

    machine = canary_runner.state_machine_arn(args.prefix)
    arn = canary_runner.start(machine, request)
    progress(f"started release {arn}")
    return canary_runner.follow(arn, request.get("steps") or [10, 25, 50, 75, 100], poll_interval=5)


def _run_locally(args: argparse.Namespace, env: Any, request: dict[str, Any]) -> int:
    release = local_release(env, request, error_rate=args.bad_version_error_rate,
                            latency_ms=args.bad_version_latency_ms, rps=args.rps,
                            fire_alarm_after=args.fire_alarm_after, prefix=args.prefix)
    return _finish(args, release.result, request, traffic=release.traffic, alias=release.alias)


@dataclass
class LocalRelease:
    result: Any  # canary_runner.ReleaseRun
    alias: dict[str, Any]
    traffic: dict[str, Any]
    alarm_fired_at: float | None = None  # time.monotonic() when the gating alarm was set to ALARM
    stable_again_at: float | None = None  # ... and when the alias was seen back on the stable version alone


def local_release(env: Any, request: dict[str, Any], *, error_rate: float = 0.0, latency_ms: float = 50.0,
                  rps: float = 20.0, fire_alarm_after: float | None = None, prefix: str = "churnguard-ops",
                  on_start: Callable[[str], None] | None = None,
                  on_event: Callable[[dict[str, Any]], None] | None = None) -> LocalRelease:
    """One release of the sample API on the embedded AWS, with traffic flowing, followed to its end."""
    from opsctl import canary_runner
    from opsctl.local.sample_api import SampleApi
    from opsctl.local.traffic import TrafficGenerator

    progress(f"deploying the sample API churnguard-api: v1 healthy, v2 with error rate {error_rate:g} and "
             f"{latency_ms:g} ms latency")
    lam, cloudwatch = env.aws.client("lambda"), env.aws.client("cloudwatch")
    with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
        lam.delete_function(FunctionName="churnguard-api")  # a previous release in this account (the demo)
    api = SampleApi.deploy(env.aws, error_rate=error_rate, latency_ms=latency_ms)
    if request["function_name"] != api.name or request["new_version"] != api.candidate:
        raise UsageError(f"--local releases the sample API {api.name} version {api.candidate}")
    create_local_gating_alarm(cloudwatch, api.name)
    env.aws.alarms.start(2.0)
    traffic = TrafficGenerator(env.aws, f"{api.name}:{api.alias}", rps).start()
    release = LocalRelease(result=None, alias={}, traffic={})
    timer = None
    try:
        machine = canary_runner.state_machine_arn(prefix)
        arn = canary_runner.start(machine, request)
        progress(f"started release {arn.rsplit(':', 1)[-1]} with {rps:g} requests/s on {api.name}:{api.alias}")
        if on_start:
            on_start(arn)
        if fire_alarm_after is not None:
            def fire() -> None:
                release.alarm_fired_at = time.monotonic()
                fire_alarm(cloudwatch)
            timer = threading.Timer(fire_alarm_after, fire)
            timer.start()

        def watch_alias(_: dict[str, Any]) -> None:
            if release.alarm_fired_at and release.stable_again_at is None and _alias(lam, api) == {
                    "version": api.stable, "additional_weights": {}}:
                release.stable_again_at = time.monotonic()

        release.result = canary_runner.follow(arn, request.get("steps") or [10, 25, 50, 75, 100],
                                              poll_interval=0.25, on_poll=watch_alias, on_event=on_event)
    finally:
        if timer:
            timer.cancel()
        release.traffic = traffic.stop().as_dict()
        env.aws.alarms.stop()
    release.alias = _alias(lam, api)
    if release.alarm_fired_at and release.stable_again_at:
        progress(f"  alias back on v{api.stable} alone {release.stable_again_at - release.alarm_fired_at:.1f} s "
                 "after the alarm fired")
    return release


def create_local_gating_alarm(cloudwatch: Any, function_name: str) -> None:
    """The alarm a local release is gated by, created (or reset) in OK."""
    cloudwatch.put_metric_alarm(
        AlarmName=LOCAL_GATING_ALARM, Namespace="ChurnGuard/Api", MetricName="DatabaseConnections",
        Dimensions=[{"Name": "FunctionName", "Value": function_name}], Statistic="Maximum", Period=10,
        EvaluationPeriods=1, Threshold=80, ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching", AlarmDescription="ChurnGuard API database connections > 80: abort releases")
    state = cloudwatch.describe_alarms(AlarmNames=[LOCAL_GATING_ALARM])["MetricAlarms"][0]["StateValue"]
    if state != "OK":  # a previous run in this account left it in ALARM (or it is new)
        cloudwatch.set_alarm_state(AlarmName=LOCAL_GATING_ALARM, StateValue="OK",
                                   StateReason="no database connection data: notBreaching")


def fire_alarm(cloudwatch: Any) -> None:
    progress(f"  !! {LOCAL_GATING_ALARM} goes to ALARM (simulated database overload)")
    cloudwatch.set_alarm_state(AlarmName=LOCAL_GATING_ALARM, StateValue="ALARM",
                               StateReason="Threshold Crossed: 1 datapoint [97.0] was greater than the threshold "
                                           "(80.0) (simulated by opsctl canary run --fire-alarm-after)")


def _alias(lam: Any, api: Any) -> dict[str, Any]:
    alias = lam.get_alias(FunctionName=api.name, Name=api.alias)
    return {"version": alias["FunctionVersion"],
            "additional_weights": (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}}


def _finish(args: argparse.Namespace, result: Any, request: dict[str, Any], *, traffic: dict[str, Any] | None,
            alias: dict[str, Any] | None = None) -> int:
    print(f"release {result.outcome.upper()} after {result.seconds:.0f} s: {result.reason}")
    for decision in result.decisions:
        print(f"  decision at {decision.get('weight')} %: {decision.get('verdict')} -> {decision.get('action')}; "
              f"{'; '.join(decision.get('reasons') or [])}")
        if decision.get("location"):
            print(f"    record: {decision['location']}")
    if alias is not None:
        weights = alias["additional_weights"]
        print(f"alias now: version {alias['version']}" + (f" + {weights}" if weights else " (no extra weights)"))
    if traffic is not None:
        by_version = ", ".join(f"v{v}: {n}" for v, n in sorted(traffic.get("by_version", {}).items()))
        print(f"traffic: {traffic.get('requests')} requests ({by_version}), errors {traffic.get('errors_by_version')}")
    summary = {**result.as_dict(), "request": request, "alias": alias, "traffic": traffic}
    for name, payload in (("release.json", summary), ("decisions.json", result.decisions)):
        path = write_json(args.out, name, payload)
        if path:
            print(f"wrote {path}")
    return 0 if result.outcome == "promoted" else 1


def approve(args: argparse.Namespace) -> int:
    import boto3

    from opsctl import canary_runner

    state, token = canary_runner.pending_token(args.execution)
    by = args.by or getpass.getuser()
    boto3.client("stepfunctions").send_task_success(taskToken=token, output=json.dumps({"approved_by": by}))
    print(f"{'approved' if state == 'AwaitApproval' else 'resumed'} by {by}: {args.execution}")
    return 0


def reject(args: argparse.Namespace) -> int:
    import boto3

    from churnguard_ops.core.contracts import CANARY_REJECTED_ERROR
    from opsctl import canary_runner

    _, token = canary_runner.pending_token(args.execution)
    boto3.client("stepfunctions").send_task_failure(taskToken=token, error=CANARY_REJECTED_ERROR,
                                                    cause=args.reason[:32000])
    print(f"rejected: {args.execution} rolls back ({args.reason})")
    return 0
