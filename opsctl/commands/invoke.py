"""opsctl invoke FUNCTION --event FILE: one handler with one event (``sam local invoke`` without Docker).

``--event`` may be repeated: the events run one after another in the same environment. Each prints
a short summary; ``--json`` prints the full results, ``--out`` writes them to a file.
"""
from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path

from opsctl.commands.common import add_target_options, check_out_dir, function_name, local_target, read_event, running
from opsctl.console import invocation_summary, progress, still_running, write_json
from opsctl.lambda_calls import invoke as invoke_lambda


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("invoke", help="invoke one function with an event file")
    parser.add_argument("function", help="short name (backup, drill-plan) or full function name")
    parser.add_argument("--event", required=True, type=Path, action="append",
                        help="event JSON, e.g. events/backup/scheduled-tick-database.json (repeatable)")
    parser.add_argument("--json", action="store_true", help="print each full JSON result instead of a summary")
    parser.add_argument("--now", action="store_true",
                        help="deliver each event now: set its top-level 'time' to the current time (the samples carry "
                             "a fixed time, and a backup tick older than its retry window is refused as a replay)")
    add_target_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Every input is checked before anything starts: the embedded AWS takes seconds to come up.
    events = [(path, read_event(path)) for path in args.event]
    if args.now:
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        events = [(path, {**event, "time": now} if isinstance(event, dict) and "time" in event else event)
                  for path, event in events]
    check_out_dir(args.out)
    env = local_target(args)
    name = function_name(env, args, args.function)
    failures = 0
    records = []
    with running(env):
        for path, event in events:
            progress(f"invoking {name} with {path}")
            with still_running(f"waiting for {name}"):
                result = invoke_lambda(name, event)
            if args.json:
                print(json.dumps(result.payload, indent=2, default=str))
            else:
                print(invocation_summary(name, str(path), result.ok, result.payload), flush=True)
            records.append({"event": str(path), "function": name, "error": result.error, "payload": result.payload})
            failures += not result.ok
        if env is not None:
            progress(f"function logs: {env.aws.lambdas.log_path(name)}")
    write_json(args.out, f"invoke-{args.function}.json", records)
    return 1 if failures else 0
