"""The advisor use case on fakes: documents per instance, one failure does not stop the others, ANALYZE only
when configured and only of stale tables, metrics for every kind, the summary."""
from __future__ import annotations

import json

import pytest

from churnguard_ops.core.fakes import RecordingMetrics, RecordingNotifier
from churnguard_ops.dbadvisor.model import FindingKind
from churnguard_ops.dbadvisor.service import FINDINGS_METRIC, AdviceFailed, DbAdvisor
from churnguard_ops.dbadvisor.thresholds import Thresholds
from tests.unit.dbadvisor_fakes import (
    NOW,
    FakeCatalogReader,
    FakeConnector,
    MemoryReportStore,
    index,
    snapshot,
    statement,
    stats,
    table,
)

WORKLOAD = snapshot(tables=[table("events"), table("users", rows=10_000, modified=5_000),
                            table("orgs", rows=10_000, modified=4_000)],
                    column_stats=[stats("events", "org_id", 200), stats("events", "kind", 8)],
                    statements=[statement("SELECT * FROM events WHERE org_id = $1 AND kind = $2")],
                    indexes=[index("events_old_idx", "events", ("occurred_at",))])


def make(readers, *, analyze_stale=False):
    store, notifier, metrics = MemoryReportStore(), RecordingNotifier(), RecordingMetrics()
    advisor = DbAdvisor(sorted(readers), FakeConnector(readers), store, notifier, metrics, lambda: NOW,
                        thresholds=Thresholds(), analyze_stale=analyze_stale)
    return advisor, store, notifier, metrics


def test_each_instance_gets_its_advice_json_and_markdown_and_its_proposals_document():
    advisor, store, notifier, _ = make({"prod-db": FakeCatalogReader(WORKLOAD)})
    run = advisor.run()
    assert set(store.objects) == {"dbadvisor/reports/prod-db/20261130T100000Z/advice.json",
                                  "dbadvisor/reports/prod-db/20261130T100000Z/advice.md",
                                  "dbadvisor/proposals/prod-db.json"}
    advice = json.loads(store.objects["dbadvisor/reports/prod-db/20261130T100000Z/advice.json"][0])
    assert advice["counts"]["missing_index"] == 1 and advice["database"] == "db_prod_db"
    assert {"kind", "schema", "table", "index", "columns", "evidence", "sql"} <= set(advice["findings"][0])
    proposals = json.loads(store.objects["dbadvisor/proposals/prod-db.json"][0])
    assert [p["columns"] for p in proposals["proposals"]] == [["org_id", "kind"]]
    markdown = store.objects["dbadvisor/reports/prod-db/20261130T100000Z/advice.md"][0]
    assert "## Missing indexes" in markdown and "CREATE INDEX CONCURRENTLY" in markdown
    (headline,) = run.headline()["instances"]
    assert headline["proposals"] == 1 and headline["documents"]["proposals"].endswith("proposals/prod-db.json")
    ((subject, message),) = notifier.messages
    assert subject.startswith("PostgreSQL advisor:") and "prod-db" in message and "CREATE INDEX" in message


def test_an_instance_without_proposals_still_gets_an_empty_proposals_document():
    advisor, store, _, _ = make({"quiet-db": FakeCatalogReader(snapshot())})
    advisor.run()
    assert json.loads(store.objects["dbadvisor/proposals/quiet-db.json"][0])["proposals"] == []


def test_one_failing_instance_does_not_stop_the_others_and_the_run_raises_at_the_end():
    advisor, store, notifier, _ = make({"a-db": ConnectionError("timeout expired"),
                                        "b-db": FakeCatalogReader(WORKLOAD)})
    with pytest.raises(AdviceFailed, match="a-db: ConnectionError: timeout expired"):
        advisor.run()
    assert "dbadvisor/proposals/b-db.json" in store.objects
    assert not any("a-db" in key for key in store.objects)
    assert "a-db: FAILED" in notifier.messages[0][1]


def test_on_demand_advises_only_the_named_instance_and_refuses_an_unconfigured_one():
    advisor, store, _, _ = make({"a-db": FakeCatalogReader(snapshot()), "b-db": FakeCatalogReader(snapshot())})
    advisor.run("b-db")
    assert {key.split("/")[2] for key in store.objects if key.startswith("dbadvisor/reports/")} == {"b-db"}
    with pytest.raises(ValueError, match="c-db is not a configured instance"):
        advisor.run("c-db")


def test_stale_tables_are_analyzed_only_when_configured_and_only_those():
    reader = FakeCatalogReader(WORKLOAD, refuse_analyze=frozenset({"orgs"}))
    advisor, _, _, _ = make({"db": reader}, analyze_stale=True)
    advice = advisor.run().results[0].advice
    assert sorted(reader.analyzed) == [("public", "orgs"), ("public", "users")]
    assert advice is not None and advice.analyzed_tables == ["public.users"]
    assert any(n.topic == "analyze" and n.status == "error" and "public.orgs" in n.reason for n in advice.notes)

    reader = FakeCatalogReader(WORKLOAD)
    advisor, _, _, _ = make({"db": reader})
    advice = advisor.run().results[0].advice
    assert reader.analyzed == [] and advice is not None and advice.analyzed_tables == []
    assert any(n.topic == "analyze" and "analyze_stale is false" in n.reason for n in advice.notes)


def test_findings_are_counted_per_kind_including_zeros():
    advisor, _, _, metrics = make({"db": FakeCatalogReader(WORKLOAD)})
    advisor.run()
    from typing import get_args

    for kind in get_args(FindingKind):
        expected = {"missing_index": 1, "unused_index": 1, "slow_query": 1, "stale_statistics": 2}.get(kind, 0)
        assert metrics.value(FINDINGS_METRIC, DBInstanceIdentifier="db", Kind=kind) == expected, kind


def test_the_reader_is_asked_for_the_configured_top_and_slow_threshold():
    reader = FakeCatalogReader(snapshot())
    advisor = DbAdvisor(["db"], FakeConnector({"db": reader}), MemoryReportStore(), None, None, lambda: NOW,
                        thresholds=Thresholds(top_statements=3, slow_query_ms=250))
    advisor.run()
    assert reader.reads == [(3, 250.0)]
