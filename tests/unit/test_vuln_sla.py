"""SLA clocks: defaults, edges of the deadline, reopened findings keep their clock."""
from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from churnguard_ops.vulns.ledger import observe
from churnguard_ops.vulns.model import LedgerEntry, SlaPolicy
from churnguard_ops.vulns.sla import breached, due, sla_days, with_sla
from tests.unit.vulns_fakes import T0, package_finding


def entry(severity: str = "critical", state: str = "open") -> LedgerEntry:
    f = package_finding("inspector", "CVE-2023-43804", severity=severity)
    return LedgerEntry(finding=f, state=state, first_seen=T0, last_seen=T0)  # type: ignore[arg-type]


def test_defaults_are_bod_19_02_and_defectdojo() -> None:
    policy = SlaPolicy()
    assert [sla_days(policy, s) for s in ("critical", "high", "medium", "low", "informational")] == [
        15, 30, 90, 120, None]


def test_unknown_severity_is_clocked_as_high() -> None:
    assert due(SlaPolicy(), "unknown", T0) == T0 + timedelta(days=30)


def test_exactly_at_the_deadline_is_not_breached_one_second_after_is() -> None:
    policy = SlaPolicy()
    e = entry("critical")
    assert not breached(e, policy, T0 + timedelta(days=15))
    assert breached(e, policy, T0 + timedelta(days=15, seconds=1))


def test_configured_days_replace_the_defaults() -> None:
    policy = SlaPolicy(days={"critical": 7, "high": 14})
    assert breached(entry("critical"), policy, T0 + timedelta(days=7, seconds=1))
    assert due(policy, "medium", T0) is None


def test_fixed_and_excepted_findings_never_breach() -> None:
    late = T0 + timedelta(days=400)
    assert not breached(entry(state="fixed"), SlaPolicy(), late)
    assert not breached(entry(state="excepted"), SlaPolicy(), late)


def test_reopened_finding_keeps_its_first_seen_so_the_clock_does_not_restart() -> None:
    f = package_finding("inspector", "CVE-2023-43804", severity="critical", at=T0)
    e = observe(None, f, "inspector", T0)
    e = observe(e, f.model_copy(update={"status": "closed"}), "inspector", T0 + timedelta(days=3))
    reopened_at = T0 + timedelta(days=10)
    e = observe(e, f.model_copy(update={"observed_at": reopened_at}), "inspector", reopened_at)
    assert e.state == "reopened" and e.first_seen == T0
    e = with_sla(e, SlaPolicy(), T0 + timedelta(days=16))
    assert e.sla_due == T0 + timedelta(days=15) and e.sla_breached


def test_a_zero_day_sla_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 1"):
        SlaPolicy(days={"critical": 0})
