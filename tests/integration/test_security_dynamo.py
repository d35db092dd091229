"""The DynamoDB adapters of the security ports against moto (in-process): detector state with conditional
writes (no lost updates, idempotent, the same verdicts as the memory state), the alert store and the tally."""
from __future__ import annotations

import json
import math
import random
import threading
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models.table import Table

from churnguard_ops.core import aws
from churnguard_ops.core.errors import Conflict, NotFound, Throttled
from churnguard_ops.security import adapters
from churnguard_ops.security.adapters import DynamoAlertStore, DynamoDetectorState, DynamoEventTally
from churnguard_ops.security.engine import Engine, build_detectors
from churnguard_ops.security.model import Alert, Event
from churnguard_ops.security.ports import Entry
from churnguard_ops.security.state import MemoryDetectorState, Slot, apply_add

REGION = "us-east-1"
STATE = "security-state"
ALERTS = "security-alerts"
T0 = datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)
BASE = T0.timestamp()


def _table(name: str, *keys: str) -> None:
    boto3.client("dynamodb", REGION).create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
        KeySchema=[{"AttributeName": k, "KeyType": kind} for k, kind in zip(keys, ("HASH", "RANGE"), strict=False)])


@pytest.fixture
def state(moto_aws: None) -> DynamoDetectorState:
    _table(STATE, "pk")
    return DynamoDetectorState(STATE, REGION)


@pytest.fixture
def alert_table(moto_aws: None) -> str:
    _table(ALERTS, "pk", "sk")
    return ALERTS


def stored(pk: str, table: str = STATE, sk: str | None = None) -> dict[str, Any]:
    key = {"pk": {"S": pk}} | ({"sk": {"S": sk}} if sk else {})
    return boto3.client("dynamodb", REGION).get_item(TableName=table, Key=key, ConsistentRead=True).get("Item", {})


def add(st: Any, key: str, ts: float, event_id: str, value: str = "", *, retain: float = 300, lateness: float = 900,
        keep: int = 1000) -> Any:
    return st.add_to_window(key, Entry(ts, event_id, value), retain_seconds=retain, lateness_seconds=lateness,
                            keep=keep)


@pytest.fixture
def atomic_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB evaluates a condition and writes atomically; moto checks then writes in Python, so threads could
    interleave in between. One lock around moto's write restores the guarantee the adapter relies on."""
    lock = threading.Lock()
    put = Table.put_item

    def locked(self: Table, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return put(self, *args, **kwargs)

    monkeypatch.setattr(Table, "put_item", locked)


# detector state -------------------------------------------------------------------------------------------

def test_window_entries_round_trip_exactly_and_every_view_equals_the_pure_transition(state) -> None:
    rng = random.Random(3)
    slot = Slot()
    for i in range(24):
        ts = BASE + i * 13 + rng.random() / 3  # sub-second fractions that decimal text must not round
        entry = (ts, f"e-{i}", f"org-{i % 3}")
        view = add(state, "brute|203.0.113.7", *entry, retain=120, lateness=60, keep=8)
        expected = apply_add(slot, Entry(*entry), 120, 60, 8)
        assert (view.entries, view.status, view.floor) == (list(expected.entries), expected.status, expected.floor)
    assert math.isfinite(slot.floor)  # the keep cap dropped entries: the floor round-trips too
    # A fresh adapter (another Lambda) reads back the identical floats, ids and values.
    again = add(DynamoDetectorState(STATE, REGION), "brute|203.0.113.7", *entry, retain=120, lateness=60, keep=8)
    assert again.status == "duplicate"
    assert again.entries == slot.entries and again.floor == slot.floor
    assert all(type(e.ts) is float for e in again.entries)


def test_late_and_duplicate_adds_report_their_status_and_do_not_write(state) -> None:
    add(state, "k", BASE + 1000.5, "newest")
    version = stored("w#k")["version"]

    late = add(state, "k", BASE + 1000.5 - 901, "late-one")
    duplicate = add(state, "k", BASE + 1000.5, "newest")

    assert (late.status, duplicate.status) == ("late", "duplicate")
    assert [e.event_id for e in duplicate.entries] == ["newest"]
    assert stored("w#k")["version"] == version


def test_a_redelivered_event_id_changes_nothing_whichever_instance_sees_it(state) -> None:
    first = add(state, "k", BASE + 0.25, "e-1", "org-1")
    second = add(DynamoDetectorState(STATE, REGION), "k", BASE + 0.25, "e-1", "org-1")
    assert (first.status, second.status) == ("added", "duplicate")
    assert second.entries == [Entry(BASE + 0.25, "e-1", "org-1")]
    assert stored("w#k")["version"] == {"N": "1"}


def test_concurrent_writers_on_one_key_lose_no_entries(state, atomic_moto, monkeypatch) -> None:
    client = aws.client("dynamodb", REGION)
    read, write = client.get_item, client.put_item
    lost: list[str] = []
    gave_up: list[Conflict] = []

    def read_with_latency(**kwargs: Any) -> Any:
        result = read(**kwargs)
        threading.Event().wait(0.0005)  # a network round trip: other writers run between our read and write
        return result

    def counting_write(**kwargs: Any) -> Any:
        try:
            return write(**kwargs)
        except ClientError as exc:
            lost.append(exc.response["Error"]["Code"])
            raise

    monkeypatch.setattr(client, "get_item", read_with_latency)
    monkeypatch.setattr(client, "put_item", counting_write)
    threads, per_thread = 8, 15  # moto spends ~10 ms of CPU per call: 120 contended events take seconds
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        mine = DynamoDetectorState(STATE, REGION)  # one per thread, like one per Lambda
        start.wait()
        try:
            for i in range(per_thread):
                while True:
                    try:
                        add(mine, "hot", BASE + i + n / 100, f"t{n}-{i}", retain=3600, keep=1000)
                        break
                    except Conflict as exc:  # overloaded key: SQS would deliver the event again
                        gave_up.append(exc)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert errors == []
    item = stored("w#hot")
    entries = json.loads(item["entries"]["S"])
    assert sorted(e[1] for e in entries) == sorted(f"t{n}-{i}" for n in range(threads) for i in range(per_thread))
    assert item["version"] == {"N": str(threads * per_thread)}  # one successful write per event, none overwritten
    assert len(lost) > threads and set(lost) == {"ConditionalCheckFailedException"}  # the race was real
    assert len(gave_up) < threads * per_thread // 10


def test_a_writer_that_keeps_losing_the_race_gives_up_with_conflict(state, monkeypatch) -> None:
    add(state, "k", BASE, "e-0")
    client = aws.client("dynamodb", REGION)
    write = client.put_item
    rival = DynamoDetectorState(STATE, REGION)
    rivals = iter(range(1, 1000))

    def rival_writes_first(**kwargs: Any) -> Any:
        if '"loser"' in kwargs["Item"]["entries"]["S"]:  # every attempt of ours: a rival lands just before it
            n = next(rivals)
            add(rival, "k", BASE + n, f"rival-{n}")
        return write(**kwargs)

    monkeypatch.setattr(client, "put_item", rival_writes_first)
    monkeypatch.setattr(adapters, "_backoff", lambda attempt: None)
    with pytest.raises(Conflict, match="w#k"):
        add(state, "k", BASE + 0.5, "loser")
    item = stored("w#k")
    assert "loser" not in item["entries"]["S"]
    assert item["version"] == {"N": str(1 + adapters.MAX_ATTEMPTS)}  # every rival landed, each exactly once


def test_claims_grant_refuse_and_forget_like_the_memory_state(state) -> None:
    memory = MemoryDetectorState()
    calls = [("a", "e1", 0.5), ("a", "e2", 30.25), ("a", "e1", 0.5), ("a", "e3", 60.75), ("a", "e4", -59.0),
             ("b", "e5", 10.0), ("a", "e6", 5000.0), ("a", "e7", 5030.0), ("a", "e6", 5000.0)]
    got, want = [], []
    for key, event_id, ts in calls:
        got.append(state.claim_alert(key, event_id, BASE + ts, dedup_seconds=60, lateness_seconds=900))
        want.append(memory.claim_alert(key, event_id, BASE + ts, dedup_seconds=60, lateness_seconds=900))
    assert got == want == [True, False, True, True, False, True, True, False, True]
    # Only the three new grants under "a" wrote; e1 and e3 were forgotten once e6 moved the horizon past them.
    item = stored("c#a")
    assert item["version"] == {"N": "3"}
    assert [e[1] for e in json.loads(item["entries"]["S"])] == ["e6"]


def test_ttl_is_the_newest_event_plus_retain_plus_lateness_and_only_the_newest_moves_it(state) -> None:
    add(state, "k", BASE + 10.25, "e-1", retain=300, lateness=900)
    assert stored("w#k")["expires_at"] == {"N": str(math.ceil(BASE + 10.25 + 1200))}
    add(state, "k", BASE + 5.5, "e-0", retain=300, lateness=900)  # earlier, not late: the window's end stays
    assert stored("w#k")["expires_at"] == {"N": str(math.ceil(BASE + 10.25 + 1200))}
    state.claim_alert("d", "e-1", BASE + 7.75, dedup_seconds=3600, lateness_seconds=900)
    assert stored("c#d")["expires_at"] == {"N": str(math.ceil(BASE + 7.75 + 4500))}


def test_the_engine_over_dynamodb_gives_the_alerts_it_gives_over_memory(state) -> None:
    rng = random.Random(11)
    events = [Event(event_id=f"e{i}", time=T0 + timedelta(seconds=i * 4.5 + rng.random()), kind="app",
                    type="login_failed", source_ip=f"203.0.113.{rng.randrange(3)}", organization_id="org-1")
              for i in range(90)]
    stream: list[Event] = []
    for block in range(0, len(events), 15):  # shuffled within ~70 s of event time, well inside the lateness
        chunk = events[block:block + 15]
        rng.shuffle(chunk)
        stream += chunk
    for i in (4, 20, 33, 60, 61):  # redeliveries shortly after the first delivery
        stream.insert(i + 3, stream[i])

    def run(detector_state: Any) -> list[Alert]:
        specs = [{"detector": "brute_force_login", "params": {"threshold": 4, "window_seconds": 60}}]
        return Engine(build_detectors(specs), detector_state, dedup_seconds=30,
                      lateness_seconds=300).process_many(stream)

    in_memory = run(MemoryDetectorState())
    assert len(in_memory) >= 5
    assert run(state) == in_memory


def test_a_missing_table_is_a_domain_not_found(moto_aws) -> None:
    with pytest.raises(NotFound, match="w#k in nowhere"):
        add(DynamoDetectorState("nowhere", REGION), "k", BASE, "e-1")


# alert store ----------------------------------------------------------------------------------------------

def alert(seconds: float, org: str | None = "org-1", n: int = 0, **context: Any) -> Alert:
    event_id = f"e{seconds}-{n}"
    return Alert(alert_id=Alert.make_id("brute_force_login", "203.0.113.7", event_id), detector="brute_force_login",
                 severity="high", entity="203.0.113.7", count=5, window_seconds=300, event_id=event_id,
                 timestamp=T0 + timedelta(seconds=seconds), recommended_action="Block the source IP",
                 organization_id=org, context=context)


def test_an_alert_needs_publishing_until_it_is_marked_published(alert_table) -> None:
    store = DynamoAlertStore(alert_table, REGION)
    first = alert(12.5, reason="five failures")

    assert store.put(first) is True
    assert store.put(first) is True  # stored by an attempt that crashed before publishing
    store.mark_published(first)
    assert store.put(first) is False
    item = stored("alert#org-1", ALERTS, f"2026-11-28T10:00:12.500000Z#{first.alert_id}")
    assert item["published"] == {"BOOL": True}
    assert (item["detector"], item["severity"]) == ({"S": "brute_force_login"}, {"S": "high"})
    assert item["expires_at"] == {"N": str(math.ceil((first.timestamp + timedelta(days=400)).timestamp()))}
    assert store.alerts("org-1", T0, T0 + timedelta(minutes=1)) == [first]


def test_marking_an_alert_that_was_never_stored_is_not_found(alert_table) -> None:
    with pytest.raises(NotFound):
        DynamoAlertStore(alert_table, REGION).mark_published(alert(1))
    assert boto3.client("dynamodb", REGION).scan(TableName=ALERTS)["Count"] == 0


def test_alerts_are_read_by_organization_and_half_open_time_range(alert_table) -> None:
    store = DynamoAlertStore(alert_table, REGION)
    mine = [alert(s) for s in (0, 59.999999, 60, 3599, 3600)]
    for a in [*mine, alert(30, org="org-2"), alert(30, org=None)]:
        store.put(a)

    assert store.alerts("org-1", T0, T0 + timedelta(hours=1)) == mine[:4]
    assert store.alerts("org-1", T0 + timedelta(minutes=1), T0 + timedelta(hours=2)) == mine[2:]
    assert store.alerts("org-2", T0, T0 + timedelta(hours=1)) == [alert(30, org="org-2")]
    assert store.alerts(None, T0, T0 + timedelta(hours=1)) == [alert(30, org=None)]
    # Other offsets are the same instants; a naive time is UTC.
    cet = timezone(timedelta(hours=1))
    assert store.alerts("org-1", T0.astimezone(cet), (T0 + timedelta(seconds=60)).replace(tzinfo=None)) == mine[:2]
    assert store.alerts("org-1", T0 + timedelta(hours=1), T0) == []


def test_alerts_beyond_one_query_page_are_all_read(alert_table, monkeypatch) -> None:
    store = DynamoAlertStore(alert_table, REGION)
    written = [alert(i, n=i, padding="x" * 20_000) for i in range(55)]  # ~1.1 MB: more than one 1 MB page
    for a in written:
        store.put(a)
    client = aws.client("dynamodb", REGION)
    query, pages = client.query, []

    def counted(**kwargs: Any) -> Any:
        pages.append(kwargs.get("ExclusiveStartKey"))
        return query(**kwargs)

    monkeypatch.setattr(client, "query", counted)

    assert store.alerts("org-1", T0, T0 + timedelta(days=7)) == written
    assert len(pages) >= 2 and pages[0] is None and all(pages[1:])  # page after page


# event tally ----------------------------------------------------------------------------------------------

def event(event_id: str, type_: str, when: datetime, org: str | None = "org-1") -> Event:
    return Event(event_id=event_id, time=when, kind="app", type=type_, organization_id=org)


def test_the_tally_counts_each_event_once_per_organization_and_day(alert_table) -> None:
    tally = DynamoEventTally(alert_table, REGION)
    day1 = datetime(2026, 11, 27, 23, 59, 59, tzinfo=timezone.utc)
    late_evening = datetime(2026, 11, 28, 0, 30, tzinfo=timezone(timedelta(hours=2)))  # 27 Nov in UTC
    recorded = [tally.record(e) for e in [
        event("a", "login_failed", day1), event("b", "login_failed", day1), event("a", "login_failed", day1),
        event("c", "data_export", late_evening), event("d", "login_failed", T0), event("e", "role_changed", T0),
        event("f", "login_failed", T0 + timedelta(days=2), org="org-2"), event("g", "login_failed", T0, org=None)]]

    assert recorded == [True, True, False, True, True, True, True, False]
    assert tally.counts("org-1", date(2026, 11, 27), date(2026, 11, 28)) == {"login_failed": 2, "data_export": 1}
    assert tally.counts("org-1", date(2026, 11, 27), date(2026, 11, 29)) == {
        "login_failed": 3, "data_export": 1, "role_changed": 1}
    assert tally.counts("org-1", date(2026, 11, 29), date(2026, 12, 6)) == {}
    assert tally.organizations(date(2026, 11, 27), date(2026, 11, 30)) == {"org-1"}
    assert tally.organizations(date(2026, 11, 27), date(2026, 12, 1)) == {"org-1", "org-2"}
    assert tally.organizations(date(2026, 11, 28), date(2026, 11, 28)) == set()
    seen = stored("seen#a", ALERTS, "-")
    assert seen["expires_at"] == {"N": str(math.ceil((day1 + timedelta(days=8)).timestamp()))}
    shard = adapters._shard("b")
    assert stored(f"tally#org-1#{shard}", ALERTS, "2026-11-27")["expires_at"] == {
        "N": str(int(datetime(2026, 11, 27, tzinfo=timezone.utc).timestamp()) + 400 * 86400)}
    assert not any(i["pk"]["S"].endswith("#g") for i in boto3.client("dynamodb", REGION).scan(
        TableName=ALERTS)["Items"])  # an event without organization writes nothing


class _Cancelling:
    """A DynamoDB client whose transactions are cancelled with the given reasons first, then succeed."""

    def __init__(self, *reasons: list[str]) -> None:
        self.reasons = list(reasons)
        self.calls = 0

    def update_item(self, **_: Any) -> dict[str, Any]:  # listing the organization of the day
        return {}

    def transact_write_items(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        if self.reasons:
            codes = self.reasons.pop(0)
            raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                               "CancellationReasons": [{"Code": c} for c in codes]}, "TransactWriteItems")
        return {}


def test_a_transaction_conflicting_with_a_concurrent_one_is_retried_and_throttling_is_transient(
        monkeypatch) -> None:
    monkeypatch.setattr(adapters, "_backoff", lambda attempt: None)
    tally = DynamoEventTally(ALERTS, REGION)
    conflicting = _Cancelling(["None", "TransactionConflict"], ["TransactionConflict", "None"])
    monkeypatch.setattr(adapters.aws, "client", lambda service, region=None: conflicting)
    assert tally.record(event("a", "login_failed", T0)) is True
    assert conflicting.calls == 3

    throttled = _Cancelling(["None", "ThrottlingError"])
    monkeypatch.setattr(adapters.aws, "client", lambda service, region=None: throttled)
    with pytest.raises(Throttled, match="ThrottlingError"):
        tally.record(event("b", "login_failed", T0))


def test_a_busy_organization_spreads_its_counters_and_lists_itself_once_per_day(alert_table, monkeypatch) -> None:
    tally = DynamoEventTally(alert_table, REGION)
    calls: list[str] = []
    client = boto3.client("dynamodb", REGION)
    original = client.update_item

    def counting(**kwargs: Any) -> Any:
        calls.append(kwargs["Key"]["pk"]["S"])
        return original(**kwargs)

    monkeypatch.setattr(client, "update_item", counting)
    # The adapters' view of the client factory only (the fixture's own reset still sees the real one).
    monkeypatch.setattr(adapters, "aws", SimpleNamespace(client=lambda service, region=None: client))
    for n in range(40):
        assert tally.record(event(f"busy-{n}", "login_failed", T0))
    assert calls == ["orgs"]  # one listing for the organization's day, not one per event
    items = boto3.client("dynamodb", REGION).scan(TableName=ALERTS)["Items"]
    shards = {i["pk"]["S"] for i in items if i["pk"]["S"].startswith("tally#org-1#")}
    assert len(shards) > 1
    assert tally.counts("org-1", T0.date(), T0.date() + timedelta(days=1)) == {"login_failed": 40}
