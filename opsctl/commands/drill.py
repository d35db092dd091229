"""opsctl drill run: start a restore drill, follow it state by state, print and save its report."""
from __future__ import annotations

import argparse
from datetime import datetime, timezone

from opsctl.commands.common import add_target_options, function_name, target
from opsctl.console import backup_summary, progress, write_json
from opsctl.drill_runner import leftovers, new_drill_id, report_summary, run_drill, state_machine_arn
from opsctl.lambda_calls import backup_tick, invoke


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("drill", help="restore drills")
    actions = parser.add_subparsers(dest="action", required=True)
    run_parser = actions.add_parser("run", help="restore a backup, validate it with SQL, clean up, report")
    run_parser.add_argument("--source", dest="source_instance", help="configured RDS instance to drill")
    run_parser.add_argument("--mode", choices=("latest", "snapshot", "fresh", "point_in_time"), default="latest")
    run_parser.add_argument("--snapshot-id")
    run_parser.add_argument("--restore-time", help="ISO-8601, for --mode point_in_time")
    run_parser.add_argument("--target-region", choices=("primary", "dr"), default="primary")
    run_parser.add_argument("--poll-seconds", type=int, help="wait between polls (default 1 locally, 30 on AWS)")
    run_parser.add_argument("--max-wait-seconds", type=int, default=3600)
    run_parser.add_argument("--source-dsn", help="local only: drill a copy of this PostgreSQL database")
    add_target_options(run_parser)
    run_parser.set_defaults(run=run)


def drill_input(args: argparse.Namespace, local: bool) -> dict:
    payload = {"drill_id": new_drill_id(), "mode": args.mode, "target_region": args.target_region,
               "poll_seconds": args.poll_seconds or (1 if local else 30), "max_wait_seconds": args.max_wait_seconds}
    for key in ("source_instance", "snapshot_id", "restore_time"):
        if getattr(args, key):
            payload[key] = getattr(args, key)
    return payload


def run(args: argparse.Namespace) -> int:
    if args.source_dsn and not args.local:
        raise SystemExit("--source-dsn only works with --local (it names the database the embedded RDS serves)")
    with target(args, source_dsn=args.source_dsn) as env:
        local = env is not None
        if local and args.mode == "latest":
            # A fresh local account has no backup with a baseline yet: take one, as the hourly schedule would.
            progress("taking a database backup first, as the hourly schedule would")
            tick = invoke(function_name(env, args, "backup"), backup_tick("database", when=datetime.now(timezone.utc)))
            print(backup_summary(tick.payload) if tick.ok else f"backup FAILED: {tick.payload}")
        machine = state_machine_arn(args.prefix)
        run_result = run_drill(machine, drill_input(args, local))
        regions = [env.region, env.context.backup.dr_region] if local else []
        left = leftovers(regions) if local else []
    report = run_result.report
    print(report_summary(report) if report else f"no report was written (execution {run_result.status})")
    if local:
        print(f"  left behind: {', '.join(left) if left else 'nothing'}")
    write_json(args.out, "drill-report.json", report)
    write_json(args.out, "drill-run.json", {"execution_arn": run_result.execution_arn, "status": run_result.status,
                                            "states": run_result.states, "transitions": run_result.transitions,
                                            "seconds": run_result.seconds, "left_behind": left})
    ok = run_result.status == "SUCCEEDED" and report is not None and report["passed"] and not left
    progress("drill " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1
