"""What the index proof may replay, and the arithmetic of its measurements. Pure: no database here.

A statement is replayed only if it is one SELECT and every ``$n`` placeholder in it maps to a column
(the parameter is then bound to a value sampled from that column on the copy). Plans are EXPLAIN's JSON.
"""
from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Sequence
from typing import Any

from churnguard_ops.drill.proposals import ProposalStatement, StatementParameter

_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_PLACEHOLDER = re.compile(r"\$(\d+)")
_FIRST_WORD = re.compile(r"[A-Za-z]+")
_SELECT_INTO = re.compile(r"\binto\b", re.I)
#: Index access methods a proposal's SQL may name (anything else: btree, the advisor's default).
INDEX_METHODS = ("btree", "hash", "gist", "spgist", "gin", "brin")
_USING = re.compile(r"\busing\s+(\w+)\s*\(", re.I)
#: pg_stat_statements replaces a LIMIT/OFFSET constant with a placeholder the advisor cannot map to a column:
#: those are bound to these stand-ins (the original constant is not recorded anywhere).
_PAGING = re.compile(r"\b(limit|offset)\s+\$(\d+)", re.I)
PAGING_STAND_INS = {"limit": "50", "offset": "0"}
#: A measured time is never taken as less than this (EXPLAIN reports 3 decimals): no division by zero.
MIN_MS = 0.001


def normalize(text: str) -> str:
    """Comments gone, whitespace collapsed, trailing semicolons dropped."""
    return " ".join(_COMMENTS.sub(" ", text).split()).rstrip("; ").strip()


def placeholders(text: str) -> list[int]:
    """The ``$n`` positions a statement uses, ascending, each once."""
    return sorted({int(n) for n in _PLACEHOLDER.findall(text)})


def paging(text: str) -> dict[int, str]:
    """Placeholders that are a LIMIT or OFFSET count: position -> "limit" / "offset"."""
    return {int(n): keyword.lower() for keyword, n in _PAGING.findall(text)}


def refusal(statement: ProposalStatement) -> str | None:
    """Why ``statement`` cannot be replayed on the copy, or None if it can."""
    text = normalize(statement.text)
    first = _FIRST_WORD.match(text)
    if first is None or first.group(0).lower() != "select":
        return f"not a SELECT (starts with {first.group(0).upper() if first else repr(text[:20])}): never replayed"
    if ";" in text:
        return "more than one statement: never replayed"
    if _SELECT_INTO.search(text):
        return "SELECT ... INTO creates a table: never replayed"
    mapped = {p.position for p in statement.parameters} | set(paging(text))
    missing = [n for n in placeholders(text) if n not in mapped]
    if missing:
        return (", ".join(f"${n}" for n in missing) + " not mapped to a column by the advisor: no value to bind")
    return None


def parameters_by_table(statement: ProposalStatement) -> dict[tuple[str, str], list[StatementParameter]]:
    """The statement's parameters grouped by the table whose column they compare with (first mapping wins)."""
    used = set(placeholders(normalize(statement.text)))
    seen: set[int] = set()
    grouped: dict[tuple[str, str], list[StatementParameter]] = {}
    for parameter in sorted(statement.parameters, key=lambda p: p.position):
        if parameter.position in used and parameter.position not in seen:
            seen.add(parameter.position)
            grouped.setdefault((parameter.schema_name, parameter.table), []).append(parameter)
    return grouped


def index_method(proposal_sql: str) -> str:
    """The access method the proposal's SQL names (``USING gin (...)``); btree when it names none we know."""
    found = _USING.search(proposal_sql or "")
    method = found.group(1).lower() if found else "btree"
    return method if method in INDEX_METHODS else "btree"


def median_ms(runs: Sequence[float]) -> float:
    if not runs:
        raise ValueError("no timed runs")
    return float(statistics.median(runs))


def speedup(before_ms: float, after_ms: float) -> float:
    """before / after: 2.0 means twice as fast with the index, below 1 means slower."""
    return max(before_ms, MIN_MS) / max(after_ms, MIN_MS)


def weighted_ms(pairs: Iterable[tuple[float, int]]) -> float | None:
    """The calls-weighted mean of per-statement medians: what the workload spends per call."""
    pairs = [(ms, max(calls, 1)) for ms, calls in pairs]
    total = sum(calls for _, calls in pairs)
    return sum(ms * calls for ms, calls in pairs) / total if total else None


def execution_ms(explain: Any) -> float:
    """``Execution Time`` of one ``EXPLAIN (ANALYZE, FORMAT JSON)`` result (a one-element list)."""
    document = explain[0] if isinstance(explain, list) else explain
    return float(document["Execution Time"])


def _nodes(explain: Any) -> list[dict[str, Any]]:
    """Every plan node, breadth-first (the topmost first)."""
    document = explain[0] if isinstance(explain, list) else explain
    queue, found = [document["Plan"]], []
    while queue:
        node = queue.pop(0)
        found.append(node)
        queue.extend(node.get("Plans", []))
    return found


def scan_nodes(explain: Any, limit: int = 3) -> list[str]:
    """The topmost scan nodes, e.g. ``Seq Scan on events`` or ``Index Only Scan using ix on events``."""
    described = []
    for node in _nodes(explain):
        kind = node.get("Node Type", "")
        if not kind.endswith("Scan"):
            continue
        text = kind
        if node.get("Index Name"):
            text += f" using {node['Index Name']}"
        if node.get("Relation Name"):
            text += f" on {node['Relation Name']}"
        described.append(text)
    return described[:limit]


def uses_index(explain: Any, index_name: str) -> bool:
    return any(node.get("Index Name") == index_name for node in _nodes(explain))
