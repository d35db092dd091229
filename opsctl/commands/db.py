"""opsctl db: the PostgreSQL advisor."""
from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("db", help="the PostgreSQL advisor: slow queries, index advice, health")
    parser.add_subparsers(dest="action", required=True)
