"""opsctl invoke FUNCTION --event FILE: one handler with one event (``sam local invoke`` without Docker).

``--event`` may be repeated: the events run one after another in the same environment.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from opsctl.commands.common import add_target_options, function_name, target
from opsctl.console import progress, write_json
from opsctl.lambda_calls import invoke as invoke_lambda


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("invoke", help="invoke one function with an event file")
    parser.add_argument("function", help="short name (backup, drill-plan) or full function name")
    parser.add_argument("--event", required=True, type=Path, action="append",
                        help="event JSON, e.g. events/backup/scheduled-tick-database.json (repeatable)")
    add_target_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    events = [(path, json.loads(path.read_text())) for path in args.event]  # fail on bad JSON before starting
    failures = 0
    records = []
    with target(args) as env:
        name = function_name(env, args, args.function)
        for path, event in events:
            progress(f"invoking {name} with {path}")
            result = invoke_lambda(name, event)
            print(json.dumps(result.payload, indent=2, default=str))
            records.append({"event": str(path), "function": name, "error": result.error, "payload": result.payload})
            if result.ok:
                progress(f"{name} succeeded ({path.name})")
            else:
                failures += 1
                payload = result.payload if isinstance(result.payload, dict) else {}
                progress(f"{name} failed ({path.name}): {payload.get('errorType')}: {payload.get('errorMessage')}")
        if env is not None:
            progress(f"function logs: {env.aws.lambdas.log_path(name)}")  # type: ignore[attr-defined]
    write_json(args.out, f"invoke-{args.function}.json", records)
    return 1 if failures else 0
