"""Parse pg_stat_statements' normalized text into the column comparisons an index could serve (sqlglot).

For each SELECT / UPDATE / DELETE (and each sub-select in it) the tables in its FROM / JOIN / USING are
resolved with their aliases; the AND-ed comparisons of its WHERE and JOIN ON become ``Comparison``s on
``schema.table.column``: equality (``=``, ``IN``), range (``<``, ``<=``, ``>``, ``>=``, ``BETWEEN``) or a join
equality between two tables. A ``$n`` compared with a column is recorded as its ``position`` (what the drill
binds when it replays the statement). What an index cannot serve is left out (ORs, functions of a column,
LIKE); a statement that cannot be parsed, or is not a query, is skipped with its reason.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

Op = Literal["eq", "range", "join"]
#: (schema or None, table) -> the table's real (schema, table), or None when it is no user table.
TableResolver = Callable[[str | None, str], tuple[str, str] | None]
#: (schema, table) -> its column names (to place an unqualified column when several tables are in scope).
ColumnLister = Callable[[str, str], frozenset[str]]

_RANGE = (exp.GT, exp.GTE, exp.LT, exp.LTE)
_BARRIERS = (exp.Subquery, exp.Select, exp.Union, exp.Exists)


@dataclass(frozen=True)
class Comparison:
    schema: str
    table: str
    column: str
    op: Op
    positions: tuple[int, ...] = ()  # the $n compared with the column
    bounded: bool = False             # a range closed on both sides (BETWEEN)


@dataclass(frozen=True)
class ParsedStatement:
    comparisons: tuple[Comparison, ...]


@dataclass(frozen=True)
class Skipped:
    reason: str


def parse_statement(text: str, resolve_table: TableResolver,
                    columns_of: ColumnLister) -> ParsedStatement | Skipped:
    """Comparisons of ``text`` on resolved user tables, or why the statement is skipped."""
    try:
        trees = [t for t in sqlglot.parse(text, read="postgres") if t is not None]
    except SqlglotError as exc:
        return Skipped(f"cannot parse: {_first_line(str(exc))}")
    if len(trees) != 1:
        return Skipped(f"{len(trees)} statements in one entry")
    tree = trees[0]
    if not isinstance(tree, (exp.Select, exp.Union, exp.Update, exp.Delete)):
        return Skipped(f"not a query ({tree.key.upper()})")
    comparisons: list[Comparison] = []
    ctes = {_name(cte.alias_or_name, _quoted(cte.args.get("alias"))) for cte in tree.find_all(exp.CTE)}
    for scope in _scopes(tree):
        comparisons.extend(_scope_comparisons(scope, ctes, resolve_table, columns_of))
    return ParsedStatement(tuple(dict.fromkeys(comparisons)))


def _scopes(tree: exp.Expr) -> Iterator[exp.Expr]:
    for node in tree.walk():
        if isinstance(node, (exp.Select, exp.Update, exp.Delete)):
            yield node


def _scope_tables(scope: exp.Expr) -> list[exp.Table]:
    """The tables this scope reads directly (not those of its sub-selects)."""
    tables: list[exp.Table] = []
    parts: list[exp.Expr | None] = []
    if isinstance(scope, (exp.Update, exp.Delete)):
        parts.append(scope.this)
    parts.append(scope.args.get("from") or scope.args.get("from_"))
    for key in ("joins", "using"):  # DELETE ... USING a, b
        value = scope.args.get(key)
        parts.extend(value if isinstance(value, list) else [value])
    for part in parts:
        if part is None:
            continue
        if isinstance(part, exp.Table):
            tables.append(part)
            continue
        for table in part.find_all(exp.Table):
            if table.find_ancestor(*_BARRIERS) is part.find_ancestor(*_BARRIERS):
                tables.append(table)
    return tables


def _scope_comparisons(scope: exp.Expr, ctes: set[str], resolve_table: TableResolver,
                       columns_of: ColumnLister) -> list[Comparison]:
    in_scope: dict[str, tuple[str, str]] = {}  # alias or name -> (schema, table)
    real: list[tuple[str, str]] = []
    for table in _scope_tables(scope):
        name = _name(table.name, _quoted(table.this))
        schema = _name(table.db, _quoted(table.args.get("db"))) if table.db else None
        if schema is None and name in ctes:
            continue
        resolved = resolve_table(schema, name)
        if resolved is None:
            continue
        real.append(resolved)
        alias = table.args.get("alias")
        key = _name(alias.name, _quoted(alias.this)) if alias is not None and alias.name else name
        in_scope[key] = resolved
    if not real:
        return []
    conditions: list[exp.Expr] = []
    where = scope.args.get("where")
    if where is not None:
        conditions.append(where.this)
    for join in scope.args.get("joins") or []:
        if join.args.get("on") is not None:
            conditions.append(join.args["on"])

    def locate(column: exp.Column) -> tuple[str, str] | None:
        qualifier = column.table
        name = _name(column.name, _quoted(column.this))
        if qualifier:
            return in_scope.get(_name(qualifier, _quoted(column.args.get("table"))))
        if len(set(real)) == 1:
            return real[0]
        owners = {t for t in real if name in columns_of(*t)}
        return owners.pop() if len(owners) == 1 else None

    found: list[Comparison] = []
    for condition in conditions:
        for term in _conjuncts(condition):
            found.extend(_term_comparisons(term, locate))
    return found


def _term_comparisons(term: exp.Expr,
                      locate: Callable[[exp.Column], tuple[str, str] | None]) -> list[Comparison]:
    def column_of(node: exp.Expr) -> tuple[str, str, str] | None:
        if not isinstance(node, exp.Column) or isinstance(node.this, exp.Star):
            return None
        where = locate(node)
        return (*where, _name(node.name, _quoted(node.this))) if where else None

    if isinstance(term, exp.Between):
        col = column_of(term.this)
        if col is None:
            return []
        positions = tuple(p for p in (_position(term.args.get("low")), _position(term.args.get("high"))) if p)
        return [Comparison(*col, op="range", positions=positions, bounded=True)]
    if isinstance(term, exp.In):
        col = column_of(term.this)
        values = term.expressions
        if col is None or not values or any(isinstance(v, exp.Column) for v in values):
            return []
        return [Comparison(*col, op="eq", positions=tuple(p for p in map(_position, values) if p))]
    if isinstance(term, (exp.EQ, *_RANGE)):
        left, right = term.left, term.right
        lcol, rcol = column_of(left), column_of(right)
        if lcol and rcol:
            if isinstance(term, exp.EQ) and lcol[:2] != rcol[:2]:
                return [Comparison(*lcol, op="join"), Comparison(*rcol, op="join")]
            return []
        col, value = (lcol, right) if lcol else (rcol, left)
        if col is None or value.find(exp.Column) is not None:
            return []  # a column against an expression of columns: no plain index lookup
        op: Op = "eq" if isinstance(term, exp.EQ) else "range"
        position = _position(value)
        return [Comparison(*col, op=op, positions=(position,) if position else ())]
    return []


def _conjuncts(condition: exp.Expr) -> Iterator[exp.Expr]:
    node = condition.unnest() if isinstance(condition, exp.Paren) else condition
    if isinstance(node, exp.And):
        yield from _conjuncts(node.left)
        yield from _conjuncts(node.right)
    else:
        yield node


def _position(node: exp.Expr | None) -> int | None:
    """``$3`` (possibly cast: ``$3::bigint``) -> 3."""
    while isinstance(node, (exp.Cast, exp.Paren)):
        node = node.this
    if isinstance(node, exp.Parameter):
        text = node.this.name if isinstance(node.this, exp.Expr) else str(node.this)
        return int(text) if text.isdigit() else None
    return None


def _quoted(node: object) -> bool:
    return bool(isinstance(node, exp.Identifier) and node.quoted)


def _name(text: str, quoted: bool) -> str:
    """PostgreSQL folds unquoted identifiers to lower case; quoted ones are exact."""
    return text if quoted else text.lower()


def _first_line(message: str) -> str:
    return " ".join(message.strip().splitlines()[:1])[:200]
