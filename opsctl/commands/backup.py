"""opsctl backup run: run backup policies now, as their schedules would."""
from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from churnguard_ops.backup.policy import POLICY_NAMES
from opsctl.commands.common import UsageError, add_target_options, check_out_dir, function_name, local_target, running
from opsctl.console import backup_summary, progress, still_running, write_json
from opsctl.lambda_calls import Invocation, backup_tick, invoke

if TYPE_CHECKING:
    from opsctl.local.faults import Fault

POLICIES = POLICY_NAMES
#: Said before an injected fault: the functions' clients retry throttling (adaptive mode, exponential
#: back-off), so a throttled call takes a while to fail (7 attempts: 34-49 s measured; 3: a few seconds).
RETRY_NOTE = ("botocore retries throttled calls with back-off (AWS_MAX_ATTEMPTS attempts: 3 on the embedded AWS, "
              "7 by default), so expect some seconds before the tick reports")


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("backup", help="backups")
    actions = parser.add_subparsers(dest="action", required=True)
    run_parser = actions.add_parser("run", help="run backup policies now")
    run_parser.add_argument("--policy", choices=(*POLICIES, "all"), default="all",
                            help="which policy's tick to run (default: all, one after another)")
    run_parser.add_argument("--instance", action="append", dest="instances",
                            help="limit the database policy to these configured instances")
    run_parser.add_argument("--scheduled", action="store_true",
                            help="run the database policy as its schedule would (the hour's snapshot, 'exists' if "
                                 "already taken) instead of taking an on-demand recovery point now")
    run_parser.add_argument("--retention-days", type=int, metavar="N",
                            help="keep the on-demand database snapshot N days (default: the policy's retention)")
    run_parser.add_argument("--inject-fault", action="append", default=[], metavar="SPEC",
                            help="local only: make an AWS call fail, e.g. "
                                 "rds:CreateDBSnapshot:DBInstanceIdentifier=churnguard-prod[:Throttling]")
    add_target_options(run_parser)
    run_parser.set_defaults(run=run)


def run_policy(name: str, policy: str, *, when: datetime | None = None, instances: list[str] | None = None,
               waiting: Callable[[], str] | None = None, on_demand: bool = False,
               retention_days: int | None = None) -> Invocation:
    """One tick; ``waiting`` adds a detail to the lines printed while the invocation runs long."""
    progress(f"backup {'on-demand run' if on_demand else 'tick'}: policy={policy} -> {name}")
    event = backup_tick(policy, when=when, instances=instances, on_demand=on_demand, retention_days=retention_days)
    with still_running(f"waiting for the {policy} tick", detail=waiting):
        result = invoke(name, event)
    if result.ok:
        print(backup_summary(result.payload))
    else:
        print(f"Backup policy '{policy}' FAILED: {result.payload.get('errorMessage')}")
    return result


def _faults(specs: list[str]) -> list[Fault]:
    from opsctl.local.faults import Fault

    faults = []
    for spec in specs:
        try:
            faults.append(Fault.parse(spec))
        except ValueError as exc:
            raise UsageError(f"--inject-fault {spec!r}: {exc}") from None
    return faults


def run(args: argparse.Namespace) -> int:
    # Explicit --local: without credentials the embedded default is implied, but a fault meant for it
    # must never be silently dropped once credentials appear.
    if args.inject_fault and not args.local:
        raise UsageError("--inject-fault only works on the embedded default: add --local")
    if args.retention_days is not None and not 1 <= args.retention_days <= 3650:
        raise UsageError(f"--retention-days {args.retention_days}: must be 1 to 3650")
    if args.retention_days is not None and args.scheduled:
        raise UsageError("--retention-days applies to an on-demand run, not with --scheduled")
    faults = _faults(args.inject_fault)
    check_out_dir(args.out)
    policies = POLICIES if args.policy == "all" else (args.policy,)
    env = local_target(args)
    name = function_name(env, args, "backup")
    if env is not None:
        unknown = sorted(set(args.instances or []) - set(env.context.backup.db_instance_ids))
        if unknown:
            raise UsageError(f"--instance {', '.join(unknown)}: not configured for backups; configured: "
                             f"{', '.join(env.context.backup.db_instance_ids)}")
    now = datetime.now(timezone.utc)
    results = {}
    with running(env):
        injected: list = []
        if env is not None and faults:
            middleware = env.aws.faults
            assert middleware is not None  # set once the embedded AWS runs
            for fault in faults:
                middleware.add(fault)
            injected = middleware.injected
            progress(f"injecting {len(faults)} fault(s); {RETRY_NOTE}")
        waiting = (lambda: f"{len(injected)} injected error(s) answered so far") if faults else None
        for policy in policies:
            # The database policy takes a recovery point now (its own id), unless asked to act as the schedule.
            on_demand = policy == "database" and not args.scheduled
            results[policy] = run_policy(name, policy, when=now, instances=args.instances, waiting=waiting,
                                         on_demand=on_demand,
                                         retention_days=args.retention_days if on_demand else None)
    write_json(args.out, "backup-run.json", {p: {"ok": r.ok, "payload": r.payload} for p, r in results.items()})
    if faults:
        progress(f"{len(injected)} injected error(s) answered (each a throttled attempt the client retried)")
    failed = [p for p, r in results.items() if not r.ok]
    progress(f"backup run finished: {len(results) - len(failed)} ok, {len(failed)} failed")
    return 1 if failed else 0
