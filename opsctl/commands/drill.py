"""opsctl drill run: start a restore drill, follow it state by state, print and save its report."""
from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from opsctl.commands.common import (
    UsageError,
    add_target_options,
    check_out_dir,
    function_name,
    local_target,
    running,
    wants_local,
)
from opsctl.console import backup_summary, progress, still_running, write_json
from opsctl.drill_runner import leftovers, report_summary, run_drill, state_machine_arn
from opsctl.lambda_calls import backup_tick, invoke

MODES = ("latest", "snapshot", "fresh", "point_in_time")
#: Execution-input field -> the option that sets it, so a refused value is named as the operator typed it.
OPTIONS = {"source_instance": "--source", "mode": "--mode", "snapshot_id": "--snapshot-id",
           "restore_time": "--restore-time", "target_region": "--target-region", "poll_seconds": "--poll-seconds",
           "max_wait_seconds": "--max-wait-seconds"}
# RDS DB snapshot identifier: a letter first, then letters, digits, hyphens; no "--", no trailing "-".
SNAPSHOT_ID = re.compile(r"[A-Za-z](?:-?[A-Za-z0-9])*")


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("drill", help="restore drills")
    actions = parser.add_subparsers(dest="action", required=True)
    run_parser = actions.add_parser("run", help="restore a backup, validate it with SQL, time it, prove the "
                                                "PostgreSQL advisor's index proposals on the copy, clean up, report")
    run_parser.add_argument("--source", dest="source_instance",
                            help="configured RDS instance to drill (default: the first configured one)")
    run_parser.add_argument("--mode", choices=MODES,
                            help="recovery point: the newest backup snapshot (latest, the default), a named one "
                                 "(snapshot, implied by --snapshot-id), one taken now (fresh), or a time "
                                 "(point_in_time, implied by --restore-time)")
    run_parser.add_argument("--snapshot-id", help="snapshot to restore, for --mode snapshot")
    run_parser.add_argument("--restore-time", help="ISO-8601 time to restore to, for --mode point_in_time")
    run_parser.add_argument("--target-region", choices=("primary", "dr"), default="primary",
                            help="restore in the primary region or from the copies in the DR region")
    run_parser.add_argument("--poll-seconds", type=int, help="wait between polls (default 1 locally, 30 on AWS)")
    run_parser.add_argument("--max-wait-seconds", type=int, default=3600,
                            help="give up (and clean up) when the snapshot or instance is not ready after this "
                                 "(default 3600)")
    run_parser.add_argument("--source-dsn", help="local only: drill a copy of this PostgreSQL database")
    add_target_options(run_parser)
    run_parser.set_defaults(run=run)


@dataclass
class DrillTarget:
    """What the drill may touch, as configured where it runs (None: unknown, the drill itself decides)."""

    sources: list[str] | None
    primary_region: str | None
    dr_region: str | None

    def region(self, target_region: str) -> str | None:
        return self.dr_region if target_region == "dr" else self.primary_region


def _mode(args: argparse.Namespace) -> str:
    implied = "snapshot" if args.snapshot_id else "point_in_time" if args.restore_time else "latest"
    mode = args.mode or implied
    if args.snapshot_id and mode != "snapshot":
        raise UsageError(f"--snapshot-id is for --mode snapshot, not --mode {mode}")
    if args.restore_time and mode != "point_in_time":
        raise UsageError(f"--restore-time is for --mode point_in_time, not --mode {mode}")
    if mode == "snapshot" and not args.snapshot_id:
        raise UsageError("--mode snapshot needs --snapshot-id ID")
    if mode == "point_in_time" and not args.restore_time:
        raise UsageError("--mode point_in_time needs --restore-time ISO-8601")
    if args.target_region == "dr" and mode in ("fresh", "point_in_time"):
        raise UsageError(f"--mode {mode} restores in the primary region; drill the DR copies with --mode latest "
                         "or --mode snapshot")
    if args.restore_time:
        try:
            datetime.fromisoformat(args.restore_time.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(f"--restore-time {args.restore_time}: not an ISO 8601 time such as "
                             "2026-11-28T10:00:00Z") from None
    if args.snapshot_id and not (args.snapshot_id.startswith("arn:") or SNAPSHOT_ID.fullmatch(args.snapshot_id)):
        raise UsageError(f"--snapshot-id {args.snapshot_id!r}: not an RDS snapshot identifier (a letter first, "
                         "then letters, digits and single hyphens)")
    return mode


def drill_input(args: argparse.Namespace, local: bool) -> dict:
    """The execution input, checked with the same model the drill's tasks parse it with."""
    from pydantic import ValidationError

    from churnguard_ops.drill.model import DrillInput

    payload = {"mode": _mode(args), "target_region": args.target_region,
               "poll_seconds": args.poll_seconds if args.poll_seconds is not None else (1 if local else 30),
               "max_wait_seconds": args.max_wait_seconds}
    for key in ("source_instance", "snapshot_id", "restore_time"):
        if getattr(args, key):
            payload[key] = getattr(args, key)
    try:
        DrillInput.model_validate(payload)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else ""
        option = OPTIONS.get(field, "drill input")
        shown = f" {payload[field]}" if field in payload else ""
        raise UsageError(f"{option}{shown}: {error['msg'].removeprefix('Value error, ')}") from None
    return payload


def _check_source_dsn(dsn: str) -> None:
    import psycopg2

    try:
        psycopg2.connect(dsn, connect_timeout=5).close()
    except psycopg2.Error as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise UsageError(f"--source-dsn: cannot connect to that database ({reason})") from None


def _deployed_target(args: argparse.Namespace) -> DrillTarget:
    """On AWS: what the deployed Plan function was configured with (if this identity may read it)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    region = boto3.session.Session().region_name
    try:
        config = boto3.client("lambda").get_function_configuration(FunctionName=f"{args.prefix}-drill-plan")
    except (BotoCoreError, ClientError):
        return DrillTarget(None, region, None)  # the Plan task still refuses what is not configured
    variables = config.get("Environment", {}).get("Variables", {})
    sources = json.loads(variables["DRILL_DB_INSTANCE_IDS"]) if "DRILL_DB_INSTANCE_IDS" in variables else None
    return DrillTarget(sources, region, variables.get("DRILL_DR_REGION"))


def _check_source(target: DrillTarget, source: str | None) -> None:
    if source and target.sources is not None and source not in target.sources:
        raise UsageError(f"--source {source}: not a configured drill source; configured: {', '.join(target.sources)}")


def _check_snapshot(target: DrillTarget, payload: dict[str, Any]) -> None:
    """The named snapshot exists where the drill will look for it, and is of the drilled instance."""
    import boto3

    snapshot_id, region = payload["snapshot_id"], target.region(payload["target_region"])
    if region is None and payload["target_region"] == "dr":
        return  # DR region unknown here; the Plan task checks it there
    rds = boto3.client("rds", region_name=region)
    try:
        found = rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot_id)["DBSnapshots"]
    except rds.exceptions.DBSnapshotNotFoundFault:
        found = []
    source = payload.get("source_instance") or (target.sources[0] if target.sources else None)
    if not found:
        others = rds.describe_db_snapshots(**({"DBInstanceIdentifier": source} if source else {}))["DBSnapshots"]
        newest = sorted(others, key=lambda s: str(s.get("SnapshotCreateTime", "")), reverse=True)[:3]
        hint = f"; {len(others)} snapshot(s) of {source} there, e.g. " if newest and source else ""
        hint += ", ".join(s["DBSnapshotIdentifier"] for s in newest) if hint else ""
        raise UsageError(f"--snapshot-id {snapshot_id}: no such snapshot in {rds.meta.region_name}{hint}")
    of = found[0].get("DBInstanceIdentifier")
    if source and of != source:
        raise UsageError(f"--snapshot-id {snapshot_id} is a snapshot of {of}, not of {source} (add --source {of})")


def run(args: argparse.Namespace) -> int:
    # Every input is checked before anything starts: the embedded AWS takes seconds to come up.
    if args.source_dsn and not args.local:
        raise UsageError("--source-dsn only works with --local (it names the database the embedded RDS serves)")
    check_out_dir(args.out)
    local = wants_local(args)
    payload = drill_input(args, local)
    if args.source_dsn:
        _check_source_dsn(args.source_dsn)
    env = local_target(args, source_dsn=args.source_dsn)
    target = (DrillTarget(list(env.context.backup.db_instance_ids), env.region, env.context.backup.dr_region)
              if env is not None else _deployed_target(args))
    _check_source(target, payload.get("source_instance"))
    with running(env):
        if "snapshot_id" in payload:
            _check_snapshot(target, payload)  # only now: snapshots exist only once the account is up
        if env is not None and payload["mode"] == "latest":
            # A fresh local account has no backup with a baseline yet: take one, as the hourly schedule would.
            progress("taking a database backup first, as the hourly schedule would")
            with still_running("taking the backup"):
                tick = invoke(function_name(env, args, "backup"), backup_tick("database",
                                                                              when=datetime.now(timezone.utc)))
            print(backup_summary(tick.payload) if tick.ok else f"backup FAILED: {tick.payload}")
        machine = state_machine_arn(args.prefix)
        run_result = run_drill(machine, payload)
        regions = [env.region, env.context.backup.dr_region] if env is not None else []
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
