"""opsctl invoke FUNCTION --event FILE: one handler with one event (``sam local invoke`` without Docker)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from opsctl.commands.common import add_target_options, function_name, target
from opsctl.console import progress, write_json
from opsctl.lambda_calls import invoke as invoke_lambda


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("invoke", help="invoke one function with an event file")
    parser.add_argument("function", help="short name (backup) or full function name")
    parser.add_argument("--event", required=True, type=Path, help="event JSON, e.g. events/backup/*.json")
    add_target_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    event = json.loads(args.event.read_text())
    with target(args) as env:
        name = function_name(env, args, args.function)
        progress(f"invoking {name} with {args.event}")
        result = invoke_lambda(name, event)
    print(json.dumps(result.payload, indent=2, default=str))
    write_json(args.out, f"invoke-{args.function}.json", {"function": name, "error": result.error,
                                                           "payload": result.payload})
    if not result.ok:
        progress(f"{name} failed ({result.error}): {result.payload.get('errorType')}")
        return 1
    progress(f"{name} succeeded")
    return 0
