"""The index proof without a database: the proposals document, what may be replayed, the maths, the stage's
paths that never connect, the guard, and how the report shows it."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import psycopg2
import pytest
from pydantic import ValidationError

from churnguard_ops.core import contracts
from churnguard_ops.core.fakes import MemoryDocuments
from churnguard_ops.drill import replay
from churnguard_ops.drill.errors import GuardViolation
from churnguard_ops.drill.index_proof import RESERVE_SECONDS, IndexProver, proof_index_name
from churnguard_ops.drill.model import DrillState
from churnguard_ops.drill.proposals import IndexProposals, ProposalStatement, load_proposals, proposals_key, select
from churnguard_ops.drill.report import build_report, proof_lines, size_text, summary_line
from churnguard_ops.drill.settings import DrillSettings
from churnguard_ops.drill.validation import DrillValidator
from churnguard_ops.drill.workflow import DrillWorkflow
from tests.unit.drill_fakes import T0, FakeDrillRds, execution, source_instance

SOURCE = "churnguard-prod"
RUN = execution("p1")

#: The contract's example, verbatim (the advisor's tests check their own model against the same document).
CONTRACT_EXAMPLE: dict[str, Any] = {
    "schema_version": 1,
    "db_instance_id": "churnguard-prod",
    "database": "churnguard",
    "generated_at": "2026-11-30T10:00:00+00:00",
    "proposals": [
        {
            "id": "missing_index:public.events:org_id,kind",
            "schema": "public",
            "table": "events",
            "columns": ["org_id", "kind"],
            "sql": "CREATE INDEX CONCURRENTLY IF NOT EXISTS events_org_id_kind_idx ON public.events USING btree "
                   "(org_id, kind);",
            "statements": [
                {
                    "queryid": "-2374019273641",
                    "text": "SELECT count(*) FROM events WHERE org_id = $1 AND kind = $2",
                    "calls": 120, "mean_ms": 4.2,
                    "parameters": [
                        {"position": 1, "schema": "public", "table": "events", "column": "org_id"},
                        {"position": 2, "schema": "public", "table": "events", "column": "kind"},
                    ],
                }
            ],
        }
    ],
}


def _statement(text: str, *positions: int) -> ProposalStatement:
    return ProposalStatement(text=text, parameters=[
        {"position": n, "schema": "public", "table": "events", "column": f"c{n}"} for n in positions])


# -- the document ----------------------------------------------------------------------------------------------

def test_the_contract_example_parses_into_the_drills_own_model() -> None:
    document = IndexProposals.model_validate(CONTRACT_EXAMPLE)
    (proposal,) = document.proposals
    assert (proposal.schema_name, proposal.table, proposal.columns) == ("public", "events", ["org_id", "kind"])
    assert proposal.label == "events(org_id, kind)"
    (statement,) = proposal.statements
    assert statement.calls == 120 and [(p.position, p.table, p.column) for p in statement.parameters] == [
        (1, "events", "org_id"), (2, "events", "kind")]
    assert contracts.INDEX_PROPOSALS_SCHEMA_VERSION == 1 == document.schema_version


def test_a_document_of_another_schema_version_is_refused() -> None:
    with pytest.raises(ValidationError, match="schema_version"):
        IndexProposals.model_validate({**CONTRACT_EXAMPLE, "schema_version": 2})


def test_the_document_is_read_from_the_contract_key_and_a_missing_one_is_none() -> None:
    documents = MemoryDocuments()
    assert proposals_key(SOURCE) == "dbadvisor/proposals/churnguard-prod.json"
    assert load_proposals(documents, SOURCE) is None
    documents.save(proposals_key(SOURCE), CONTRACT_EXAMPLE)
    loaded = load_proposals(documents, SOURCE)
    assert loaded is not None and len(loaded.proposals) == 1


def test_a_document_filed_under_the_wrong_instance_is_an_error() -> None:
    documents = MemoryDocuments()
    documents.save(proposals_key("churnguard-analytics"), CONTRACT_EXAMPLE)
    with pytest.raises(ValueError, match="is for churnguard-prod, not churnguard-analytics"):
        load_proposals(documents, "churnguard-analytics")


def test_selection_keeps_the_advisors_order_up_to_the_limit_and_counts_the_rest() -> None:
    many = {**CONTRACT_EXAMPLE, "proposals": [{**CONTRACT_EXAMPLE["proposals"][0], "id": f"p{i}"} for i in range(7)]}
    chosen, left_out = select(IndexProposals.model_validate(many), 5)
    assert [p.id for p in chosen] == ["p0", "p1", "p2", "p3", "p4"] and left_out == 2
    chosen, left_out = select(IndexProposals.model_validate(many), 10)
    assert len(chosen) == 7 and left_out == 0


# -- what may be replayed --------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "UPDATE events SET kind = $1 WHERE org_id = $2",
    "DELETE FROM events WHERE org_id = $1",
    "WITH gone AS (DELETE FROM events RETURNING *) SELECT count(*) FROM gone",
    "INSERT INTO events (org_id) SELECT $1",
    "/* SELECT */ VACUUM events",
])
def test_a_statement_that_is_not_a_select_is_never_replayed(text: str) -> None:
    reason = replay.refusal(_statement(text, 1, 2))
    assert reason is not None and reason.startswith("not a SELECT") and "never replayed" in reason


@pytest.mark.parametrize("text, why", [
    ("SELECT 1; DROP TABLE events", "more than one statement"),
    ("SELECT * INTO copy_of_events FROM events WHERE org_id = $1", "SELECT ... INTO creates a table"),
])
def test_a_select_that_writes_or_chains_statements_is_never_replayed(text: str, why: str) -> None:
    assert replay.refusal(_statement(text, 1)) == f"{why}: never replayed"


def test_a_select_after_comments_with_every_placeholder_mapped_is_replayed() -> None:
    text = "-- from the API\n/* org dashboard */  select count(*) from events where c1 = $1 and c2 = $2;"
    assert replay.refusal(_statement(text, 1, 2)) is None
    assert replay.normalize(text) == "select count(*) from events where c1 = $1 and c2 = $2"


def test_a_placeholder_the_advisor_could_not_attribute_names_itself_as_the_reason() -> None:
    reason = replay.refusal(_statement("SELECT * FROM events WHERE c1 = $1 AND c2 > now() - $2 AND c3 <> $3", 1))
    assert reason == "$2, $3 not mapped to a column by the advisor: no value to bind"


def test_unmapped_limit_and_offset_counts_get_stand_ins_instead_of_refusing_the_statement() -> None:
    statement = _statement("SELECT * FROM events WHERE c1 = $1 ORDER BY id limit $2 OFFSET $3", 1)
    assert replay.refusal(statement) is None
    assert replay.paging(statement.text) == {2: "limit", 3: "offset"}
    assert (replay.PAGING_STAND_INS["limit"], replay.PAGING_STAND_INS["offset"]) == ("50", "0")


def test_parameters_are_grouped_per_table_and_only_placeholders_the_text_uses_count() -> None:
    statement = ProposalStatement(text="SELECT 1 FROM events e JOIN orgs o ON o.id = e.org_id "
                                       "WHERE e.kind = $2 AND o.name = $1", parameters=[
        {"position": 1, "schema": "public", "table": "orgs", "column": "name"},
        {"position": 2, "schema": "public", "table": "events", "column": "kind"},
        {"position": 2, "schema": "public", "table": "events", "column": "other"},  # a duplicate: first wins
        {"position": 9, "schema": "public", "table": "events", "column": "unused"},
    ])
    grouped = replay.parameters_by_table(statement)
    assert {k: [(p.position, p.column) for p in v] for k, v in grouped.items()} == {
        ("public", "orgs"): [(1, "name")], ("public", "events"): [(2, "kind")]}


def test_the_index_method_follows_the_proposal_sql_and_defaults_to_btree() -> None:
    assert replay.index_method("CREATE INDEX CONCURRENTLY x ON t USING gin (tags);") == "gin"
    assert replay.index_method("CREATE INDEX x ON t (a, b)") == "btree"
    assert replay.index_method("CREATE INDEX x ON t USING evil (a)") == "btree"  # never an unknown method


def test_proof_index_names_carry_the_prefix_fit_postgres_and_are_stable_per_proposal() -> None:
    name = proof_index_name("missing_index:public.events:org_id,kind")
    assert name.startswith(contracts.PROOF_INDEX_PREFIX) and len(name) <= 63
    assert name == proof_index_name("missing_index:public.events:org_id,kind")
    assert name != proof_index_name("missing_index:public.events:org_id")


class _UntouchableConnection:
    autocommit = False
    closed = False

    def cursor(self) -> None:
        raise AssertionError("a skipped proposal must not run SQL")

    def rollback(self) -> None:
        raise AssertionError("a skipped proposal must not run SQL")


def test_a_proposal_is_not_started_when_the_invocations_time_is_nearly_gone() -> None:
    prover = IndexProver(_UntouchableConnection(), statement_timeout_ms=1000, build_timeout_ms=1000,
                         max_statements=3, time_left=lambda: RESERVE_SECONDS - 1)
    proof = prover.prove(IndexProposals.model_validate(CONTRACT_EXAMPLE).proposals[0])
    assert proof.status == "skipped" and proof.detail == "the proof function's time ran out before this proposal"
    assert proof.index_name is None and proof.dropped is None  # nothing was built, so nothing to drop


# -- maths and plans -------------------------------------------------------------------------------------------

def test_median_of_the_timed_runs_and_speedup_as_before_over_after() -> None:
    assert replay.median_ms([3.0, 1.0, 2.0]) == 2.0
    assert replay.median_ms([4.0, 1.0]) == 2.5
    assert replay.speedup(2.9, 0.08) == pytest.approx(36.25)
    assert replay.speedup(1.0, 2.0) == 0.5  # slower with the index: below 1
    assert replay.speedup(1.0, 0.0) == 1000.0  # a zero reading counts as EXPLAIN's smallest, 0.001 ms
    with pytest.raises(ValueError):
        replay.median_ms([])


def test_a_proposals_time_is_the_calls_weighted_mean_of_its_statements() -> None:
    # 120 calls at 4 ms and 30 calls at 1 ms: (480 + 30) / 150 = 3.4 ms per call
    assert replay.weighted_ms([(4.0, 120), (1.0, 30)]) == pytest.approx(3.4)
    assert replay.weighted_ms([(2.0, 0)]) == 2.0  # no calls recorded: counted once
    assert replay.weighted_ms([]) is None


PLAN_BEFORE = [{"Plan": {"Node Type": "Aggregate", "Plans": [
    {"Node Type": "Seq Scan", "Relation Name": "events"}]}, "Execution Time": 2.912}]
PLAN_AFTER = [{"Plan": {"Node Type": "Aggregate", "Plans": [
    {"Node Type": "Bitmap Heap Scan", "Relation Name": "events", "Plans": [
        {"Node Type": "Bitmap Index Scan", "Index Name": "churnguard_ops_proof_abc"}]}]}, "Execution Time": 0.081}]


def test_plans_give_their_execution_time_topmost_scans_and_whether_the_index_is_used() -> None:
    assert replay.execution_ms(PLAN_BEFORE) == 2.912 and replay.execution_ms(PLAN_AFTER[0]) == 0.081
    assert replay.scan_nodes(PLAN_BEFORE) == ["Seq Scan on events"]
    assert replay.scan_nodes(PLAN_AFTER) == ["Bitmap Heap Scan on events",
                                             "Bitmap Index Scan using churnguard_ops_proof_abc"]
    assert replay.uses_index(PLAN_AFTER, "churnguard_ops_proof_abc")
    assert not replay.uses_index(PLAN_BEFORE, "churnguard_ops_proof_abc")


# -- the stage's paths that never reach the copy -----------------------------------------------------------------

class _Credentials:
    def get(self, secret_id: str) -> dict:
        return {"username": "churnguard", "password": "not-logged", "dbname": "churnguard"}


@pytest.fixture
def no_libpq(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """psycopg2.connect calls (each refused): the paths below must not make any."""
    calls: list[dict[str, Any]] = []

    def refuse(**kwargs: Any) -> None:
        calls.append(kwargs)
        raise psycopg2.OperationalError("connection refused")

    monkeypatch.setattr(psycopg2, "connect", refuse)
    return calls


def _stage(documents: MemoryDocuments | None, **settings: Any) -> tuple[DrillValidator, DrillState, FakeDrillRds]:
    config = DrillSettings(db_instance_ids=[SOURCE], db_secrets={SOURCE: "secret"}, db_sslmode="disable",
                           **settings)
    rds = FakeDrillRds()
    rds.add_instance(source_instance())
    rds.add_snapshot("snap", SOURCE, T0)
    workflow = DrillWorkflow(config, lambda region: rds, "us-east-1", clock=lambda: T0)
    state = DrillState.model_validate({"poll_seconds": 1})
    state.plan = workflow.plan(state, RUN)
    state.restore = workflow.restore(state)
    restored = rds.instance(state.restore.instance_id)
    rds.add_instance(replace(restored, status="available", address=f"{restored.instance_id}.rds.example",
                             port=5432, db_name="churnguard"))
    return DrillValidator(config, lambda region: rds, "us-east-1", _Credentials(), documents,
                          clock=lambda: T0), state, rds


def test_disabled_the_stage_says_so_and_reads_nothing(no_libpq: list) -> None:
    documents = MemoryDocuments()
    documents.save(proposals_key(SOURCE), CONTRACT_EXAMPLE)
    validator, state, _ = _stage(documents, prove_indexes=False)
    result = validator.prove_indexes(state)
    assert (result["status"], result["message"]) == ("disabled", "index proof disabled (drill.prove_indexes)")
    assert no_libpq == []


def test_no_document_means_no_advice_yet_for_the_drilled_instance(no_libpq: list) -> None:
    validator, state, _ = _stage(MemoryDocuments())
    result = validator.prove_indexes(state)
    assert (result["status"], result["message"]) == ("no_advice", "no advice yet for churnguard-prod")
    assert result["proposals_key"] == "dbadvisor/proposals/churnguard-prod.json" and no_libpq == []


def test_an_empty_proposal_list_means_nothing_to_prove(no_libpq: list) -> None:
    documents = MemoryDocuments()
    documents.save(proposals_key(SOURCE), {**CONTRACT_EXAMPLE, "proposals": []})
    validator, state, _ = _stage(documents)
    result = validator.prove_indexes(state)
    assert result["status"] == "nothing_to_prove" and result["message"].startswith("nothing to prove")
    assert no_libpq == []


def test_a_malformed_document_is_reported_in_the_section_not_raised(no_libpq: list) -> None:
    documents = MemoryDocuments()
    documents.save(proposals_key(SOURCE), {"schema_version": 1, "db_instance_id": SOURCE, "proposals": [{}]})
    validator, state, _ = _stage(documents)
    result = validator.prove_indexes(state)
    assert result["status"] == "error" and result["message"].startswith("index proposals unreadable: ValidationError")


def test_an_unreachable_copy_is_reported_in_the_section_not_raised(no_libpq: list) -> None:
    documents = MemoryDocuments()
    documents.save(proposals_key(SOURCE), CONTRACT_EXAMPLE)
    validator, state, _ = _stage(documents)
    result = validator.prove_indexes(state)
    assert result["status"] == "error" and "cannot connect to the copy" in result["message"]
    (call,) = no_libpq
    assert call["host"] == f"churnguard-ops-drill-{RUN.drill_id}.rds.example"  # the copy's endpoint


def test_a_copy_whose_endpoint_is_the_source_is_a_guard_violation_not_a_proof_error(no_libpq: list) -> None:
    documents = MemoryDocuments()
    documents.save(proposals_key(SOURCE), CONTRACT_EXAMPLE)
    validator, state, rds = _stage(documents)
    source = rds.instance(SOURCE)
    rds.add_instance(replace(rds.instance(state.restore.instance_id), address=source.address, port=source.port,
                             db_name=source.db_name))
    with pytest.raises(GuardViolation, match="is the source's"):
        validator.prove_indexes(state)
    assert no_libpq == []


# -- the report ------------------------------------------------------------------------------------------------

PROVEN = {"status": "proven", "message": "1 of 2 proposal(s) proven on the copy", "left_out": 1, "proposals": [
    {"id": "a", "label": "events(org_id, kind)", "status": "proven", "speedup": 38.2, "before_ms": 2.9,
     "after_ms": 0.076, "index_bytes": 466944, "uses_index": True, "dropped": True,
     "statements": [{"replayed": True}, {"replayed": False, "reason": "$2 not mapped"}]},
    {"id": "b", "label": "events(kind)", "status": "not_replayed", "detail": "no statement could be replayed"}]}


def test_the_proof_reads_as_speedup_times_and_index_size_per_proposal() -> None:
    assert proof_lines(PROVEN) == [
        "events(org_id, kind) 38.2x faster (2.9 ms -> 0.076 ms), 456 kB, 1 statement(s) not replayed ($2 not mapped)",
        "events(kind): not replayed (no statement could be replayed)",
        "1 more proposal(s) not tried (drill.max_index_proposals)"]
    assert proof_lines({"status": "no_advice", "message": "no advice yet for churnguard-prod"}) == [
        "no advice yet for churnguard-prod"]
    assert proof_lines(None) == []
    assert (size_text(8192), size_text(466944), size_text(50 * 1024 * 1024)) == ("8192 bytes", "456 kB", "50 MB")


def test_a_slower_index_and_an_undropped_one_are_said_plainly() -> None:
    slower = {"status": "proven", "proposals": [{"label": "t(a)", "status": "proven", "speedup": 0.5,
                                                 "before_ms": 1.0, "after_ms": 2.0, "index_bytes": 16384,
                                                 "uses_index": False, "dropped": False, "statements": []}]}
    assert proof_lines(slower) == ["t(a) 2x SLOWER (1 ms -> 2 ms), 16 kB, plan does not use the index, "
                                   "proof index NOT dropped"]


def test_the_report_carries_the_proof_and_a_failed_proof_does_not_fail_the_drill() -> None:
    config = DrillSettings(db_instance_ids=[SOURCE])
    _, state, _ = _stage(None)
    state.validation = {"data_integrity": True, "checks": [{"name": "c", "status": "passed"}],
                        "validated_at": T0.isoformat()}
    state.performance = {"performance_acceptable": True, "queries": []}
    state.cleanup = {"cleaned_at": T0.isoformat()}
    state.index_proof = {"status": "error", "message": "index proof failed on x: QueryCanceled: timeout"}
    with_error = build_report(state, config, T0, drill_id=RUN.drill_id)
    state.index_proof = None
    without = build_report(state, config, T0, drill_id=RUN.drill_id)
    assert with_error["verdicts"] == without["verdicts"] and "index_proof" not in with_error["verdicts"]
    assert with_error["index_proof"]["status"] == "error"
    assert "index proof: index proof failed on x: QueryCanceled: timeout" in summary_line(with_error)
