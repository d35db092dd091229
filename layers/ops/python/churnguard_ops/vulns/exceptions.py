"""Exceptions as code: ``vulnerability-exceptions.toml`` at the repository root, read with ``tomllib``.

Each ``[[exception]]`` accepts one vulnerability (by its id or any alias, or a rule id) in one package (for
rules: the rule id again) on one resource or a glob within one resource kind (``function:churnguard-ops-*``),
for a reason, approved by someone, until an expiry date (the last day it applies; at most ``max_days`` ahead).
An entry that is unscoped (a field missing, resource ``*`` or a glob across kinds, expiry too far) or expired is
a problem: CI fails on any (:attr:`ExceptionSet.problems`) and the entry does not apply. The ledger reopens
what an expired exception covered, saying so.
"""
from __future__ import annotations

import tomllib
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from churnguard_ops.core.contracts import VULN_RESOURCE_KINDS
from churnguard_ops.vulns.keys import normalize_package
from churnguard_ops.vulns.model import Finding, RiskException

FILE_NAME = "vulnerability-exceptions.toml"
MAX_DAYS = 365
EXPIRING_DAYS = 14
_FIELDS = ("id", "package", "resource", "reason", "approver", "expires")
_GLOB = set("*?[]")


class ExceptionSet(BaseModel):
    """The file, read: entries that apply (``active``), ``expired`` ones (kept: the ledger reopens what they
    covered), and ``problems`` (one line each, naming the entry and field)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    active: tuple[RiskException, ...] = ()
    expired: tuple[RiskException, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def match(self, finding: Finding) -> RiskException | None:
        """The first active exception covering ``finding``."""
        return next((e for e in self.active if covers(e, finding)), None)

    def expired_match(self, finding: Finding) -> RiskException | None:
        return next((e for e in self.expired if covers(e, finding)), None)

    def expiring(self, today: date, days: int = EXPIRING_DAYS) -> list[RiskException]:
        """Active exceptions whose last day is at most ``days`` away, soonest first."""
        return sorted((e for e in self.active if e.expiring_within(today, days)), key=lambda e: e.expires)


def covers(exception: RiskException, finding: Finding) -> bool:
    """Id (or an alias, or the rule), package (or the rule again) and resource (glob) all match."""
    wanted = exception.id.upper()
    ids = {i.upper() for i in finding.all_ids} | ({finding.rule.upper()} if finding.rule else set())
    if wanted not in ids:
        return False
    if finding.package is not None:
        if normalize_package(exception.package) != finding.package:
            return False
    elif finding.rule is None or exception.package.upper() != finding.rule.upper():
        return False
    return fnmatchcase(finding.resource, exception.resource)


def _resource_problem(resource: str) -> str | None:
    kind, sep, name = resource.partition(":")
    if resource.strip() == "*" or (_GLOB & set(kind)):
        return f"{resource!r} spans every kind: name one resource, or a glob within one kind (function:...-*)"
    if not sep or kind not in VULN_RESOURCE_KINDS or not name:
        return f"{resource!r} is not <kind>:<name> with kind one of {', '.join(VULN_RESOURCE_KINDS)}"
    if name.strip("*?") == "":
        return f"{resource!r} is every {kind}: name one, or a narrower glob"
    return None


def _entry(index: int, raw: Any, today: date, max_days: int) -> tuple[RiskException | None, list[str]]:
    label = f"exception {index}"
    if not isinstance(raw, dict):
        return None, [f"{label}: not a table"]
    if isinstance(raw.get("id"), str) and raw["id"].strip():
        label += f" ({raw['id'].strip()})"
    problems = [f"{label}: unknown field {key!r}" for key in raw if key not in _FIELDS]
    for field in _FIELDS[:-1]:
        value = raw.get(field)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{label}: field {field!r} is missing or empty (an exception must be scoped)")
    expires = raw.get("expires")
    if isinstance(expires, datetime) or not isinstance(expires, date):
        problems.append(f"{label}: field 'expires' must be a TOML date such as 2027-01-15, not {expires!r}")
    elif expires > today + timedelta(days=max_days):
        problems.append(f"{label}: field 'expires' {expires} is more than {max_days} days away")
    if isinstance(raw.get("resource"), str) and raw["resource"].strip():
        problem = _resource_problem(raw["resource"].strip())
        if problem:
            problems.append(f"{label}: field 'resource' {problem}")
    if problems:
        return None, problems
    entry = RiskException(index=index, expires=expires, **{f: raw[f].strip() for f in _FIELDS[:-1]})
    return entry, [f"{label}: expired on {entry.expires}"] if entry.expired(today) else []


def parse_exceptions(text: str, today: date, *, max_days: int = MAX_DAYS) -> ExceptionSet:
    """The file's text -> an ExceptionSet. Entries are numbered from 1 in file order."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return ExceptionSet(problems=(f"{FILE_NAME}: not valid TOML: {exc}",))
    problems = [f"{FILE_NAME}: unknown top-level key {key!r} (entries are [[exception]] tables)"
                for key in data if key != "exception"]
    entries = data.get("exception", [])
    if not isinstance(entries, list):
        return ExceptionSet(problems=(*problems, f"{FILE_NAME}: 'exception' must be [[exception]] tables"))
    active: list[RiskException] = []
    expired: list[RiskException] = []
    for index, raw in enumerate(entries, start=1):
        entry, found = _entry(index, raw, today, max_days)
        problems.extend(found)
        if entry is not None:
            (expired if entry.expired(today) else active).append(entry)
    return ExceptionSet(active=tuple(active), expired=tuple(expired), problems=tuple(problems))


def load_exceptions(path: Path, today: date, *, max_days: int = MAX_DAYS) -> ExceptionSet:
    """The file at ``path``; no file is no exceptions."""
    if not path.exists():
        return ExceptionSet()
    return parse_exceptions(path.read_text(encoding="utf-8"), today, max_days=max_days)


def describe(exceptions: Sequence[RiskException]) -> list[str]:
    return [f"{e.id} ({e.package} on {e.resource}) until {e.expires}, approved by {e.approver}: {e.reason}"
            for e in exceptions]
