"""opsctl backup run: run backup policies now, as their schedules would."""
from __future__ import annotations

import argparse
from datetime import datetime, timezone

from churnguard_ops.backup.policy import POLICY_NAMES
from opsctl.commands.common import add_target_options, function_name, target, wants_local
from opsctl.console import backup_summary, progress, write_json
from opsctl.lambda_calls import Invocation, backup_tick, invoke

POLICIES = POLICY_NAMES


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("backup", help="backups")
    actions = parser.add_subparsers(dest="action", required=True)
    run_parser = actions.add_parser("run", help="run backup policies now")
    run_parser.add_argument("--policy", choices=(*POLICIES, "all"), default="all")
    run_parser.add_argument("--instance", action="append", dest="instances",
                            help="limit the database policy to these configured instances")
    run_parser.add_argument("--inject-fault", action="append", default=[], metavar="SPEC",
                            help="local only: make an AWS call fail, e.g. "
                                 "rds:CreateDBSnapshot:DBInstanceIdentifier=churnguard-prod[:Throttling]")
    add_target_options(run_parser)
    run_parser.set_defaults(run=run)


def run_policy(name: str, policy: str, *, when: datetime | None = None,
               instances: list[str] | None = None) -> Invocation:
    progress(f"backup tick: policy={policy} -> {name}")
    result = invoke(name, backup_tick(policy, when=when, instances=instances))
    if result.ok:
        print(backup_summary(result.payload))
    else:
        print(f"Backup policy '{policy}' FAILED: {result.payload.get('errorMessage')}")
    return result


def run(args: argparse.Namespace) -> int:
    if args.inject_fault and not wants_local(args):
        raise SystemExit("--inject-fault only works on the embedded default (--local)")
    policies = POLICIES if args.policy == "all" else (args.policy,)
    now = datetime.now(timezone.utc)
    results = {}
    with target(args) as env:
        if env is not None and args.inject_fault:
            from opsctl.local.faults import Fault

            for spec in args.inject_fault:
                env.aws.faults.add(Fault.parse(spec))  # type: ignore[attr-defined]
        name = function_name(env, args, "backup")
        for policy in policies:
            results[policy] = run_policy(name, policy, when=now, instances=args.instances)
    write_json(args.out, "backup-run.json", {p: {"ok": r.ok, "payload": r.payload} for p, r in results.items()})
    failed = [p for p, r in results.items() if not r.ok]
    progress(f"backup run finished: {len(results) - len(failed)} ok, {len(failed)} failed")
    return 1 if failed else 0
