"""What the index proof reports: per statement, per proposal, and for the drill ($.index_proof)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

#: How parameters are bound, said once in every proof report.
BINDING = ("each $n is bound to a value of the column it compares with, taken from the copy's median row "
           "when the rows are ordered by that table's compared columns (rows with NULLs left out); one row "
           "per table, so the combination exists; the values are not recorded (customer data). A LIMIT or "
           "OFFSET count the advisor could not map (pg_stat_statements keeps no constant) is bound to 50 or 0")
#: How statements are timed.
TIMING = ("PREPARE, then EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) EXECUTE with custom plans: one warm-up, "
          "the median of 3 Execution Times; the table is ANALYZEd before each series")

ProposalStatus = Literal["proven", "not_replayed", "already_indexed", "skipped", "error"]
ProofStatus = Literal["disabled", "no_advice", "nothing_to_prove", "proven", "error"]


class StatementProof(BaseModel):
    queryid: str | None = None
    text: str
    calls: int = 1
    replayed: bool = False
    reason: str | None = None  # why it was not replayed, or what failed
    bound: list[str] = Field(default_factory=list)  # "$1 -> public.events.org_id"
    before_ms: float | None = None
    after_ms: float | None = None
    speedup: float | None = None
    before_plan: list[str] = Field(default_factory=list)  # topmost scan nodes
    after_plan: list[str] = Field(default_factory=list)
    uses_index: bool | None = None


class ProposalProof(BaseModel):
    id: str
    label: str  # events(org_id, kind)
    schema_name: str
    table: str
    columns: list[str]
    sql: str
    status: ProposalStatus
    index_name: str | None = None
    method: str = "btree"
    before_ms: float | None = None  # calls-weighted mean of the replayed statements' medians
    after_ms: float | None = None
    speedup: float | None = None
    uses_index: bool | None = None  # some replayed statement's plan uses the proof index
    index_bytes: int | None = None
    build_ms: float | None = None
    dropped: bool | None = None  # the proof index is gone again
    detail: str | None = None  # why not proven (error, already indexed, out of time)
    statements: list[StatementProof] = Field(default_factory=list)


class IndexProofReport(BaseModel):
    status: ProofStatus
    message: str
    source_instance: str | None = None
    proposals_key: str | None = None
    generated_at: str | None = None  # of the advisor's document
    left_out: int = 0  # proposals beyond drill.max_index_proposals
    binding: str = BINDING
    timing: str = TIMING
    proposals: list[ProposalProof] = Field(default_factory=list)
    proved_at: str | None = None
