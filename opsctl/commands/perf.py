"""opsctl perf: performance reports over any window."""
from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("perf", help="performance: graded threshold alerts and reports")
    parser.add_subparsers(dest="action", required=True)
