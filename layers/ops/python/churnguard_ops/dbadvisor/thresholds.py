"""The advisor's thresholds: one validated model, read by the function (DBADVISOR_THRESHOLDS) and the CDK context."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Slow queries: a mean above this, and the top N by total time (their statements feed the index advice).
    slow_query_ms: float = Field(default=100.0, gt=0)
    top_statements: int = Field(default=10, ge=1, le=100)
    # Missing indexes only on tables this large that are mostly sequentially scanned (seq_scan > idx_scan) with
    # scans reading this many rows on average (small tables are cheaper to scan than to index).
    min_table_rows: int = Field(default=5000, ge=0)
    min_rows_per_seq_scan: int = Field(default=1000, ge=0)
    # A column whose equality matches more than this fraction of the rows (pg_stats: sum of squared value
    # frequencies, i.e. 1/n_distinct when uniform) is left out: the planner would not use an index for it.
    max_column_selectivity: float = Field(default=0.3, gt=0, le=1)
    # A proposed index must narrow a scan to at most this fraction of the rows (ranges count as 1/3).
    max_index_selectivity: float = Field(default=0.05, gt=0, le=1)
    # Unused indexes: only once the statistics are at least this old (known reset time).
    unused_min_stats_days: float = Field(default=7.0, ge=0)
    # Stale statistics: rows modified since the last analyze against the live rows.
    stale_fraction: float = Field(default=0.2, gt=0)
    stale_min_rows: int = Field(default=1000, ge=0)
    # Bloat: estimated wasted fraction and bytes, both reached.
    bloat_fraction: float = Field(default=0.3, gt=0, lt=1)
    bloat_min_bytes: int = Field(default=10 * 1024 * 1024, ge=0)
    # Transaction-ID wraparound: the oldest database's age(datfrozenxid) as a fraction of 2^31.
    wraparound_used_fraction: float = Field(default=0.5, gt=0, lt=1)
    # Connections against max_connections minus the superuser-reserved ones.
    connections_fraction: float = Field(default=0.8, gt=0, le=1)
    # Buffer cache hit ratio of the database, judged once this many blocks were read.
    cache_hit_min: float = Field(default=0.95, gt=0, le=1)
    cache_hit_min_blocks: int = Field(default=10_000, ge=0)
