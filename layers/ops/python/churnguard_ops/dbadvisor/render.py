"""The advice as Markdown: per kind, each finding's summary, its evidence and the SQL to apply."""
from __future__ import annotations

import json

from churnguard_ops.dbadvisor.model import KIND_ORDER, Advice

TITLES = {"missing_index": "Missing indexes", "slow_query": "Slow queries", "duplicate_index": "Duplicate indexes",
          "redundant_index": "Redundant indexes", "unused_index": "Unused indexes",
          "wraparound": "Transaction-ID wraparound", "connections": "Connections",
          "stale_statistics": "Stale statistics", "table_bloat": "Table bloat", "index_bloat": "Index bloat",
          "cache_hit_ratio": "Cache hit ratio"}


def render_markdown(advice: Advice) -> str:
    a = advice
    lines = [f"# PostgreSQL advice: {a.db_instance_id} / {a.database}", "",
             f"Generated {a.generated_at.isoformat()} on PostgreSQL {a.server_version}. Nothing was applied: "
             "each finding gives the SQL to run.", ""]
    reset = (f"statistics since {a.stats_reset.isoformat()} ({a.stats_age_days} days)" if a.stats_reset
             else "statistics never reset")
    pss = a.pg_stat_statements
    lines.append(f"- {reset}")
    lines.append("- pg_stat_statements: " + (f"{pss.get('statements_read', 0)} statements read"
                                              if pss.get("available") else f"not available: {pss.get('reason')} "
                                              f"(enable: `{pss.get('enable')}`)"))
    health = a.health
    if health:
        ratio = health.get("cache_hit_ratio")
        lines.append(f"- connections {health.get('connections')} of {health.get('max_connections')}; cache hit "
                     f"{'n/a' if ratio is None else f'{100 * ratio:.2f} %'}; oldest age(datfrozenxid) "
                     f"{health.get('oldest_age_datfrozenxid'):,} ({health.get('xid_headroom'):,} IDs of headroom)")
    counts = a.counts()
    lines += ["", "| kind | findings |", "|---|---|"] + [f"| {TITLES[k]} | {n} |" for k, n in counts.items()]
    if not counts:
        lines.append("| (none) | 0 |")
    for kind in KIND_ORDER:
        found = [f for f in a.findings if f.kind == kind]
        if not found:
            continue
        lines += ["", f"## {TITLES[kind]}", ""]
        for f in found:
            lines.append(f"- {f.summary}")
            if f.sql:
                lines += ["", "  ```sql", f"  {f.sql}", "  ```"]
            lines.append(f"  <details><summary>evidence</summary>\n\n  ```json\n  "
                         f"{json.dumps(f.evidence, sort_keys=True, default=str)}\n  ```\n  </details>")
    if a.notes:
        lines += ["", "## Notes", ""] + [f"- {n.topic}: {n.status.replace('_', ' ')}: {n.reason}"
                                         + (f" (enable: `{n.enable}`)" if n.enable else "") for n in a.notes]
    if a.analyzed_tables:
        lines += ["", f"Analyzed (analyze_stale): {', '.join(a.analyzed_tables)}"]
    if a.skipped_statements:
        lines += ["", "## Statements not parsed", ""] + [
            f"- `{' '.join(str(s['query']).split())[:120]}`: {s['reason']}" for s in a.skipped_statements]
    return "\n".join(lines) + "\n"
