"""Options and target selection shared by commands."""
from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator

DEFAULT_PREFIX = "churnguard-ops"


class UsageError(Exception):
    """Bad input from the operator: opsctl prints the message as one line and exits 2."""


def add_target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--local", action="store_true",
                        help="run on the embedded default (moto + PostgreSQL), also implied without AWS credentials")
    parser.add_argument("--out", metavar="DIR", help="write machine-readable results into DIR")
    parser.add_argument("--prefix", default=DEFAULT_PREFIX, help="resource prefix of the deployed stacks")


def wants_local(args: argparse.Namespace) -> bool:
    if args.local:
        return True
    import boto3

    return boto3.session.Session().get_credentials() is None


@contextlib.contextmanager
def target(args: argparse.Namespace, *, source_dsn: str | None = None) -> Iterator[object | None]:
    """The LocalEnvironment for local runs, else None (real AWS through the credential chain)."""
    if not wants_local(args):
        yield None
        return
    from opsctl.environment import LocalEnvironment

    with LocalEnvironment(source_dsn=source_dsn) as env:
        yield env


def function_name(env: object | None, args: argparse.Namespace, short: str) -> str:
    """``backup`` -> ``<prefix>-backup``; a full name passes through, locally and on AWS alike."""
    if env is not None:
        return env.function_name(short)  # type: ignore[attr-defined]
    return short if short.startswith(f"{args.prefix}-") else f"{args.prefix}-{short}"
