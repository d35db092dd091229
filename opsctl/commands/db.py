"""opsctl db advise: the PostgreSQL advisor's findings, each with its evidence and the SQL to apply.

Three targets:

- ``--dsn DSN``: any PostgreSQL, advised in this process (no AWS): the same reads and rules as the function;
  it only reads (no ANALYZE).
- ``--local`` (or no AWS credentials): the embedded default: its seeded ChurnGuard database behind the RDS instance
  ``churnguard-prod``, advised by the deployed ``<prefix>-dbadvisor`` function through the Lambda API; the advice
  is read back from the embedded S3.
- otherwise the function deployed in the account, for every configured instance or ``--instance ID``.

``--out DIR`` writes ``db-advice.json`` (the advice: findings with kind, schema, table, index or columns,
evidence and sql) and ``db-advice.md``.
"""
from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from opsctl.commands.common import (
    UsageError,
    add_target_options,
    check_out_dir,
    function_name,
    local_target,
    read_s3,
    running,
)
from opsctl.console import progress, still_running

FUNCTION = "dbadvisor"
#: Findings whose SQL the summary prints (what to act on), at most this many.
ACTIONABLE = ("missing_index", "duplicate_index", "redundant_index", "unused_index", "wraparound",
              "stale_statistics", "table_bloat", "index_bloat")
TOP_PROPOSALS = 8


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("db", help="the PostgreSQL advisor: slow queries, index advice, health")
    actions = parser.add_subparsers(dest="action", required=True)
    advise = actions.add_parser(
        "advise", help="advise a PostgreSQL database: slow queries, column-level index advice, unused/duplicate "
                       "indexes, bloat, statistics, wraparound, connections",
        description="Reads pg_stat_statements (when available), the statistics views and the catalog, and prints "
                    "the findings by kind and the top proposals with the SQL to apply; nothing is applied. With "
                    "--dsn it advises that database in this process; otherwise it invokes the deployed advisor "
                    "function (locally: on the embedded default's seeded database). Exit code 0: advice written; "
                    "1: an instance could not be advised; 2: bad input.")
    advise.add_argument("--dsn", help="advise this PostgreSQL database directly (a libpq connection string or URI), "
                                      "without AWS")
    advise.add_argument("--instance", metavar="ID",
                        help="the configured RDS instance to advise (default: every configured instance)")
    add_target_options(advise)
    advise.set_defaults(run=run)


def advise_event(instance: str | None) -> dict[str, Any]:
    """The function's event, checked with the model the handler parses it with."""
    from pydantic import ValidationError

    from churnguard_ops.dbadvisor.events import AdviseRequest

    event: dict[str, Any] = {"action": "advise"}
    if instance:
        event["db_instance_id"] = instance
    try:
        AdviseRequest.model_validate(event)
    except ValidationError:
        raise UsageError(f"--instance {instance}: not an RDS instance identifier (a letter first, then letters, "
                         "digits and hyphens)") from None
    return event


def _thresholds() -> Any:
    from infra_cdk.paths import cdk_json_context
    from infra_cdk.settings import CONTEXT_KEY, ChurnGuardContext

    return ChurnGuardContext.model_validate(cdk_json_context().get(CONTEXT_KEY, {})).dbadvisor.thresholds


def advise_dsn(dsn: str, label: str | None) -> dict[str, Any]:
    """Advise the database at ``dsn`` in this process; a DSN that does not connect is the operator's error."""
    import psycopg2

    from churnguard_ops.dbadvisor.catalog import PostgresCatalog
    from churnguard_ops.dbadvisor.service import advise_database

    try:
        conn = psycopg2.connect(dsn, connect_timeout=5, application_name="churnguard-ops-dbadvisor")
    except psycopg2.Error as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise UsageError(f"--dsn: cannot connect to that database ({reason})") from None
    try:
        database = conn.info.dbname
        name = label or f"{conn.info.host}:{conn.info.port}/{database}"
        with still_running(f"reading {name}"):
            advice = advise_database(PostgresCatalog(conn), db_instance_id=name, database=database,
                                     thresholds=_thresholds(), clock=lambda: datetime.now(timezone.utc))
    finally:
        conn.close()
    return {**advice.document(), "proposals": advice.proposals_document()["proposals"]}



def invoke_advisor(name: str, event: dict[str, Any]) -> tuple[bool, dict[str, Any], list[dict[str, Any]]]:
    """(ok, the function's headline, the advice documents it wrote, read back from S3)."""
    from opsctl.lambda_calls import invoke

    with still_running(f"waiting for {name}"):
        result = invoke(name, event)
    payload = result.payload if isinstance(result.payload, dict) else {}
    if not result.ok:
        return False, payload, []
    advices = []
    for instance in payload.get("instances", []):
        documents = instance.get("documents", {})
        if documents.get("json"):
            advice = json.loads(read_s3(documents["json"]))
            advice["proposals"] = json.loads(read_s3(documents["proposals"]))["proposals"]
            advice["documents"] = documents
            advices.append(advice)
    return True, payload, advices


def summary_lines(advice: dict[str, Any]) -> list[str]:
    pss = advice.get("pg_stat_statements", {})
    lines = [f"{advice['db_instance_id']} / {advice['database']} (PostgreSQL {advice.get('server_version', '?')})"]
    if pss.get("available"):
        lines.append(f"  pg_stat_statements  {pss.get('statements_read', 0)} statements read, "
                     f"{pss.get('statements_parsed', 0)} parsed")
    else:
        lines.append(f"  pg_stat_statements  NOT AVAILABLE: {pss.get('reason')}; enable: {pss.get('enable')}")
    reset = advice.get("stats_reset")
    lines.append(f"  statistics          {'since ' + reset if reset else 'never reset'}")
    from churnguard_ops.dbadvisor.model import KIND_ORDER

    counts = advice.get("counts", {})
    lines.append("  findings            " + (", ".join(f"{counts[k]} {k.replace('_', ' ')}" for k in KIND_ORDER
                                                     if counts.get(k)) or "none"))
    actionable = [f for kind in ACTIONABLE for f in advice.get("findings", []) if f["kind"] == kind and f.get("sql")]
    if actionable:
        lines.append("Top proposals (nothing was applied):")
        for finding in actionable[:TOP_PROPOSALS]:
            lines.append(f"  [{finding['kind']}] {finding['summary']}")
            lines.append(f"      {finding['sql']}")
        if len(actionable) > TOP_PROPOSALS:
            lines.append(f"  ... and {len(actionable) - TOP_PROPOSALS} more (see the advice)")
    slow = [f for f in advice.get("findings", []) if f["kind"] == "slow_query"][:3]
    if slow:
        lines.append("Slowest statements (by total time):")
        lines += [f"  {f['summary']}" for f in slow]
    for note in advice.get("notes", []):
        if note["topic"] != "pg_stat_statements":
            lines.append(f"note: {note['topic']}: {note['reason']}")
    documents = advice.get("documents")
    if documents:
        lines += ["Documents:"] + [f"  {kind:<9} {location}" for kind, location in documents.items()]
    return lines


def write_out(out: str, advices: list[dict[str, Any]]) -> list[Path]:
    from churnguard_ops.dbadvisor.model import Advice
    from churnguard_ops.dbadvisor.render import render_markdown

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    document: Any = advices[0] if len(advices) == 1 else {"instances": advices}
    json_path, md_path = folder / "db-advice.json", folder / "db-advice.md"
    json_path.write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
    markdown = []
    for advice in advices:
        model = Advice.model_validate({k: v for k, v in advice.items()
                                       if k not in ("counts", "documents", "proposals")})
        markdown.append(render_markdown(model))
    md_path.write_text("\n".join(markdown))
    return [json_path, md_path]


def run(args: argparse.Namespace) -> int:
    check_out_dir(args.out)
    event = advise_event(args.instance)
    if args.dsn:
        advices = [advise_dsn(args.dsn, args.instance)]
        ok = True
    else:
        env = local_target(args)
        if env is not None and args.instance and args.instance not in env.context.dbadvisor.db_secrets:
            configured = ", ".join(sorted(env.context.dbadvisor.db_secrets)) or "none"
            raise UsageError(f"--instance {args.instance}: not configured for the advisor (configured: {configured})")
        name = function_name(env, args, FUNCTION)
        with running(env):
            progress(f"invoking {name} with {json.dumps(event)}")
            ok, headline, advices = invoke_advisor(name, event)
            if not ok:
                print(f"{name}: FAILED: {headline.get('errorType', 'error')}: "
                      f"{headline.get('errorMessage', headline)}")
                if env is not None:
                    progress(f"function logs: {env.aws.lambdas.log_path(name)}")
    for advice in advices:
        print("\n".join(summary_lines(advice)))
    if args.out and advices:
        for path in write_out(args.out, advices):
            print(f"wrote {path}")
    return 0 if ok else 1
