"""Remediation on moto: the WAF IP set adapter (lock tokens, retries, errors) and the DynamoDB block records,
driven by the Remediator end to end."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from churnguard_ops.core import aws
from churnguard_ops.core.errors import Conflict, NotFound, Throttled
from churnguard_ops.security.model import Alert
from churnguard_ops.security.remediation import ActiveBlock, BlockAction, RemediationPolicy, Remediator
from churnguard_ops.security.waf import DynamoBlockRecords, WafIpSet

from .conftest import REGION

NOW = datetime(2026, 11, 28, 23, 50, tzinfo=timezone.utc)  # 10 minutes before a day boundary of the audit
TABLE = "churnguard-ops-security"
OTHERS = ["9.9.9.9/32", "2.2.2.0/24"]


@pytest.fixture
def ip_set(moto_aws: None) -> WafIpSet:
    waf = boto3.client("wafv2", region_name=REGION)
    created = waf.create_ip_set(Name="churnguard-ops-blocked", Scope="REGIONAL", IPAddressVersion="IPV4",
                                Addresses=list(OTHERS), Description="managed by hand and by remediation")
    return WafIpSet("churnguard-ops-blocked", created["Summary"]["Id"], region=REGION, sleep=lambda _s: None)


@pytest.fixture
def records(moto_aws: None) -> DynamoBlockRecords:
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
    return DynamoBlockRecords(TABLE, REGION)


def alert(ip: str, at: datetime = NOW, event_id: str | None = None) -> dict[str, Any]:
    event_id = event_id or f"evt-{ip}-{at.isoformat()}"
    return Alert(alert_id=Alert.make_id("brute_force_login", ip, event_id), detector="brute_force_login",
                 severity="high", entity=ip, count=7, window_seconds=300, event_id=event_id, timestamp=at,
                 recommended_action="Block the source IP", organization_id="org-1").line()


def remediator(ip_set: WafIpSet, records: DynamoBlockRecords, **policy: Any) -> Remediator:
    return Remediator(RemediationPolicy.model_validate({"dry_run": False, **policy}), ip_set, records)


def waf_addresses(ip_set: WafIpSet) -> set[str]:
    raw = boto3.client("wafv2", region_name=REGION).get_ip_set(Name=ip_set.name, Scope="REGIONAL",
                                                               Id=ip_set.ip_set_id)
    return set(raw["IPSet"]["Addresses"])


def audit(records: DynamoBlockRecords) -> list[BlockAction]:
    return records.actions(NOW - timedelta(days=1), NOW + timedelta(days=3))


# -- the IP set adapter -------------------------------------------------------------------------------

def test_add_and_remove_change_only_the_one_address_and_keep_the_description(ip_set: WafIpSet) -> None:
    assert ip_set.add("45.33.32.156/32") is True
    assert ip_set.add("45.33.32.156/32") is False  # already there: no update
    assert ip_set.addresses() == set(OTHERS) | {"45.33.32.156/32"}
    assert ip_set.remove("45.33.32.156/32") is True
    assert ip_set.remove("45.33.32.156/32") is False
    assert ip_set.addresses() == set(OTHERS)
    raw = boto3.client("wafv2", region_name=REGION).get_ip_set(Name=ip_set.name, Scope="REGIONAL",
                                                               Id=ip_set.ip_set_id)
    assert raw["IPSet"]["Description"] == "managed by hand and by remediation"


def test_a_concurrent_update_between_read_and_write_is_retried_with_a_fresh_lock_token(
        ip_set: WafIpSet, monkeypatch: pytest.MonkeyPatch) -> None:
    client = aws.client("wafv2", REGION)
    real_get = client.get_ip_set
    calls = {"n": 0}

    def get_then_someone_else_writes(**kwargs: Any) -> Any:
        result = real_get(**kwargs)
        calls["n"] += 1
        if calls["n"] == 1:  # another writer lands between our read and our write
            other = boto3.client("wafv2", region_name=REGION)
            current = other.get_ip_set(**kwargs)
            other.update_ip_set(**kwargs, Addresses=[*current["IPSet"]["Addresses"], "8.8.4.4/32"],
                                LockToken=current["LockToken"])
        return result

    monkeypatch.setattr(client, "get_ip_set", get_then_someone_else_writes)
    assert ip_set.add("45.33.32.156/32") is True
    assert calls["n"] == 2
    assert waf_addresses(ip_set) == set(OTHERS) | {"8.8.4.4/32", "45.33.32.156/32"}  # both changes kept


def test_an_ip_set_that_keeps_changing_gives_up_with_conflict(ip_set: WafIpSet,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    client = aws.client("wafv2", REGION)
    real_get = client.get_ip_set

    def stale_token(**kwargs: Any) -> Any:
        result = real_get(**kwargs)
        return {**result, "LockToken": "stale"}

    monkeypatch.setattr(client, "get_ip_set", stale_token)
    limited = WafIpSet(ip_set.name, ip_set.ip_set_id, region=REGION, max_attempts=3, sleep=lambda _s: None)
    with pytest.raises(Conflict, match="3 attempts"):
        limited.add("45.33.32.156/32")


def test_a_missing_ip_set_is_not_found(moto_aws: None) -> None:
    missing = WafIpSet("nope", "00000000-0000-0000-0000-000000000000", region=REGION)
    with pytest.raises(NotFound, match="WAFNonexistentItemException"):
        missing.addresses()


# -- the records adapter ------------------------------------------------------------------------------

def test_a_decision_is_recorded_once_per_alert(records: DynamoBlockRecords) -> None:
    action = BlockAction(action="refused", ip="10.0.0.1", cidr="10.0.0.1/32", alert_id="a1",
                         detector="brute_force_login", reason="private", at=NOW, dry_run=False)
    assert records.record_decision(action) is True
    assert records.record_decision(action.model_copy(update={"reason": "again"})) is False
    assert records.decision("a1") == action
    assert audit(records) == [action]


def test_a_decision_cancelled_by_contention_is_throttled_worth_a_retry(records: DynamoBlockRecords,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def cancelled(**_kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                           "CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict"}]},
                          "TransactWriteItems")

    monkeypatch.setattr(aws.client("dynamodb", REGION), "transact_write_items", cancelled)
    action = BlockAction(action="refused", ip="10.0.0.1", alert_id="a1", reason="private", at=NOW, dry_run=False)
    with pytest.raises(Throttled, match="TransactionConflict"):
        records.record_decision(action)


def test_current_blocks_delete_only_at_the_expiry_read(records: DynamoBlockRecords) -> None:
    block = ActiveBlock(ip="45.33.32.156", cidr="45.33.32.156/32", alert_id="a1", detector="brute_force_login",
                        blocked_at=NOW, expires_at=NOW + timedelta(hours=1), dry_run=False)
    records.put_active(block)
    assert records.active("45.33.32.156") == block and records.actives() == [block]
    assert records.delete_active("45.33.32.156", NOW) is False  # extended (or other) meanwhile
    assert records.delete_active("45.33.32.156", block.expires_at) is True
    assert records.active("45.33.32.156") is None and records.actives() == []


def test_the_table_ttl_never_falls_before_the_sweep(records: DynamoBlockRecords) -> None:
    block = ActiveBlock(ip="45.33.32.156", cidr="45.33.32.156/32", alert_id="a1", detector="brute_force_login",
                        blocked_at=NOW, expires_at=NOW + timedelta(hours=1), dry_run=False)
    records.put_active(block)
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=TABLE, Key={"pk": {"S": "remediation#active"}, "sk": {"S": "45.33.32.156"}})["Item"]
    # The table's TTL attribute (expires_at, as on the stack's table) is 30 days after the block's expiry
    assert int(item["expires_at"]["N"]) == int((block.expires_at + timedelta(days=30)).timestamp())
    assert item["block_expires_at"]["S"] == "2026-11-29T00:50:00.000000Z"  # text: never read by TTL


def test_actions_span_the_day_partitions_of_the_audit(records: DynamoBlockRecords) -> None:
    times = [NOW - timedelta(minutes=5), NOW + timedelta(minutes=15), NOW + timedelta(days=1, minutes=15)]
    for i, at in enumerate(times):
        records.record(BlockAction(action="unblock", ip=f"45.33.32.{i}", reason="expired", at=at, dry_run=False))
    assert [a.ip for a in records.actions(NOW - timedelta(minutes=5), NOW + timedelta(minutes=15))] == ["45.33.32.0"]
    assert [a.ip for a in records.actions(NOW - timedelta(hours=1), NOW + timedelta(days=2))] == \
        ["45.33.32.0", "45.33.32.1", "45.33.32.2"]


# -- remediation end to end ---------------------------------------------------------------------------

def test_a_block_adds_the_ip_as_slash_32_and_the_sweep_removes_it_after_the_ttl(
        ip_set: WafIpSet, records: DynamoBlockRecords) -> None:
    service = remediator(ip_set, records, ttl_minutes=30)
    decision = service.on_alert(alert("45.33.32.156"), NOW)
    assert decision is not None and decision.action.action == "block"
    assert waf_addresses(ip_set) == set(OTHERS) | {"45.33.32.156/32"}

    assert service.sweep(NOW + timedelta(minutes=29)).actions == []
    assert "45.33.32.156/32" in waf_addresses(ip_set)
    swept = service.sweep(NOW + timedelta(minutes=31))
    assert [(a.action, a.cidr) for a in swept.actions] == [("unblock", "45.33.32.156/32")]
    assert waf_addresses(ip_set) == set(OTHERS)
    assert [a.action for a in audit(records)] == ["block", "unblock"]
    assert records.actives() == []


def test_the_sweep_never_removes_addresses_we_did_not_add(ip_set: WafIpSet, records: DynamoBlockRecords) -> None:
    service = remediator(ip_set, records)
    service.on_alert(alert("45.33.32.156"), NOW)
    ip_set.add("45.33.32.157/32")  # an operator blocks a neighbour by hand
    service.sweep(NOW + timedelta(days=7))
    assert waf_addresses(ip_set) == set(OTHERS) | {"45.33.32.157/32"}


def test_dry_run_leaves_the_ip_set_untouched_but_records_every_step(ip_set: WafIpSet,
                                                                     records: DynamoBlockRecords) -> None:
    service = Remediator(RemediationPolicy(), ip_set, records)  # the default: dry-run
    decision = service.on_alert(alert("45.33.32.156"), NOW)
    assert decision is not None and decision.action.action == "dry_run_block"
    assert waf_addresses(ip_set) == set(OTHERS)
    service.sweep(NOW + timedelta(hours=2))
    assert waf_addresses(ip_set) == set(OTHERS)
    assert [(a.action, a.dry_run) for a in audit(records)] == [("dry_run_block", True), ("dry_run_unblock", True)]


def test_the_hourly_cap_refuses_the_block_over_it(ip_set: WafIpSet, records: DynamoBlockRecords) -> None:
    service = remediator(ip_set, records, max_blocks_per_hour=2)
    # across the audit's day boundary: the cap still sees the blocks of the day before
    outcomes = [service.on_alert(alert(f"45.33.32.{i}", at=NOW + timedelta(minutes=8 * i)),
                                 NOW + timedelta(minutes=8 * i)) for i in range(3)]
    assert [o.action.action for o in outcomes if o] == ["block", "block", "refused"]
    assert outcomes[2] is not None and "hourly_cap" in outcomes[2].action.reason
    assert waf_addresses(ip_set) == set(OTHERS) | {"45.33.32.0/32", "45.33.32.1/32"}


@pytest.mark.parametrize(("ip", "reason"), [("10.0.0.1", "private"), ("127.0.0.1", "loopback"),
                                             ("52.4.5.6", "allowlisted")])
def test_private_loopback_and_allowlisted_addresses_are_refused_and_recorded(
        ip_set: WafIpSet, records: DynamoBlockRecords, ip: str, reason: str) -> None:
    service = remediator(ip_set, records, allow_cidrs=["52.0.0.0/8"])
    decision = service.on_alert(alert(ip), NOW)
    assert decision is not None and decision.action.action == "refused"
    assert decision.action.reason.startswith(reason)
    assert waf_addresses(ip_set) == set(OTHERS)
    assert audit(records) == [decision.action] and records.actives() == []


def test_a_redelivered_alert_records_nothing_new(ip_set: WafIpSet, records: DynamoBlockRecords) -> None:
    service = remediator(ip_set, records)
    line = alert("45.33.32.156")
    first = service.on_alert(line, NOW)
    again = service.on_alert(line, NOW + timedelta(minutes=1))
    assert again is not None and first is not None and again.replayed and again.action == first.action
    assert len(audit(records)) == 1


def test_a_second_alert_extends_the_block(ip_set: WafIpSet, records: DynamoBlockRecords) -> None:
    service = remediator(ip_set, records, ttl_minutes=60)
    service.on_alert(alert("45.33.32.156", event_id="e1"), NOW)
    later = NOW + timedelta(minutes=45)
    decision = service.on_alert(alert("45.33.32.156", at=later, event_id="e2"), later)
    assert decision is not None and decision.action.action == "extend"
    assert service.sweep(NOW + timedelta(minutes=61)).actions == []
    assert "45.33.32.156/32" in waf_addresses(ip_set)
    assert [a.action for a in service.sweep(later + timedelta(minutes=60)).actions] == ["unblock"]
