"""The one error type opsctl turns into a one-line message (exit 2) instead of a traceback."""
from __future__ import annotations


class UsageError(Exception):
    """Bad input from the operator: opsctl prints the message as one line and exits 2."""
