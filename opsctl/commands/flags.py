"""opsctl flags list | evaluate | rollout: the deployed feature flags, an explained evaluation, a judged ramp."""
from __future__ import annotations

import argparse
from typing import Any

from opsctl.commands.common import (
    UsageError,
    add_target_options,
    check_out_dir,
    check_request,
    local_target,
    running,
    wants_local,
)
from opsctl.console import progress, write_json

DEFAULT_ENVIRONMENT = "production"
#: Request fields -> the option that sets them, so a refused value is named as the operator typed it.
OPTIONS = {"steps": "--steps", "flag": "FLAG/--environment", "approval": "--approval-timeout",
           "bake": "--min-seconds/--min-invocations/--max-wait-seconds", "thresholds": "--max-error-rate/--max-p99-ms",
           "evaluation_interval_seconds": "--interval"}


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("flags", help="feature flags on AppConfig: list, explain an evaluation, ramp one")
    actions = parser.add_subparsers(dest="action", required=True)

    list_parser = actions.add_parser(
        "list", help="the flag document an environment serves (its newest completed deployment)",
        description="One line per flag: default, rules, rollout percentage and salt, kill switch, and the hosted "
                    "version deployed.")
    list_parser.add_argument("--environment", default=DEFAULT_ENVIRONMENT, help="AppConfig environment "
                                                                                 "(default production)")
    add_target_options(list_parser)
    list_parser.set_defaults(run=list_flags)

    evaluate_parser = actions.add_parser(
        "evaluate", help="evaluate a flag for a context on the deployed document and explain the answer",
        description="Prints the value, the reason (kill_switch, rule:<name>, rollout, default, ...), the variant, "
                    "the user's bucket against the rollout threshold, which rule matched or why none did, and the "
                    "document version. Exit code 2: bad context or unknown flag.")
    evaluate_parser.add_argument("flag", metavar="FLAG", help="the flag key, e.g. new_dashboard_ui")
    evaluate_parser.add_argument("--context", required=True, metavar="JSON",
                                 help='the evaluation context as JSON ({"user_id": "u-42", "subscription_tier": '
                                      '"free"}) or @FILE')
    evaluate_parser.add_argument("--environment", default=DEFAULT_ENVIRONMENT,
                                 help="AppConfig environment (default production)")
    add_target_options(evaluate_parser)
    evaluate_parser.set_defaults(run=evaluate_flag)

    rollout_parser = actions.add_parser(
        "rollout", help="ramp a flag's rollout percentage step by step, judged on its on vs off cohorts",
        description="Starts a flag release in the canary state machine and prints each step's cohort decision (on "
                    "vs off: requests, error rate, p99, sample-ratio check). Exit code 0: promoted (100 %); 1: "
                    "rolled back (the percentage it started from) or aborted; 2: bad input.")
    rollout_parser.add_argument("flag", metavar="FLAG", help="a flag with a rollout, e.g. new_dashboard_ui")
    rollout_parser.add_argument("--steps", help="comma-separated percentages above the current one, ending at 100 "
                                                "(default 10,25,50,75,100)")
    rollout_parser.add_argument("--environment", default=DEFAULT_ENVIRONMENT,
                                help="AppConfig environment (default production)")
    rollout_parser.add_argument("--approval-timeout", type=int, metavar="SECONDS",
                                help="ask a human before 100 %% (opsctl canary approve); no answer in time rolls back")
    rollout_parser.add_argument("--min-seconds", type=int, help="each step bakes at least this long")
    rollout_parser.add_argument("--min-invocations", type=int, help="... and until the on cohort made this many "
                                                                    "requests")
    rollout_parser.add_argument("--max-wait-seconds", type=int, help="too few requests by then: NO_DATA")
    rollout_parser.add_argument("--max-error-rate", type=float, metavar="PCT",
                                help="an on-cohort error rate above this fails (default 1.0)")
    rollout_parser.add_argument("--max-p99-ms", type=float, help="an on-cohort p99 above this fails (default 2000)")
    rollout_parser.add_argument("--interval", type=int, metavar="SECONDS", dest="evaluation_interval_seconds",
                                help="between evaluations (default 60; 5 locally)")
    rollout_parser.add_argument("--propagation-seconds", type=int, metavar="SECONDS",
                                help="the applications' flag cache period: each bake starts this long after its "
                                     "deployment (default 0; 16 locally)")
    rollout_parser.add_argument("--flag-on-error-rate", type=float, default=0.0, metavar="R",
                                help="local only: the sample API fails this fraction (0..1) of the flag-on "
                                     "cohort's requests")
    rollout_parser.add_argument("--rps", type=float, default=20.0,
                                help="local only: requests per second of distinct users to the sample API")
    add_target_options(rollout_parser)
    rollout_parser.set_defaults(run=rollout)


def list_flags(args: argparse.Namespace) -> int:
    from opsctl import flags_runner

    check_out_dir(args.out)
    with running(_local(args)):
        served = flags_runner.deployed(args.environment)
        rows = flags_runner.flag_rows(served)
    print(f"{args.environment}: {len(rows)} flag(s), hosted version {served.version} (deployment "
          f"{served.deployment})")
    print(flags_runner.table(rows))
    path = write_json(args.out, "flags.json", {"environment": args.environment, "version": served.version,
                                               "deployment": served.deployment, "flags": rows,
                                               "document": served.document.model_dump(mode="json")})
    if path:
        print(f"wrote {path}")
    return 0


def evaluate_flag(args: argparse.Namespace) -> int:
    from opsctl import flags_runner

    check_out_dir(args.out)
    context = flags_runner.parse_context(args.context)  # before anything starts: bad input costs nothing
    with running(_local(args)):
        served = flags_runner.deployed(args.environment)
    result, why = flags_runner.evaluate_explained(served, args.flag, context)
    print(flags_runner.headline(result))
    for line in why:
        print(f"  {line}")
    path = write_json(args.out, "evaluation.json", {**result.to_dict(), "explanation": why, "context": context,
                                                    "environment": args.environment})
    if path:
        print(f"wrote {path}")
    return 0


def _steps(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise UsageError(f"--steps {text}: comma-separated whole percentages such as 10,25,50,100") from None


def rollout_request(args: argparse.Namespace, local: bool) -> dict[str, Any]:
    """The execution input, checked with the model the Validate task parses it with."""

    from churnguard_ops.canary.model import FlagReleaseRequest
    from opsctl import flags_runner

    request = flags_runner.flag_request(args.flag, args.environment, _steps(args.steps) if args.steps else None,
                                        local=local)
    if args.approval_timeout is not None:
        request["approval"] = {"required": True, "timeout_seconds": args.approval_timeout}
    for option in ("min_seconds", "min_invocations", "max_wait_seconds"):
        if getattr(args, option) is not None:
            request.setdefault("bake", {})[option] = getattr(args, option)
    for option, key in (("max_error_rate", "max_error_rate_pct"), ("max_p99_ms", "max_p99_ms")):
        if getattr(args, option) is not None:
            request.setdefault("thresholds", {})[key] = getattr(args, option)
    for option in ("evaluation_interval_seconds", "propagation_seconds"):
        if getattr(args, option) is not None:
            request[option] = getattr(args, option)
    return check_request(FlagReleaseRequest, request,
                         lambda field: OPTIONS.get(field, "--" + field.replace("_", "-")))


def rollout(args: argparse.Namespace) -> int:
    check_out_dir(args.out)
    local = wants_local(args)
    if not local and args.flag_on_error_rate:
        raise UsageError("--flag-on-error-rate only works with --local (it breaks the local sample API)")
    if not 0.0 <= args.flag_on_error_rate <= 1.0:
        raise UsageError(f"--flag-on-error-rate {args.flag_on_error_rate}: a fraction from 0 to 1")
    if args.rps <= 0:
        raise UsageError(f"--rps {args.rps}: must be positive")
    request = rollout_request(args, local)
    if not local:
        return _finish(args, request, *_rollout_on_aws(args, request), traffic=None)
    env = local_target(args)
    assert env is not None
    env.with_postgres = env.seed = False  # a flag release needs AppConfig, Lambda, CloudWatch, Step Functions
    with running(env):
        from opsctl import flags_runner

        release = flags_runner.local_flag_release(env, request, flag_on_error_rate=args.flag_on_error_rate,
                                                  rps=args.rps, prefix=args.prefix)
        return _finish(args, request, release.result, release.records, traffic=release.traffic,
                       percentages=(release.before, release.after))


def _rollout_on_aws(args: argparse.Namespace, request: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
    from opsctl import canary_runner, flags_runner

    arn = canary_runner.start(canary_runner.state_machine_arn(args.prefix), request)
    progress(f"started flag release {arn}")
    return flags_runner.follow_flag_release(arn, request.get("steps") or [10, 25, 50, 75, 100])


def _finish(args: argparse.Namespace, request: dict[str, Any], result: Any, records: list[dict[str, Any]], *,
            traffic: dict[str, Any] | None, percentages: tuple[float | None, float | None] | None = None) -> int:
    from opsctl import flags_runner

    flag = request["flag"]
    print(f"flag release of {flag['key']} in {flag['environment']} {result.outcome.upper()} after "
          f"{result.seconds:.0f} s: {result.reason}")
    for record in records:
        print(f"  {flags_runner.cohort_line(record)}")
        if record.get("verdict") != "PASS":
            for reason in record.get("reasons") or []:
                print(f"      {reason}")
    if percentages is not None:
        print(f"rollout of {flag['key']}: {percentages[0]:g} % before, {percentages[1]:g} % now"
              if None not in percentages else f"rollout of {flag['key']}: {percentages}")
    if traffic is not None:
        print(f"traffic: {traffic.get('requests')} requests, {sum(traffic.get('errors_by_version', {}).values())} "
              f"failed, {traffic.get('achieved_rate')} requests/s")
    summary = {**result.as_dict(), "request": request, "records": records, "traffic": traffic,
               "percentage_before": percentages[0] if percentages else None,
               "percentage_after": percentages[1] if percentages else None}
    path = write_json(args.out, "flag-release.json", summary)
    if path:
        print(f"wrote {path}")
    return 0 if result.outcome == "promoted" else 1


def _local(args: argparse.Namespace) -> Any:
    env = local_target(args)
    if env is not None:
        env.with_postgres = env.seed = False  # flags need AppConfig alone
    return env
