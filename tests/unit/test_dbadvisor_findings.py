"""The advisor's rules on hand-made catalog rows: each finding kind, its edges, and what is never proposed."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from churnguard_ops.dbadvisor.analysis import advise
from churnguard_ops.dbadvisor.health import XID_LIMIT, index_bloat, table_bloat
from churnguard_ops.dbadvisor.indexes import equality_selectivity
from churnguard_ops.dbadvisor.model import BloatEstimate, ProposalsDocument, StatementsAvailability
from churnguard_ops.dbadvisor.thresholds import Thresholds
from tests.unit.dbadvisor_fakes import NOW, health, index, snapshot, statement, stats, table

T = Thresholds()
FILTER = "SELECT count(*) FROM events WHERE org_id = $1 AND kind = $2 AND occurred_at > $3"
EVENT_STATS = [stats("events", "org_id", 200), stats("events", "kind", 8),
               stats("events", "occurred_at", -0.9), stats("events", "is_test", 2, (0.5, 0.5))]


def run(**overrides):
    return advise(snapshot(**overrides), T, db_instance_id="db-1", database="app", now=NOW)


def kinds(advice, kind):
    return [f for f in advice.findings if f.kind == kind]


def test_missing_index_orders_equalities_by_selectivity_then_one_range_and_maps_the_placeholders():
    advice = run(tables=[table("events")], column_stats=EVENT_STATS,
                 statements=[statement(FILTER, queryid="42", calls=120, mean_ms=4.2)])
    (finding,) = kinds(advice, "missing_index")
    assert finding.columns == ["org_id", "kind", "occurred_at"]
    assert finding.sql == ("CREATE INDEX CONCURRENTLY IF NOT EXISTS events_org_id_kind_occurred_at_idx "
                           "ON public.events USING btree (org_id, kind, occurred_at);")
    # 1/200 x 1/8 x 1/3 (an open range against an unknown value)
    assert finding.evidence["estimated_fraction_read"] == pytest.approx(1 / 200 / 8 / 3, abs=1e-6)
    (proposal,) = advice.proposals
    assert proposal.id == "missing_index:public.events:org_id,kind,occurred_at"
    (used_by,) = proposal.statements
    assert (used_by.queryid, used_by.calls, used_by.mean_ms) == ("42", 120, 4.2)
    assert [(p.position, p.column) for p in used_by.parameters] == [(1, "org_id"), (2, "kind"), (3, "occurred_at")]


def test_the_summary_says_how_little_the_index_reads_without_rounding_it_to_zero():
    advice = run(tables=[table("events")], column_stats=EVENT_STATS,
                 statements=[statement(FILTER, queryid="42", calls=120, mean_ms=4.2)])
    (finding,) = kinds(advice, "missing_index")
    assert "an index would read ~0.02 % of it" in finding.summary  # 1/200 x 1/8 x 1/3 = 0.0208 %
    advice = run(tables=[table("events")], column_stats=[*EVENT_STATS, stats("events", "org_id", 20000)],
                 statements=[statement("SELECT 1 FROM events WHERE org_id = $1 AND kind = $2")])
    (finding,) = kinds(advice, "missing_index")
    assert "an index would read < 0.01 % of it" in finding.summary  # 1/20000 x 1/8


def test_a_column_whose_equality_matches_too_many_rows_is_left_out_of_the_index():
    advice = run(tables=[table("events", columns=("id", "org_id", "is_test"))], column_stats=EVENT_STATS,
                 statements=[statement("SELECT * FROM events WHERE is_test = $1 AND org_id = $2")])
    (finding,) = kinds(advice, "missing_index")
    assert finding.columns == ["org_id"]  # is_test: two values at 50 % each, sum of squares 0.5 > 0.3


def test_no_proposal_when_the_index_would_still_read_a_large_fraction():
    advice = run(tables=[table("events")], column_stats=EVENT_STATS,
                 statements=[statement("SELECT * FROM events WHERE occurred_at > $1")])
    assert kinds(advice, "missing_index") == []
    (skip,) = advice.health["skipped_for_missing_indexes"]
    assert "33.3 %" in skip["reason"]


@pytest.mark.parametrize(("tab", "reason"), [
    (table("events", rows=4_999), "min_table_rows"),
    (table("events", seq_scan=10, idx_scan=10), "mostly index-scanned"),
])
def test_no_proposal_for_small_or_index_scanned_tables(tab, reason):
    advice = run(tables=[tab], column_stats=EVENT_STATS, statements=[statement(FILTER)])
    assert kinds(advice, "missing_index") == []
    assert reason in advice.health["skipped_for_missing_indexes"][0]["reason"]


def test_no_proposal_when_an_existing_index_leads_with_the_first_column():
    advice = run(tables=[table("events")], column_stats=EVENT_STATS, statements=[statement(FILTER)],
                 indexes=[index("events_org_idx", "events", ("org_id",), scans=3)])
    assert kinds(advice, "missing_index") == []


def test_a_proposal_that_leads_another_merges_into_it_with_both_statements():
    advice = run(tables=[table("events")], column_stats=EVENT_STATS,
                 statements=[statement("SELECT * FROM events WHERE org_id = $1", queryid="1"),
                             statement("SELECT * FROM events WHERE kind = $2 AND org_id = $1", queryid="2")])
    (proposal,) = advice.proposals
    assert proposal.columns == ["org_id", "kind"] and {s.queryid for s in proposal.statements} == {"1", "2"}


def test_equality_selectivity_is_the_sum_of_squared_frequencies():
    assert equality_selectivity(stats("t", "c", 100), 1000) == pytest.approx(0.01)
    assert equality_selectivity(stats("t", "c", -0.5), 1000) == pytest.approx(1 / 500)
    skewed = stats("t", "c", 11, (0.9,))  # one value 90 %, ten others share 10 %
    assert equality_selectivity(skewed, 1000) == pytest.approx(0.81 + 0.01 / 10)
    assert equality_selectivity(None, 1000) is None


def test_unused_indexes_never_include_primary_unique_exclusion_or_constraint_indexes():
    indexes = [index("t_pkey", "t", ("id",), primary=True, unique=True, constraint="t_pkey"),
               index("t_email_key", "t", ("email",), unique=True),
               index("t_period_excl", "t", ("period",), exclusion=True, method="gist"),
               index("t_ref_target", "t", ("ref",), constraint="o_ref_fkey (a foreign key's target)"),
               index("t_old_idx", "t", ("created_at",)),
               index("t_busy_idx", "t", ("org_id",), scans=12)]
    advice = run(indexes=indexes)
    assert [f.index for f in kinds(advice, "unused_index")] == ["t_old_idx"]
    (finding,) = kinds(advice, "unused_index")
    assert finding.sql == "DROP INDEX CONCURRENTLY IF EXISTS public.t_old_idx;"
    assert finding.evidence["stats_reset"] is None and "never reset" in finding.summary


def test_indexes_of_partitioned_tables_are_never_proposed_for_dropping():
    indexes = [index("m_at_idx", "m", ("at",), partitioned=True),
               index("m_2026_at_idx", "m_2026", ("at",), attached_to="m_at_idx"),
               index("m_2026_at_copy", "m_2026", ("at",))]
    advice = run(indexes=indexes)
    dropped = {f.index for f in advice.findings if f.sql and f.sql.startswith("DROP")}
    assert dropped == {"m_2026_at_copy"}  # the one index nothing needs: a duplicate of the attached one


def test_unused_indexes_wait_until_the_statistics_are_old_enough():
    young = run(indexes=[index("t_old_idx", "t", ("created_at",))],
                health=health(stats_reset=NOW - timedelta(days=6.9)))
    assert kinds(young, "unused_index") == [] and young.notes[0].topic == "unused_indexes"
    old = run(indexes=[index("t_old_idx", "t", ("created_at",))], health=health(stats_reset=NOW - timedelta(days=7)))
    (finding,) = kinds(old, "unused_index")
    assert finding.evidence["stats_age_days"] == 7.0


def test_of_duplicates_the_constraint_index_is_kept_and_the_other_dropped_once():
    indexes = [index("t_code_idx", "t", ("code",), scans=50),
               index("t_code_key", "t", ("code",), unique=True, constraint="t_code_key")]
    advice = run(indexes=indexes)
    (dup,) = kinds(advice, "duplicate_index")
    assert dup.index == "t_code_idx" and dup.evidence["duplicate_of"] == "t_code_key"
    assert dup.evidence["kept_because"] == "backs constraint t_code_key"
    assert kinds(advice, "unused_index") == []  # the key is protected, the duplicate was already proposed


def test_duplicates_that_are_all_protected_are_left_alone_and_predicates_or_methods_make_a_difference():
    protected = [index("t_pkey", "t", ("id",), primary=True, constraint="t_pkey"),
                 index("t_id_key", "t", ("id",), unique=True, constraint="t_id_key")]
    assert kinds(run(indexes=protected), "duplicate_index") == []
    different = [index("a", "t", ("x",), scans=1), index("b", "t", ("x",), scans=1, predicate="(x > 0)"),
                 index("c", "t", ("x",), scans=1, method="hash")]
    assert kinds(run(indexes=different), "duplicate_index") == []


def test_of_two_identical_unused_indexes_one_is_kept():
    advice = run(indexes=[index("t_x_a", "t", ("x",), scans=4), index("t_x_b", "t", ("x",))])
    (dup,) = kinds(advice, "duplicate_index")
    assert dup.index == "t_x_b" and dup.evidence["kept_because"] == "more scans"


def test_a_btree_prefix_of_another_is_redundant_unless_it_enforces_something():
    indexes = [index("t_org_idx", "t", ("org_id",), scans=9), index("t_org_time_idx", "t", ("org_id", "at"), scans=1),
               index("t_code_key", "t", ("code",), unique=True, constraint="t_code_key"),
               index("t_code_name_idx", "t", ("code", "name"), scans=1),
               index("t_org_part", "t", ("org_id",), predicate="(at IS NULL)", scans=2)]
    (redundant,) = kinds(run(indexes=indexes), "redundant_index")
    assert redundant.index == "t_org_idx" and redundant.evidence["covered_by"] == "t_org_time_idx"


def test_stale_statistics_at_the_fraction_edge():
    at_edge = table("t", rows=10_000, modified=2_000)
    below = table("u", rows=10_000, modified=1_999)
    (stale,) = kinds(run(tables=[at_edge, below]), "stale_statistics")
    assert stale.table == "t" and stale.sql == "ANALYZE public.t;"


def test_wraparound_at_half_the_xid_space_or_past_the_freeze_age():
    assert kinds(run(health=health(oldest_xid_age=XID_LIMIT // 2 - 1, autovacuum_freeze_max_age=2_000_000_000)),
                 "wraparound") == []
    (half,) = kinds(run(health=health(oldest_xid_age=XID_LIMIT // 2, autovacuum_freeze_max_age=2_000_000_000)),
                    "wraparound")
    assert half.evidence["headroom"] == XID_LIMIT - XID_LIMIT // 2 and half.evidence["used_pct"] == 50.0
    (late,) = kinds(run(health=health(oldest_xid_age=200_000_001)), "wraparound")
    assert "autovacuum_freeze_max_age" in late.summary


def test_connections_and_cache_hit_thresholds():
    (conn,) = kinds(run(health=health(connections=78, max_connections=100, reserved_connections=3)), "connections")
    assert conn.evidence["fraction"] == pytest.approx(78 / 97, abs=1e-3)
    assert kinds(run(health=health(connections=77, max_connections=100, reserved_connections=3)), "connections") == []
    (cache,) = kinds(run(health=health(blks_hit=9_400, blks_read=600)), "cache_hit_ratio")
    assert cache.evidence["ratio"] == 0.94
    assert kinds(run(health=health(blks_hit=940, blks_read=60)), "cache_hit_ratio") == []  # too few blocks to judge


def test_bloat_estimates_by_hand():
    # 10,000 rows of 40 bytes: header 24 + 40 + line pointer 4 = 68 bytes; 8,168 usable bytes a page -> 84 pages
    est = table_bloat("public", "t", 200, 10_000, 8192, 100, natts=3, nstats=3, data_width=40, max_null_frac=0,
                      method="m")
    assert est == BloatEstimate("public", "t", None, 200 * 8192, (200 - 84) * 8192, "m")
    assert table_bloat("public", "t", 200, 10_000, 8192, 100, 3, 2, 40, 0, "m") is None  # a column lacks stats
    # btree: 8 + 8 + 4 = 20 bytes a row, (8192 - 40) x 0.9 usable -> 28 pages + the metapage
    idx = index_bloat("public", "t", "t_idx", 100, 10_000, 8192, 90, natts=1, nstats=1, data_width=8, method="m")
    assert idx is not None and idx.bloat_bytes == (100 - 29) * 8192
    big = BloatEstimate("public", "t", None, 100 << 20, 40 << 20, "m")
    (finding,) = kinds(run(bloat=[big, BloatEstimate("public", "u", None, 100 << 20, 29 << 20, "m")]), "table_bloat")
    assert finding.table == "t" and finding.evidence["method"] == "m"


def test_slow_queries_have_their_numbers_and_the_index_that_would_help():
    advice = run(tables=[table("events")], column_stats=EVENT_STATS,
                 statements=[statement(FILTER, queryid="7", calls=10, mean_ms=250.0),
                             statement("SELECT 1", queryid="8", calls=1, mean_ms=0.1)])
    slow = {f.evidence["queryid"]: f for f in kinds(advice, "slow_query")}
    assert set(slow) == {"7", "8"}  # 8 only as one of the top 10 by total time
    assert slow["7"].evidence["calls"] == 10 and slow["7"].evidence["total_ms"] == 2500.0
    assert slow["7"].evidence["cache_hit_pct"] == 90.0 and "mean 250.0 ms" in slow["7"].evidence["why"]
    assert slow["7"].sql == advice.proposals[0].sql and slow["8"].sql is None


def test_without_pg_stat_statements_it_says_so_once_and_still_runs_the_catalog_checks():
    advice = run(statements_availability=StatementsAvailability(False, "not preloaded", "add it to preload"),
                 indexes=[index("t_old_idx", "t", ("created_at",))])
    (note,) = [n for n in advice.notes if n.topic == "pg_stat_statements"]
    assert note.status == "not_available" and note.reason == "not preloaded" and note.enable == "add it to preload"
    assert advice.pg_stat_statements["available"] is False
    assert [f.kind for f in advice.findings] == ["unused_index"] and advice.proposals == []


CONTRACT_EXAMPLE = """{
  "schema_version": 1, "db_instance_id": "churnguard-prod", "database": "churnguard",
  "generated_at": "2026-11-30T10:00:00+00:00",
  "proposals": [{
      "id": "missing_index:public.events:org_id,kind", "schema": "public", "table": "events",
      "columns": ["org_id", "kind"],
      "sql":
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS events_org_id_kind_idx ON public.events USING btree (org_id, kind);",
      "statements": [{"queryid": "-2374019273641",
                      "text": "SELECT count(*) FROM events WHERE org_id = $1 AND kind = $2",
                      "calls": 120, "mean_ms": 4.2,
                      "parameters": [{"position": 1, "schema": "public", "table": "events", "column": "org_id"},
                                     {"position": 2, "schema": "public", "table": "events", "column": "kind"}]}]}]
}"""


def test_the_proposals_document_is_the_contract_example_shape():
    example = json.loads(CONTRACT_EXAMPLE)
    assert ProposalsDocument.model_validate(example).model_dump(mode="json", by_alias=True)["proposals"] == \
        example["proposals"]
    advice = run(tables=[table("events")], column_stats=EVENT_STATS,
                 statements=[statement("SELECT count(*) FROM events WHERE org_id = $1 AND kind = $2",
                                       queryid="-2374019273641", calls=120, mean_ms=4.2)])
    document = advice.proposals_document()
    assert document["proposals"] == example["proposals"]
    assert set(document) == set(example) and document["schema_version"] == 1
    empty = run().proposals_document()
    assert empty["proposals"] == [] and empty["db_instance_id"] == "db-1"
