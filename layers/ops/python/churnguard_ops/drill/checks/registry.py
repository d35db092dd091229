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

from ..sql import transaction
from .base import CheckContext, CheckParams, CheckResult, CheckSpec, IntegrityCheck

__all__ = ["CHECKS", "DEFAULT_CHECKS", "prepare", "register", "run_checks"]

logger = logging.getLogger(__name__)

CHECKS: dict[str, type[IntegrityCheck]] = {}

# The seed's default set (also the default of DRILL_CHECKS).
DEFAULT_CHECKS: list[CheckSpec] = [
    CheckSpec(check="critical_tables_non_empty",
              params={"tables": ["customers", "users", "organizations", "predictions"]}),
    CheckSpec(check="foreign_key_orphans"),
    CheckSpec(check="sequences_not_behind"),
    CheckSpec(check="row_counts_vs_baseline", params={"tolerance_pct": 1.0}),
    CheckSpec(check="amcheck"),
]


def register(cls: type[IntegrityCheck]) -> type[IntegrityCheck]:
    """Class decorator: add a check to CHECKS under ``cls.name`` (names must be unique)."""
    name = getattr(cls, "name", None)
    if not name:
        raise TypeError(f"{cls.__name__} has no name")
    if name in CHECKS and CHECKS[name] is not cls:
        raise ValueError(f"integrity check {name!r} is already registered by {CHECKS[name].__name__}")
    if not (cls.__doc__ or "").strip():
        raise TypeError(f"{cls.__name__} needs a docstring with an example")
    CHECKS[name] = cls
    return cls


def _error(name: str, detail: str) -> CheckResult:
    return CheckResult(name=name, status="error", detail=detail)


def prepare(spec: CheckSpec | Mapping[str, Any]) -> tuple[IntegrityCheck, CheckParams, CheckSpec] | CheckResult:
    """Validate a spec without touching the database: (check, params, spec), or an error result."""
    if not isinstance(spec, CheckSpec):
        try:
            spec = CheckSpec.model_validate(spec)
        except ValidationError as exc:
            name = str(spec.get("check", "<invalid spec>")) if isinstance(spec, Mapping) else "<invalid spec>"
            return _error(name, f"invalid check spec: {_errors(exc)}")
    cls = CHECKS.get(spec.check)
    if cls is None:
        return _error(spec.check, f"unknown check {spec.check!r}; known checks: {', '.join(sorted(CHECKS))}")
    try:
        params = cls.Params.model_validate(spec.params)
    except ValidationError as exc:
        return _error(spec.check, f"invalid params for {spec.check}: {_errors(exc)}")
    return cls(), params, spec


def _errors(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in exc.errors())


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
