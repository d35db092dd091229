"""Integrity checks run on a restored copy: registry plus one module per check.

Importing this package registers every built-in check (the modules below use ``@register``).
"""
# Import for the side effect of registration; order does not matter.
from . import amcheck, critical_tables, fk_orphans, row_counts, sequences, user_sql  # noqa: E402,F401
from .base import CheckContext, CheckParams, CheckResult, CheckSpec, IntegrityCheck
from .registry import CHECKS, DEFAULT_CHECKS, prepare, register, run_checks

__all__ = ["CHECKS", "DEFAULT_CHECKS", "CheckContext", "CheckParams", "CheckResult", "CheckSpec",
           "IntegrityCheck", "prepare", "register", "run_checks"]
