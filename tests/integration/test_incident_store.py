"""The DynamoDB incident store on moto: conditional create/save/claim, the status index, timelines, TTL, and two
alarms of one group arriving at once opening ONE incident."""
from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from moto import mock_aws

from churnguard_ops.core import aws
from churnguard_ops.core.contracts import INCIDENTS_STATUS_INDEX
from churnguard_ops.core.errors import AlreadyExists, Conflict
from churnguard_ops.core.fakes import RecordingMetrics
from churnguard_ops.incidents.adapters import DynamoIncidentStore, S3Postmortems
from churnguard_ops.incidents.events import AlarmStateChange
from churnguard_ops.incidents.model import Incident, IncidentAlarm, TimelineEntry
from churnguard_ops.incidents.service import IncidentService, Policy

pytestmark = pytest.mark.integration

REGION = "us-east-1"
TABLE = "incidents"
T0 = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)


_tables = itertools.count()


def in_process_moto() -> Iterator[None]:
    """One in-process moto for a module (each test gets its own table instead of its own moto)."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "AWS_DEFAULT_REGION": REGION}.items():
            mp.setenv(key, value)
        mp.delenv("AWS_ENDPOINT_URL", raising=False)
        aws.reset_clients()
        with mock_aws():
            yield
        aws.reset_clients()


moto_module = pytest.fixture(scope="module", name="moto_module")(in_process_moto)


def create_incidents_table(prefix: str = TABLE) -> str:
    """A fresh table as the incidents stack defines it (keys, status index); returns its name."""
    name = f"{prefix}-{next(_tables)}"
    boto3.client("dynamodb", REGION).create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "status", "opened_at")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[{"IndexName": INCIDENTS_STATUS_INDEX, "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"},
                                               {"AttributeName": "opened_at", "KeyType": "RANGE"}]}])
    return name


@pytest.fixture
def store(moto_module: None) -> DynamoIncidentStore:
    return DynamoIncidentStore(create_incidents_table(), REGION)


def _incident(incident_id: str = "inc-1", **changes: Any) -> Incident:
    fields: dict[str, Any] = {"title": "A in ALARM", "severity": "critical", "opened_at": T0, "updated_at": T0,
                              "alarms": [IncidentAlarm(name="A", state="ALARM", since=T0)], **changes}
    return Incident(incident_id=incident_id, **fields)


def test_create_is_refused_for_a_taken_id_and_save_only_over_the_version_read(store):
    store.create(_incident())
    with pytest.raises(AlreadyExists):
        store.create(_incident())
    mine, theirs = store.get("inc-1"), store.get("inc-1")
    assert mine is not None and theirs is not None
    theirs.status = "acknowledged"
    store.save(theirs)
    mine.title = "stale write"
    with pytest.raises(Conflict):
        store.save(mine)
    stored = store.get("inc-1")
    assert stored is not None and (stored.status, stored.title, stored.version) == ("acknowledged", "A in ALARM", 1)


def test_the_status_index_lists_incidents_only_and_follows_status_changes(store):
    store.create(_incident("inc-1"))
    store.create(_incident("inc-2", opened_at=T0 + timedelta(minutes=1)))
    store.claim("alarm:A", "inc-1", replacing=None)
    store.append("inc-1", [TimelineEntry(at=T0, kind="opened", detail="A")])
    second = store.get("inc-2")
    assert second is not None
    second.status = "resolved"
    store.save(second)
    assert [i.incident_id for i in store.by_status("open")] == ["inc-1"]
    assert [i.incident_id for i in store.by_status("resolved")] == ["inc-2"]


def test_timeline_entries_come_back_in_time_order_even_within_one_instant(store):
    store.create(_incident())
    store.append("inc-1", [TimelineEntry(at=T0 + timedelta(seconds=5), kind="note", detail="later", by="bob")])
    store.append("inc-1", [TimelineEntry(at=T0, kind="opened", detail="first"),
                           TimelineEntry(at=T0, kind="notification", detail="second")])
    assert [(e.kind, e.detail) for e in store.timeline("inc-1")] == [
        ("opened", "first"), ("notification", "second"), ("note", "later")]


def test_a_pointer_is_claimed_once_replaced_only_over_the_stale_holder_and_released_only_by_it(store):
    assert store.claim("group:api", "inc-1", replacing=None)
    assert not store.claim("group:api", "inc-2", replacing=None)
    assert not store.claim("group:api", "inc-2", replacing="inc-9")
    assert store.claim("group:api", "inc-2", replacing="inc-1")
    store.release("group:api", "inc-1")  # not the holder: nothing happens
    assert store.pointer("group:api") == "inc-2"
    store.release("group:api", "inc-2")
    assert store.pointer("group:api") is None


def test_expire_sets_the_ttl_on_the_incident_and_its_timeline(store):
    store.create(_incident())
    store.append("inc-1", [TimelineEntry(at=T0, kind="opened", detail="A")])
    until = T0 + timedelta(days=90)
    store.expire("inc-1", until)
    items = boto3.client("dynamodb", REGION).scan(TableName=store.table)["Items"]
    assert sorted(i["sk"]["S"][:2] for i in items) == ["ME", "T#"]
    assert {i["expires_at"]["N"] for i in items} == {str(int(until.timestamp()))}


class _Barrier:
    """Holds both callers right after their first read of the group pointer, so both see it free."""

    def __init__(self, store: DynamoIncidentStore) -> None:
        self.barrier = threading.Barrier(2, timeout=30)
        self.read = store.pointer
        self.waited: set[int] = set()

    def pointer(self, key: str) -> str | None:
        value = self.read(key)
        if key.startswith("group:") and threading.get_ident() not in self.waited:
            self.waited.add(threading.get_ident())
            self.barrier.wait()
        return value


def test_two_alarms_of_one_group_at_once_open_one_incident(store):
    gate = _Barrier(store)
    store.pointer = gate.pointer  # type: ignore[method-assign]
    service = IncidentService(store, S3Postmortems("unused", None, REGION), RecordingMetrics(), lambda: T0,
                              Policy.from_minutes(group_window=15, escalate_after={}, auto_resolve=10,
                                                  retention_days=90))
    results: dict[str, Any] = {}

    def fire(name: str) -> None:
        command = AlarmStateChange.model_validate({
            "command": "alarm_state_change", "event_id": f"evt-{name}",
            "alarm": {"name": name, "state": "ALARM", "time": T0.isoformat(), "group": "api"}})
        try:
            results[name] = service.alarm_state_change(command)
        except Exception as exc:  # reported by the assertion below
            results[name] = exc

    threads = [threading.Thread(target=fire, args=(n,)) for n in ("HighErrorRate", "HighResponseTime")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r["outcome"] for r in results.values()) == ["attached", "opened"], results
    assert len({r["incident_id"] for r in results.values()}) == 1
    (incident,) = store.by_status("open")
    assert {a.name for a in incident.alarms} == {"HighErrorRate", "HighResponseTime"}
