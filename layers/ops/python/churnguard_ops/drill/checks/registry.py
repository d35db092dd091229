"""Check registry (Cloud Custodian style): ``@register`` a class, look it up by name, run a list of specs.

``run_checks`` never raises for a bad spec or a failing check: each becomes a CheckResult with status
"error", so a drill report always lists every configured check.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from churnguard_ops.core.postgres import transaction
from churnguard_ops.core.registry import PluginParams, PluginRegistry, PluginSpecError, describe_errors

from .base import CheckContext, CheckResult, CheckSpec, IntegrityCheck

__all__ = ["CHECKS", "DEFAULT_CHECKS", "prepare", "register", "run_checks"]

logger = logging.getLogger(__name__)

CHECKS: PluginRegistry[IntegrityCheck[Any]] = PluginRegistry("check")

# The seed's default set (also the default of DRILL_CHECKS).
DEFAULT_CHECKS: list[CheckSpec] = [
    CheckSpec(check="critical_tables_non_empty",
              params={"tables": ["customers", "users", "organizations", "predictions"]}),
    CheckSpec(check="foreign_key_orphans"),
    CheckSpec(check="sequences_not_behind"),
    CheckSpec(check="row_counts_vs_baseline", params={"tolerance_pct": 1.0}),
    CheckSpec(check="amcheck"),
]


#: Class decorator: add a check to CHECKS under ``cls.name`` (unique, documented, strict params).
register = CHECKS.register


def _error(name: str, detail: str) -> CheckResult:
    return CheckResult(name=name, status="error", detail=detail)


def prepare(spec: CheckSpec | Mapping[str, Any]) -> tuple[IntegrityCheck[Any], PluginParams, CheckSpec] | CheckResult:
    """Validate a spec without touching the database: (check, params, spec), or an error result."""
    if not isinstance(spec, CheckSpec):
        try:
            spec = CheckSpec.model_validate(spec)
        except ValidationError as exc:
            name = str(spec.get("check", "<invalid spec>")) if isinstance(spec, Mapping) else "<invalid spec>"
            return _error(name, f"invalid check spec: {describe_errors(exc)}")
    try:
        params = CHECKS.validate(spec.check, spec.params)
    except PluginSpecError as exc:
        return _error(spec.check, str(exc))
    return CHECKS[spec.check](), params, spec


def run_checks(conn: Any, specs: Iterable[CheckSpec | Mapping[str, Any]],
               context: CheckContext | None = None) -> list[CheckResult]:
    """Run each spec in its own rolled-back transaction with its own statement_timeout."""
    context = context or CheckContext()
    results: list[CheckResult] = []
    for spec in specs:
        prepared = prepare(spec)
        if isinstance(prepared, CheckResult):
            results.append(prepared)
            continue
        check, params, spec = prepared
        timeout_ms = spec.statement_timeout_ms or context.statement_timeout_ms
        started = time.perf_counter()
        try:
            with transaction(conn, timeout_ms) as _cur:
                result = check.run(conn, params, context)
        except Exception as exc:  # noqa: BLE001 - one broken check must not stop the others
            logger.warning("integrity check %s errored: %s", check.name, exc)
            result = _error(check.name, f"{type(exc).__name__}: {str(exc).strip()}")
        result.duration_ms = round((time.perf_counter() - started) * 1000, 1)
        results.append(result)
    return results
