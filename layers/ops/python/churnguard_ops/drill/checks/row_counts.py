"""row_counts_vs_baseline: the copy holds about as many rows per table as the source had at backup time."""
from __future__ import annotations

from typing import Any

from pydantic import Field

from churnguard_ops.core.postgres import qualified
from churnguard_ops.core.row_counts import count_rows, list_user_tables

from .base import CheckContext, CheckParams, CheckResult, IntegrityCheck
from .registry import register


class RowCountsParams(CheckParams):
    tolerance_pct: float = Field(default=1.0, ge=0)
    # Absolute slack so a 3-row table gaining one row between baseline and snapshot is not a failure.
    tolerance_rows: int = Field(default=0, ge=0)
    exact_row_limit: int = Field(default=5_000_000, gt=0)


@register
class RowCountsVsBaseline(IntegrityCheck[RowCountsParams]):
    """Compare per-table row counts with the baseline captured at backup time.

    A baseline table missing on the copy, or a count outside the tolerance, fails; tables that are new
    on the copy are reported for information only; without a baseline the check is not_applicable (the
    drill report shows the missing baseline as its own verdict). Example::

        {"check": "row_counts_vs_baseline", "params": {"tolerance_pct": 1.0, "tolerance_rows": 10}}
    """

    name = "row_counts_vs_baseline"
    Params = RowCountsParams

    def run(self, conn: Any, params: RowCountsParams, context: CheckContext) -> CheckResult:
        if context.baseline is None:
            return self.not_applicable("no baseline row counts for this recovery point")
        if not context.baseline:
            return self.not_applicable("the baseline recorded no tables")
        findings: list[dict[str, Any]] = []
        with conn.cursor() as cur:
            tables = {qualified(s, t): (s, t, est) for s, t, est in list_user_tables(cur)}
            for key, expected in sorted(context.baseline.items()):
                if key not in tables:
                    findings.append({"table": key, "problem": "missing", "expected": expected})
                    continue
                actual = count_rows(cur, *tables[key], params.exact_row_limit)
                allowed = max(expected * params.tolerance_pct / 100.0, params.tolerance_rows)
                if abs(actual - expected) > allowed:
                    diff_pct = round(100.0 * (actual - expected) / expected, 2) if expected else None
                    findings.append({"table": key, "problem": "count_mismatch", "expected": expected,
                                     "actual": actual, "diff_pct": diff_pct})
        failures = list(findings)
        findings += [{"table": key, "problem": "new_table", "info": True}
                     for key in sorted(set(tables) - set(context.baseline))]
        if failures:
            detail = "; ".join(
                f"{f['table']} is missing on the copy (baseline {f['expected']} rows)" if f["problem"] == "missing"
                else f"{f['table']} has {f['actual']} rows, baseline {f['expected']} "
                     f"(tolerance {params.tolerance_pct}%)" for f in failures)
            return self.result("failed", detail, findings)
        new = len(findings)
        return self.result("passed", f"{len(context.baseline)} tables within {params.tolerance_pct}% of baseline"
                           + (f"; {new} new table(s) not in baseline" if new else ""), findings)
