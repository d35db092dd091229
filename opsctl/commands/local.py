"""opsctl local up: start the embedded default and keep it running for other tools."""
from __future__ import annotations

import argparse
import json
import threading

from opsctl.console import progress


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("local", help="the embedded default (moto server + PostgreSQL)")
    actions = parser.add_subparsers(dest="action", required=True)
    up = actions.add_parser("up", help="start embedded AWS + PostgreSQL, deploy our stacks, wait for Ctrl-C")
    up.add_argument("--no-seed", action="store_true", help="do not create the demo RDS instances and history")
    up.set_defaults(run=run_up)


def run_up(args: argparse.Namespace) -> int:
    from opsctl.environment import LocalEnvironment

    with LocalEnvironment(with_postgres=True, seed=not args.no_seed) as env:
        info = env.describe()
        print(json.dumps(info, indent=2))
        print(f"\nexport AWS_ENDPOINT_URL={info['aws_endpoint_url']} AWS_ACCESS_KEY_ID=testing "
              f"AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION={info['region']}")
        print(f"export DATABASE_URL='{info['postgres_dsn']}'")
        progress("running; press Ctrl-C to stop")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0
