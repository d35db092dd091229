"""opsctl: the ChurnGuard Ops operator CLI.

``--local`` (or no AWS credentials at all) runs against the embedded default: moto server and a
throwaway PostgreSQL, with our CDK stacks deployed into it. Otherwise the boto3 credential chain
applies and commands act on the deployed functions.
"""
from __future__ import annotations

import argparse
import sys
import warnings

from opsctl.commands import backup, demo, drill, invoke, local, plugins
from opsctl.commands.common import UsageError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opsctl", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    local.register(commands)
    invoke.register(commands)
    backup.register(commands)
    drill.register(commands)
    demo.register(commands)
    plugins.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Handlers publish per-dimension metrics with single_metric; the empty handler-level set is expected.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except UsageError as exc:
        print(f"opsctl {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; embedded services were stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
