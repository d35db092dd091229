"""What the advisor reads (catalog rows) and what it writes (findings, advice, the index-proposals document)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FindingKind = Literal["slow_query", "missing_index", "unused_index", "duplicate_index", "redundant_index",
                      "table_bloat", "index_bloat", "stale_statistics", "wraparound", "connections",
                      "cache_hit_ratio"]
#: Report order: what to act on first.
KIND_ORDER: tuple[str, ...] = ("missing_index", "slow_query", "duplicate_index", "redundant_index", "unused_index",
                               "wraparound", "connections", "stale_statistics", "table_bloat", "index_bloat",
                               "cache_hit_ratio")


# --- what the catalog says (plain rows; adapters fill them, unit tests build them) -------------------------------
@dataclass(frozen=True)
class TableStats:
    schema: str
    table: str
    seq_scan: int
    seq_tup_read: int
    idx_scan: int
    n_live_tup: int
    n_dead_tup: int
    n_mod_since_analyze: int
    last_analyze: datetime | None
    size_bytes: int
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class IndexInfo:
    schema: str
    table: str
    index: str
    method: str                      # btree, hash, gin, ...
    columns: tuple[str | None, ...]  # key columns in order; None for an expression
    key_parts: tuple[str, ...]       # per key column: column or expression, opclass, collation, ordering
    key_signature: str               # columns/expressions + opclasses + collations + ordering, comparable as text
    predicate: str | None
    is_primary: bool
    is_unique: bool
    is_exclusion: bool
    backs_constraint: str | None     # the constraint (PK, unique, exclusion, or a foreign key's target) it serves
    is_valid: bool
    idx_scan: int
    size_bytes: int
    definition: str
    partitioned: bool = False       # an index of a partitioned table (its partitions hold the scans)
    attached_to: str | None = None  # the partitioned index this partition's index belongs to

    @property
    def protected(self) -> str | None:
        """Why this index must never be dropped by advice (None: it may be)."""
        if self.partitioned:
            return "partitioned index (scans are counted per partition; no DROP INDEX CONCURRENTLY)"
        if self.attached_to:
            return f"attached to partitioned index {self.attached_to} (dropped only with it)"
        if self.is_primary:
            return "primary key"
        if self.backs_constraint:
            return f"backs constraint {self.backs_constraint}"
        if self.is_unique:
            return "unique"
        if self.is_exclusion:
            return "exclusion constraint"
        return None


@dataclass(frozen=True)
class ColumnStats:
    schema: str
    table: str
    column: str
    n_distinct: float               # pg_stats: > 0 distinct values, < 0 minus the fraction of rows
    most_common_freqs: tuple[float, ...] = ()
    null_frac: float = 0.0


@dataclass(frozen=True)
class StatementStats:
    queryid: str
    query: str
    calls: int
    mean_ms: float
    total_ms: float
    rows: int
    shared_blks_hit: int
    shared_blks_read: int

    @property
    def cache_hit_pct(self) -> float | None:
        touched = self.shared_blks_hit + self.shared_blks_read
        return round(100.0 * self.shared_blks_hit / touched, 2) if touched else None


@dataclass(frozen=True)
class StatementsAvailability:
    available: bool
    reason: str = ""
    enable: str = ""  # the SQL / parameter that enables it


@dataclass(frozen=True)
class DatabaseHealth:
    database: str
    stats_reset: datetime | None
    blks_hit: int
    blks_read: int
    xid_age: int                   # age(datfrozenxid) of this database
    oldest_xid_age: int            # the oldest of every database in the cluster (wraparound is cluster-wide)
    oldest_xid_database: str
    autovacuum_freeze_max_age: int
    max_connections: int
    reserved_connections: int
    connections: int
    server_version: str


@dataclass(frozen=True)
class BloatEstimate:
    schema: str
    table: str
    index: str | None  # None: the table itself
    size_bytes: int
    bloat_bytes: int
    method: str

    @property
    def bloat_fraction(self) -> float:
        return self.bloat_bytes / self.size_bytes if self.size_bytes else 0.0


@dataclass
class CatalogSnapshot:
    """Everything one advisor run reads from one database (one read-only transaction)."""

    health: DatabaseHealth
    tables: list[TableStats]
    indexes: list[IndexInfo]
    column_stats: list[ColumnStats]
    statements: list[StatementStats]
    statements_availability: StatementsAvailability
    bloat: list[BloatEstimate] = field(default_factory=list)
    bloat_method: str = ""


# --- what the advisor says ---------------------------------------------------------------------------------------
class Finding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: FindingKind
    schema_: str | None = Field(default=None, alias="schema")
    table: str | None = None
    index: str | None = None
    columns: list[str] | None = None
    summary: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    sql: str | None = None  # what to run to act on it; never run by the advisor

    def document(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class Note(BaseModel):
    """Something the advisor could not do, and why (e.g. pg_stat_statements not available)."""

    model_config = ConfigDict(extra="forbid")

    topic: str
    status: Literal["not_available", "skipped", "error", "info"]
    reason: str
    enable: str | None = None


class Advice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    db_instance_id: str
    database: str
    generated_at: datetime
    server_version: str = ""
    stats_reset: datetime | None = None
    stats_age_days: float | None = None
    pg_stat_statements: dict[str, Any] = Field(default_factory=dict)
    health: dict[str, Any] = Field(default_factory=dict)
    findings: list[Finding] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)
    skipped_statements: list[dict[str, Any]] = Field(default_factory=list)
    analyzed_tables: list[str] = Field(default_factory=list)
    proposals: list[IndexProposal] = Field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for finding in self.findings:
            counts[finding.kind] = counts.get(finding.kind, 0) + 1
        return {kind: counts[kind] for kind in KIND_ORDER if kind in counts}

    def document(self) -> dict[str, Any]:
        doc = self.model_dump(mode="json", by_alias=True, exclude={"proposals"})
        doc["counts"] = self.counts()
        return doc

    def proposals_document(self) -> dict[str, Any]:
        return ProposalsDocument(db_instance_id=self.db_instance_id, database=self.database,
                                 generated_at=self.generated_at,
                                 proposals=self.proposals).model_dump(mode="json", by_alias=True)


# --- the index-proposals contract (read by the restore drill's proof stage with its own model) -------------------
class ParameterRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    position: int = Field(ge=1)
    schema_: str = Field(alias="schema")
    table: str
    column: str


class ProposalStatement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queryid: str
    text: str
    calls: int
    mean_ms: float
    parameters: list[ParameterRef] = Field(default_factory=list)


class IndexProposal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    schema_: str = Field(alias="schema")
    table: str
    columns: list[str] = Field(min_length=1)
    sql: str
    statements: list[ProposalStatement] = Field(default_factory=list)


class ProposalsDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1  # core.contracts.INDEX_PROPOSALS_SCHEMA_VERSION
    db_instance_id: str
    database: str
    generated_at: datetime
    proposals: list[IndexProposal] = Field(default_factory=list)


Advice.model_rebuild()
