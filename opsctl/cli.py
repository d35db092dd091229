"""opsctl: the ChurnGuard Ops operator CLI.

``--local`` (or no AWS credentials at all) runs against the embedded default: moto server and a
throwaway PostgreSQL, with our CDK stacks deployed into it. Otherwise the boto3 credential chain
applies and commands act on the deployed functions.
"""
from __future__ import annotations

import argparse
import sys
import warnings

from opsctl.commands import (
    backup,
    canary,
    cost,
    db,
    demo,
    drill,
    flags,
    incident,
    invoke,
    local,
    perf,
    plugins,
    security,
    vuln,
)
from opsctl.errors import UsageError

DEBUG_HELP = "on an error, show the Python traceback instead of a one-line message"


def _leaf_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parsers that run a command (``invoke``, ``drill run``, ...)."""
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subparsers:
        return [parser]
    children = [child for sub in subparsers for child in dict.fromkeys(sub.choices.values())]
    return [leaf for child in children for leaf in _leaf_parsers(child)]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opsctl", description=__doc__.splitlines()[0],
                                     epilog="`opsctl COMMAND --help` describes one command; "
                                            "README.md (repository root) describes them all.")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    commands = parser.add_subparsers(dest="command", required=True)
    local.register(commands)
    invoke.register(commands)
    backup.register(commands)
    drill.register(commands)
    canary.register(commands)
    flags.register(commands)
    security.register(commands)
    cost.register(commands)
    perf.register(commands)
    db.register(commands)
    incident.register(commands)
    vuln.register(commands)
    demo.register(commands)
    plugins.register(commands)
    # Also accepted after the command (`opsctl drill run --debug`); SUPPRESS keeps a global --debug.
    for leaf in _leaf_parsers(parser):
        leaf.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    return parser


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."


def main(argv: list[str] | None = None) -> int:
    # Handlers publish per-dimension metrics with single_metric; the empty handler-level set is expected.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    args = build_parser().parse_args(argv)
    command = " ".join(filter(None, (args.command, getattr(args, "action", None))))
    try:
        return int(args.run(args) or 0)
    except UsageError as exc:
        if args.debug:
            raise
        print(f"opsctl {command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; embedded services were stopped", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(f"opsctl {command}: {type(exc).__name__}: {_one_line(exc)} (--debug shows the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
