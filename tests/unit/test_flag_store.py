"""The store: cached per poll interval, unchanged answers keep the document, failures serve stale then nothing."""
from __future__ import annotations

import copy
import json

from churnguard_ops.core.errors import Throttled
from churnguard_ops.core.fakes import RecordingMetrics
from churnguard_ops.flags.client import FlagClient
from churnguard_ops.flags.store import FlagStore
from tests.unit.flags_fakes import SEED_DOCUMENT, ManualClock, ScriptedSource

DIMENSIONS = {"Application": "churnguard-ops-flags", "Environment": "production"}


def _store(source: ScriptedSource, clock: ManualClock, metrics: RecordingMetrics, *, cache: int = 45,
           max_stale: int = 3600) -> FlagStore:
    return FlagStore(source, clock, metrics, cache_seconds=cache, max_stale_seconds=max_stale,
                     application="churnguard-ops-flags", environment="production")


def _killed() -> dict:
    document = copy.deepcopy(SEED_DOCUMENT)
    document["new_dashboard_ui"]["kill_switch"] = True
    return document


def _stale_serves(metrics: RecordingMetrics) -> int:
    return sum(1 for name, _, _ in metrics.points if name == "FlagStaleServes")


def test_the_document_is_fetched_once_per_cache_period() -> None:
    source, clock = ScriptedSource(SEED_DOCUMENT), ManualClock()
    store = _store(source, clock, RecordingMetrics())
    first = store.current()
    clock.advance(44)
    assert store.current() == first and source.fetches == 1
    clock.advance(1)
    store.current()
    assert source.fetches == 2


def test_the_poll_interval_the_store_returns_sets_the_cache_period() -> None:
    source, clock = ScriptedSource(SEED_DOCUMENT, poll_interval_seconds=120), ManualClock()
    store = _store(source, clock, RecordingMetrics())
    store.current()
    clock.advance(119)
    store.current()
    assert source.fetches == 1
    clock.advance(1)
    store.current()
    assert source.fetches == 2


def test_an_unchanged_answer_keeps_the_cached_document_and_its_version() -> None:
    source, clock = ScriptedSource(SEED_DOCUMENT), ManualClock()
    store = _store(source, clock, RecordingMetrics())
    first = store.current()
    clock.advance(45)
    again = store.current()
    assert source.fetches == 2 and again.document == first.document and again.version == first.version == "1"
    assert not again.stale


def test_a_kill_switch_takes_effect_within_one_cache_period() -> None:
    source, clock, metrics = ScriptedSource(SEED_DOCUMENT), ManualClock(), RecordingMetrics()
    client = FlagClient(_store(source, clock, metrics), metrics, lambda: 1.0, exposure_sample_rate=0)
    user = {"user_id": "u-1001"}
    ramped = json.loads(json.dumps(SEED_DOCUMENT))
    ramped["new_dashboard_ui"]["rollout"]["percentage"] = 100
    source.deploy(ramped)
    assert client.evaluate("new_dashboard_ui", user, False).value is True
    source.deploy(_killed())
    clock.advance(44)
    assert client.evaluate("new_dashboard_ui", user, False).value is True  # still cached
    clock.advance(1)
    killed = client.evaluate("new_dashboard_ui", user, False)
    assert (killed.value, killed.reason, killed.version) == (False, "kill_switch", "3")


def test_a_store_failure_with_nothing_cached_gives_the_callers_default_and_counts_the_error() -> None:
    source, clock, metrics = ScriptedSource(SEED_DOCUMENT), ManualClock(), RecordingMetrics()
    source.fail()
    client = FlagClient(_store(source, clock, metrics), metrics, lambda: 1.0, exposure_sample_rate=0)
    result = client.evaluate("new_dashboard_ui", {"user_id": "u-42"}, "caller default")
    assert (result.value, result.reason, result.variant) == ("caller default", "store_error", "error")
    assert metrics.value("FlagStoreErrors", **DIMENSIONS) == 1
    assert client.evaluate_all({"user_id": "u-42"}) == []


def test_a_store_failure_serves_the_last_good_document_marked_stale_and_counted() -> None:
    source, clock, metrics = ScriptedSource(SEED_DOCUMENT), ManualClock(), RecordingMetrics()
    client = FlagClient(_store(source, clock, metrics), metrics, lambda: 1.0, exposure_sample_rate=0)
    fresh = client.evaluate("advanced_analytics", {"subscription_tier": "enterprise"}, False)
    source.fail(Throttled("appconfigdata GetLatestConfiguration: ThrottlingException"))
    clock.advance(45)
    stale = client.evaluate("advanced_analytics", {"subscription_tier": "enterprise"}, False)
    assert (stale.value, stale.reason, stale.stale, stale.version) == (True, fresh.reason, True, "1")
    assert not fresh.stale
    assert [name for name, _, dims in metrics.points if dims == DIMENSIONS] == ["FlagStoreErrors", "FlagStaleServes"]


def test_the_stale_document_is_dropped_after_max_stale_seconds() -> None:
    source, clock, metrics = ScriptedSource(SEED_DOCUMENT), ManualClock(), RecordingMetrics()
    store = _store(source, clock, metrics, cache=60, max_stale=600)
    store.current()
    source.fail()
    clock.advance(600)
    assert store.current().stale
    clock.advance(1)
    gone = store.current()
    assert gone.document is None and "Unavailable" in (gone.error or "")
    assert _stale_serves(metrics) == 1


def test_the_store_recovers_fresh_after_a_failure() -> None:
    source, clock, metrics = ScriptedSource(SEED_DOCUMENT), ManualClock(), RecordingMetrics()
    store = _store(source, clock, metrics)
    store.current()
    source.fail()
    clock.advance(45)
    assert store.current().stale
    source.recover()
    clock.advance(45)
    recovered = store.current()
    assert recovered.document is not None and not recovered.stale and recovered.error is None


def test_a_failing_store_is_polled_once_per_cache_period_not_per_request() -> None:
    source, clock = ScriptedSource(SEED_DOCUMENT), ManualClock()
    source.fail()
    store = _store(source, clock, RecordingMetrics())
    for _ in range(5):
        store.current()
    assert source.fetches == 1


def test_an_invalid_document_is_a_store_error_and_the_last_good_one_is_kept() -> None:
    source, clock, metrics = ScriptedSource(SEED_DOCUMENT), ManualClock(), RecordingMetrics()
    store = _store(source, clock, metrics)
    good = store.current()
    broken = copy.deepcopy(SEED_DOCUMENT)
    broken["new_dashboard_ui"]["rollout"]["percentage"] = 150
    source.deploy(broken)
    clock.advance(45)
    served = store.current()
    assert served.document == good.document and served.stale and served.version == "1"
    assert "new_dashboard_ui.rollout.percentage" in (served.error or "")
    clock.advance(45)  # the store now answers "unchanged": that still means the invalid document
    assert store.current().stale
    assert metrics.value("FlagStoreErrors", **DIMENSIONS) == 1 and len(
        [p for p in metrics.points if p[0] == "FlagStoreErrors"]) == 2


def test_an_invalid_first_document_leaves_no_document() -> None:
    source, clock, metrics = ScriptedSource(b"{not json"), ManualClock(), RecordingMetrics()
    snapshot = _store(source, clock, metrics).current()
    assert snapshot.document is None and "not JSON" in (snapshot.error or "")
