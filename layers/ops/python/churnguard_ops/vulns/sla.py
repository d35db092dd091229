"""SLA clocks: days to fix per severity, counted from a finding's first sighting.

The clock starts at ``first_seen`` and never restarts: a finding fixed and then seen again (reopened) keeps
its original first sighting, so a regression does not buy a fresh deadline. A finding is in breach when now is
after ``first_seen + days`` (exactly at the deadline it is not yet). Only open and reopened findings breach:
fixed ones are done and excepted ones are accepted risks. ``unknown`` severity (no source gave one and no CVSS
was available) is clocked as ``policy.unknown_as`` (high).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from churnguard_ops.vulns.model import ACTIONABLE_STATES, LedgerEntry, Severity, SlaPolicy


def sla_days(policy: SlaPolicy, severity: Severity) -> int | None:
    """Days to fix, or None for a severity with no deadline (informational)."""
    effective = policy.unknown_as if severity == "unknown" else severity
    return policy.days.get(effective)


def due(policy: SlaPolicy, severity: Severity, first_seen: datetime) -> datetime | None:
    days = sla_days(policy, severity)
    return None if days is None else first_seen + timedelta(days=days)


def breached(entry: LedgerEntry, policy: SlaPolicy, now: datetime) -> bool:
    deadline = due(policy, entry.finding.severity, entry.first_seen)
    return entry.state in ACTIONABLE_STATES and deadline is not None and now > deadline


def with_sla(entry: LedgerEntry, policy: SlaPolicy, now: datetime) -> LedgerEntry:
    """``entry`` with ``sla_due`` and ``sla_breached`` worked out for ``now``."""
    return entry.model_copy(update={"sla_due": due(policy, entry.finding.severity, entry.first_seen),
                                    "sla_breached": breached(entry, policy, now)})


def days_open(entry: LedgerEntry, now: datetime) -> int:
    return max(0, (now - entry.first_seen).days)
