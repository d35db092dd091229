"""opsctl incident: list, show, acknowledge, annotate and resolve incidents."""
from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("incident", help="incidents: list, show, ack, note, resolve")
    parser.add_subparsers(dest="action", required=True)
