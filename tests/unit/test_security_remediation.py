"""Brute-force remediation on fakes: policy validation, refusals, cap, dry-run, TTL, sweep, idempotency."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from churnguard_ops.core.errors import InvalidEvent, Unavailable
from churnguard_ops.security.model import Alert
from churnguard_ops.security.remediation import (
    ActiveBlock,
    RemediationIncomplete,
    RemediationPolicy,
    Remediator,
    not_blockable,
    parse_address,
)
from tests.unit.security_report_fakes import MemoryBlockRecords, MemoryIpBlocklist

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)
OTHERS = {"9.9.9.9/32", "2.2.2.0/24"}  # put there by someone else


def alert(ip: str = "45.33.32.156", *, detector: str = "brute_force_login", at: datetime = NOW,
          event_id: str | None = None, context: dict[str, Any] | None = None) -> dict[str, Any]:
    event_id = event_id or f"evt-{ip}-{at.isoformat()}"
    return Alert(alert_id=Alert.make_id(detector, ip, event_id), detector=detector, severity="high", entity=ip,
                 count=5, window_seconds=300, event_id=event_id, timestamp=at,
                 recommended_action="Block the source IP", organization_id="org-1",
                 context=context or {}).line()


def make(dry_run: bool = False, v6: bool = False, **policy: Any) -> tuple[Remediator, MemoryIpBlocklist,
                                                                          MemoryIpBlocklist, MemoryBlockRecords]:
    waf, waf6, records = MemoryIpBlocklist(set(OTHERS)), MemoryIpBlocklist(), MemoryBlockRecords()
    remediator = Remediator(RemediationPolicy(dry_run=dry_run, **policy), waf, records,
                            blocklist_v6=waf6 if v6 else None)
    return remediator, waf, waf6, records


# -- policy -------------------------------------------------------------------------------------------

def test_policy_defaults_are_dry_run_one_hour_twenty_per_hour_brute_force_only() -> None:
    policy = RemediationPolicy()
    assert policy.dry_run is True
    assert policy.ttl_minutes == 60 and policy.max_blocks_per_hour == 20
    assert policy.enabled_detectors == ["brute_force_login", "console_brute_force"]


@pytest.mark.parametrize("bad", [{"ttl_minutes": 4}, {"allow_cidrs": ["10.0.0.0/33"]}, {"allow_cidrs": ["office"]},
                                 {"dry_run": False, "dryrun": True}, {"max_blocks_per_hour": 0}])
def test_policy_refuses_what_a_user_can_get_wrong(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RemediationPolicy.model_validate(bad)


def test_policy_normalizes_allowlisted_networks_and_is_frozen() -> None:
    policy = RemediationPolicy(allow_cidrs=["52.1.2.3/8", " 2001:DB8::/32"])
    assert policy.allow_cidrs == ["52.0.0.0/8", "2001:db8::/32"]
    with pytest.raises(ValidationError):
        policy.dry_run = False  # type: ignore[misc]


# -- addresses ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("ip", "reason"), [
    ("10.0.0.1", "private"), ("192.168.1.1", "private"), ("172.16.5.5", "private"), ("127.0.0.1", "loopback"),
    ("169.254.169.254", "link_local"), ("224.0.0.1", "multicast"), ("0.0.0.0", "unspecified"),
    ("240.0.0.1", "private"), ("100.64.0.1", "not_global"), ("::1", "loopback"), ("fe80::1", "link_local"),
    ("fd00::1", "private"), ("ff02::1", "multicast"), ("203.0.113.9", "private"),
])
def test_non_public_addresses_are_never_blockable(ip: str, reason: str) -> None:
    address = parse_address(ip)
    assert address is not None
    assert not_blockable(address) == reason


@pytest.mark.parametrize("ip", ["45.33.32.156", "2a00:1450:4001:82b::200e"])
def test_public_addresses_are_blockable(ip: str) -> None:
    address = parse_address(ip)
    assert address is not None and not_blockable(address) is None


def test_ipv4_mapped_ipv6_is_judged_as_the_ipv4_address() -> None:
    assert str(parse_address("::ffff:10.0.0.1")) == "10.0.0.1"
    assert parse_address("not-an-ip") is None and parse_address(None) is None and parse_address("1" * 500) is None


# -- block --------------------------------------------------------------------------------------------

def test_a_brute_force_alert_blocks_its_ip_as_slash_32_until_the_ttl() -> None:
    remediator, waf, _, records = make(ttl_minutes=90)
    decision = remediator.on_alert(alert("45.33.32.156"), NOW)
    assert decision is not None and not decision.replayed
    action = decision.action
    assert (action.action, action.ip, action.cidr, action.dry_run) == ("block", "45.33.32.156", "45.33.32.156/32",
                                                                        False)
    assert action.expires_at == NOW + timedelta(minutes=90) and action.at == NOW
    assert waf.addresses() == OTHERS | {"45.33.32.156/32"}
    assert records.blocks["45.33.32.156"].expires_at == NOW + timedelta(minutes=90)
    assert [a.action for a in records.audit] == ["block"]


def test_an_ipv6_source_is_blocked_as_slash_128_in_the_ipv6_set() -> None:
    remediator, waf, waf6, _ = make(v6=True)
    decision = remediator.on_alert(alert("2a00:1450:4001:82b::200e"), NOW)
    assert decision is not None and decision.action.cidr == "2a00:1450:4001:82b::200e/128"
    assert waf6.addresses() == {"2a00:1450:4001:82b::200e/128"} and waf.addresses() == OTHERS


def test_an_ipv6_source_without_an_ipv6_set_is_refused_and_recorded() -> None:
    remediator, waf, _, records = make()
    decision = remediator.on_alert(alert("2a00:1450:4001:82b::200e"), NOW)
    assert decision is not None and decision.action.action == "refused"
    assert decision.action.reason.startswith("no_ip_set")
    assert waf.addresses() == OTHERS and records.audit == [decision.action]


def test_dry_run_records_the_block_and_leaves_the_ip_set_untouched() -> None:
    remediator, waf, _, records = make(dry_run=True)
    decision = remediator.on_alert(alert(), NOW)
    assert decision is not None and decision.action.action == "dry_run_block" and decision.action.dry_run
    assert waf.addresses() == OTHERS and waf.changes == []
    assert records.blocks["45.33.32.156"].dry_run


@pytest.mark.parametrize(("ip", "reason"), [("10.0.0.1", "private"), ("127.0.0.1", "loopback"),
                                             ("52.4.5.6", "allowlisted"), ("::ffff:192.168.0.7", "private")])
def test_private_loopback_and_allowlisted_addresses_are_refused_with_the_reason(ip: str, reason: str) -> None:
    remediator, waf, _, records = make(allow_cidrs=["52.0.0.0/8"])
    decision = remediator.on_alert(alert(ip), NOW)
    assert decision is not None
    assert decision.action.action == "refused" and decision.action.reason.startswith(reason)
    assert decision.action.expires_at is None
    assert waf.changes == [] and records.blocks == {} and records.audit == [decision.action]


def test_an_alert_without_an_address_is_refused_as_unparsable() -> None:
    remediator, waf, _, records = make()
    decision = remediator.on_alert(alert("alice@example.com"), NOW)
    assert decision is not None and decision.action.action == "refused"
    assert decision.action.reason.startswith("unparsable") and decision.action.cidr is None
    assert decision.action.ip == "alice@example.com" and waf.changes == []


def test_the_address_may_come_from_the_alert_context_when_the_entity_is_a_user() -> None:
    remediator, waf, _, _ = make(enabled_detectors=["console_brute_force"])
    line = alert("arn:aws:iam::123456789012:user/alice", detector="console_brute_force",
                 context={"source_ip": "45.33.32.156"})
    decision = remediator.on_alert(line, NOW)
    assert decision is not None and decision.action.action == "block"
    assert "45.33.32.156/32" in waf.addresses()


def test_alerts_of_other_detectors_are_ignored_and_not_recorded() -> None:
    remediator, waf, _, records = make()
    assert remediator.on_alert(alert(detector="data_exfiltration"), NOW) is None
    assert records.audit == [] and waf.changes == []


def test_a_malformed_alert_is_an_invalid_event_naming_the_field() -> None:
    remediator, _, _, _ = make()
    line = alert()
    del line["alert_id"]
    with pytest.raises(InvalidEvent, match="alert_id"):
        remediator.on_alert(line, NOW)


def test_a_stale_alert_is_refused_its_block_would_already_be_over() -> None:
    remediator, waf, _, _ = make(ttl_minutes=60)
    decision = remediator.on_alert(alert(at=NOW - timedelta(minutes=60)), NOW)
    assert decision is not None and decision.action.reason.startswith("stale") and waf.changes == []
    fresh = remediator.on_alert(alert(at=NOW - timedelta(minutes=59)), NOW)
    assert fresh is not None and fresh.action.action == "block"


def test_a_redelivered_alert_records_nothing_new() -> None:
    remediator, waf, _, records = make()
    line = alert()
    first = remediator.on_alert(line, NOW)
    again = remediator.on_alert(line, NOW + timedelta(minutes=5))
    assert first is not None and again is not None
    assert again.replayed and again.action == first.action
    assert len(records.audit) == 1 and waf.changes == [("add", "45.33.32.156/32")]


def test_a_crash_before_the_decision_was_recorded_is_completed_by_the_redelivery() -> None:
    remediator, waf, _, records = make()
    line = alert()
    records.fail_decisions = Unavailable("dynamodb down")
    with pytest.raises(Unavailable):
        remediator.on_alert(line, NOW)
    assert "45.33.32.156" in records.blocks  # intent recorded before the IP set changed: never untracked
    records.fail_decisions = None
    decision = remediator.on_alert(line, NOW + timedelta(seconds=30))
    assert decision is not None and decision.action.action == "block" and not decision.replayed
    assert decision.action.expires_at == NOW + timedelta(minutes=60)
    assert [a.action for a in records.audit] == ["block"]


def test_a_new_alert_for_a_blocked_ip_extends_the_expiry_instead_of_blocking_twice() -> None:
    remediator, waf, _, records = make(max_blocks_per_hour=1)
    remediator.on_alert(alert(event_id="e1"), NOW)
    later = NOW + timedelta(minutes=20)
    decision = remediator.on_alert(alert(event_id="e2", at=later), later)
    assert decision is not None and decision.action.action == "extend"
    assert decision.action.expires_at == later + timedelta(minutes=60)
    assert records.blocks["45.33.32.156"].expires_at == later + timedelta(minutes=60)
    assert records.blocks["45.33.32.156"].extensions == 1
    assert [c for c in waf.changes if c[0] == "add"] == [("add", "45.33.32.156/32")]  # once; cap not consumed


def test_an_extend_puts_the_address_back_when_someone_removed_it_by_hand() -> None:
    remediator, waf, _, _ = make()
    remediator.on_alert(alert(event_id="e1"), NOW)
    waf.remove("45.33.32.156/32")
    remediator.on_alert(alert(event_id="e2"), NOW + timedelta(minutes=1))
    assert "45.33.32.156/32" in waf.addresses()


def test_dry_run_does_not_extend_a_live_block() -> None:
    live, waf, _, records = make()
    live.on_alert(alert(event_id="e1"), NOW)
    dry = Remediator(RemediationPolicy(dry_run=True), waf, records)
    decision = dry.on_alert(alert(event_id="e2"), NOW + timedelta(minutes=30))
    assert decision is not None and decision.action.action == "dry_run_extend"
    assert records.blocks["45.33.32.156"].expires_at == NOW + timedelta(minutes=60)


def test_going_live_turns_a_dry_run_record_into_a_real_block() -> None:
    dry, waf, _, records = make(dry_run=True)
    dry.on_alert(alert(event_id="e1"), NOW)
    live = Remediator(RemediationPolicy(dry_run=False), waf, records)
    decision = live.on_alert(alert(event_id="e2"), NOW + timedelta(minutes=5))
    assert decision is not None and decision.action.action == "block"
    assert "45.33.32.156/32" in waf.addresses() and not records.blocks["45.33.32.156"].dry_run


def test_the_hourly_cap_refuses_new_blocks_until_an_hour_has_passed() -> None:
    remediator, waf, _, records = make(max_blocks_per_hour=2)
    ips = ["45.33.32.1", "45.33.32.2", "45.33.32.3"]
    results = [remediator.on_alert(alert(ip), NOW + timedelta(minutes=i)) for i, ip in enumerate(ips)]
    assert [r.action.action for r in results if r] == ["block", "block", "refused"]
    assert results[2] is not None and results[2].action.reason.startswith("hourly_cap")
    assert "45.33.32.3/32" not in waf.addresses()
    hour_later = NOW + timedelta(minutes=60)  # the first block has left the window
    again = remediator.on_alert(alert("45.33.32.4", at=hour_later), hour_later)
    assert again is not None and again.action.action == "block"


def test_dry_run_blocks_count_against_the_dry_run_cap_only() -> None:
    dry, waf, _, records = make(dry_run=True, max_blocks_per_hour=1)
    dry.on_alert(alert("45.33.32.1"), NOW)
    refused = dry.on_alert(alert("45.33.32.2"), NOW)
    assert refused is not None and refused.action.action == "refused"
    live = Remediator(RemediationPolicy(dry_run=False, max_blocks_per_hour=1), waf, records)
    blocked = live.on_alert(alert("45.33.32.3"), NOW)
    assert blocked is not None and blocked.action.action == "block"


# -- sweep --------------------------------------------------------------------------------------------

def test_sweep_removes_expired_blocks_of_ours_only_and_records_the_unblock() -> None:
    remediator, waf, _, records = make(ttl_minutes=60)
    remediator.on_alert(alert("45.33.32.1"), NOW)
    remediator.on_alert(alert("45.33.32.2", at=NOW + timedelta(minutes=30)), NOW + timedelta(minutes=30))
    early = remediator.sweep(NOW + timedelta(minutes=59))
    assert early.actions == [] and early.remaining == 2
    result = remediator.sweep(NOW + timedelta(minutes=61))
    assert [(a.action, a.ip) for a in result.actions] == [("unblock", "45.33.32.1")] and result.remaining == 1
    assert waf.addresses() == OTHERS | {"45.33.32.2/32"}
    assert "45.33.32.1" not in records.blocks
    assert records.audit[-1].action == "unblock" and records.audit[-1].alert_id == records.audit[0].alert_id
    remediator.sweep(NOW + timedelta(days=2))
    assert waf.addresses() == OTHERS  # never the addresses others put there


def test_sweep_at_exactly_the_expiry_unblocks() -> None:
    remediator, waf, _, _ = make()
    remediator.on_alert(alert(), NOW)
    assert [a.action for a in remediator.sweep(NOW + timedelta(minutes=60)).actions] == ["unblock"]


def test_sweep_never_removes_an_address_someone_else_added_even_if_we_had_refused_it() -> None:
    remediator, waf, _, _ = make(allow_cidrs=["9.9.9.0/24"])
    remediator.on_alert(alert("9.9.9.9"), NOW)  # refused: allowlisted
    remediator.sweep(NOW + timedelta(days=1))
    assert waf.addresses() == OTHERS and waf.changes == []


def test_sweep_of_a_dry_run_block_records_dry_run_unblock_and_leaves_the_set() -> None:
    remediator, waf, _, records = make(dry_run=True)
    remediator.on_alert(alert(), NOW)
    result = remediator.sweep(NOW + timedelta(hours=2))
    assert [a.action for a in result.actions] == ["dry_run_unblock"]
    assert waf.changes == [] and records.blocks == {}


def test_a_live_block_is_swept_even_after_the_policy_went_back_to_dry_run() -> None:
    live, waf, _, records = make()
    live.on_alert(alert(), NOW)
    dry = Remediator(RemediationPolicy(dry_run=True), waf, records)
    assert [a.action for a in dry.sweep(NOW + timedelta(hours=2)).actions] == ["unblock"]
    assert waf.addresses() == OTHERS


def test_sweep_records_an_unblock_when_the_address_was_already_gone() -> None:
    remediator, waf, _, records = make()
    remediator.on_alert(alert(), NOW)
    waf.cidrs.discard("45.33.32.156/32")
    result = remediator.sweep(NOW + timedelta(hours=2))
    assert "no longer in the IP set" in result.actions[0].reason and records.blocks == {}


def test_an_extend_landing_during_the_sweep_keeps_the_address_blocked() -> None:
    remediator, waf, _, records = make()
    remediator.on_alert(alert(event_id="e1"), NOW)
    late = NOW + timedelta(minutes=61)

    def concurrent_alert(_ip: str) -> None:
        remediator.on_alert(alert(event_id="e2", at=late), late)

    records.before_delete = concurrent_alert
    result = remediator.sweep(late)
    assert result.actions == []
    assert "45.33.32.156/32" in waf.addresses()
    assert records.blocks["45.33.32.156"].expires_at == late + timedelta(minutes=60)


def test_a_failed_removal_is_reported_after_trying_the_others_and_retried_next_sweep() -> None:
    remediator, waf, waf6, records = make(v6=True)
    remediator.on_alert(alert("45.33.32.1"), NOW)
    remediator.on_alert(alert("2a00:1450:4001:82b::200e"), NOW)
    waf.fail = Unavailable("wafv2 unreachable")
    with pytest.raises(RemediationIncomplete) as raised:
        remediator.sweep(NOW + timedelta(hours=2))
    assert list(raised.value.result.failures) == ["45.33.32.1"]
    assert [a.ip for a in raised.value.result.actions] == ["2a00:1450:4001:82b::200e"]
    assert "45.33.32.1" in records.blocks
    waf.fail = None
    assert [a.ip for a in remediator.sweep(NOW + timedelta(hours=3)).actions] == ["45.33.32.1"]


def test_records_are_json_lines() -> None:
    remediator, _, _, _ = make()
    decision = remediator.on_alert(alert(), NOW)
    assert decision is not None
    line = decision.action.line()
    assert line["at"] == "2026-11-28T10:00:00Z" and line["action"] == "block" and line["organization_id"] == "org-1"
    assert ActiveBlock.model_validate_json(
        ActiveBlock(ip="1.2.3.4", cidr="1.2.3.4/32", alert_id="a", detector="d", blocked_at=NOW,
                    expires_at=NOW, dry_run=True).model_dump_json()).dry_run
