"""The statement parser: which table.column each comparison is on, and which $n it binds (sqlglot, no database)."""
from __future__ import annotations

import pytest

from churnguard_ops.dbadvisor.naming import create_index_sql, drop_index_sql, index_name, quote_ident
from churnguard_ops.dbadvisor.statements import Comparison, ParsedStatement, Skipped, parse_statement

TABLES: dict[tuple[str, str], frozenset[str]] = {
    ("public", "events"): frozenset({"id", "org_id", "kind", "occurred_at", "customer_id"}),
    ("public", "customers"): frozenset({"id", "org_id", "name"}),
    ("public", "orders"): frozenset({"id", "created_at", "CustomerRef"}),
    ("Sales", "Order Items"): frozenset({"id", "Status", "qty", "order_id"}),
    ("audit", "events"): frozenset({"id", "actor"}),
}


def resolve(schema: str | None, name: str) -> tuple[str, str] | None:
    if schema is not None:
        return (schema, name) if (schema, name) in TABLES else None
    return ("public", name) if ("public", name) in TABLES else None


def parse(text: str) -> ParsedStatement | Skipped:
    return parse_statement(text, resolve, lambda s, t: TABLES[(s, t)])


def comparisons(text: str) -> set[tuple[str, str, str, str, tuple[int, ...]]]:
    result = parse(text)
    assert isinstance(result, ParsedStatement), result
    return {(c.schema, c.table, c.column, c.op, c.positions) for c in result.comparisons}


def test_equalities_map_each_placeholder_to_its_column():
    assert comparisons("SELECT count(*) FROM events WHERE org_id = $1 AND kind = $2") == {
        ("public", "events", "org_id", "eq", (1,)), ("public", "events", "kind", "eq", (2,))}


def test_aliases_resolve_to_their_tables_and_a_join_equality_marks_both_sides():
    found = comparisons("SELECT c.name FROM events e JOIN customers AS c ON c.id = e.customer_id "
                        "WHERE e.org_id = $1 AND c.name = $2")
    assert found == {("public", "events", "org_id", "eq", (1,)), ("public", "customers", "name", "eq", (2,)),
                     ("public", "customers", "id", "join", ()), ("public", "events", "customer_id", "join", ())}


def test_quoted_identifiers_keep_their_case_and_spaces_and_unquoted_ones_fold_to_lower_case():
    found = comparisons('SELECT * FROM "Sales"."Order Items" oi JOIN ORDERS o ON o.ID = oi.order_id '
                        'WHERE oi."Status" = $1::text AND o."CustomerRef" = $2')
    assert ("Sales", "Order Items", "Status", "eq", (1,)) in found
    assert ("public", "orders", "CustomerRef", "eq", (2,)) in found
    assert ("public", "orders", "id", "join", ()) in found


def test_a_schema_qualified_table_is_not_confused_with_the_same_name_in_public():
    assert comparisons("SELECT * FROM audit.events WHERE actor = $1") == {("audit", "events", "actor", "eq", (1,))}


def test_ranges_in_lists_and_between_are_recognised_with_their_placeholders():
    found = comparisons("SELECT * FROM events WHERE kind IN ($1, $2) AND occurred_at BETWEEN $3 AND $4 "
                        "AND $5 < id")
    assert found == {("public", "events", "kind", "eq", (1, 2)), ("public", "events", "occurred_at", "range", (3, 4)),
                     ("public", "events", "id", "range", (5,))}
    result = parse("SELECT * FROM events WHERE occurred_at BETWEEN $1 AND $2")
    assert isinstance(result, ParsedStatement) and result.comparisons[0].bounded


def test_an_unqualified_column_in_a_join_goes_to_the_only_table_that_has_it():
    found = comparisons("SELECT * FROM events e JOIN customers c ON c.id = e.customer_id WHERE kind = $1 AND id = $2")
    assert ("public", "events", "kind", "eq", (1,)) in found
    assert not any(col == "id" and op == "eq" for _, _, col, op, _ in found)  # id is in both tables: ambiguous


def test_what_a_plain_index_cannot_serve_is_left_out():
    assert comparisons("SELECT * FROM events WHERE lower(kind) = $1 OR org_id = $2") == set()
    assert comparisons("SELECT * FROM events WHERE kind = org_id::text") == set()
    assert comparisons("SELECT * FROM no_such_table WHERE a = $1") == set()


def test_sub_selects_ctes_updates_and_deletes_are_read_in_their_own_scope():
    assert comparisons("WITH recent AS (SELECT * FROM events WHERE org_id = $1) SELECT * FROM recent WHERE kind = $2"
                       ) == {("public", "events", "org_id", "eq", (1,))}
    assert comparisons("SELECT * FROM customers WHERE id IN (SELECT customer_id FROM events WHERE kind = $1)") == {
        ("public", "events", "kind", "eq", (1,))}
    assert comparisons("UPDATE events SET kind = $1 WHERE org_id = $2") == {("public", "events", "org_id", "eq", (2,))}
    assert ("public", "customers", "org_id", "eq", (1,)) in comparisons(
        "DELETE FROM events e USING customers c WHERE c.id = e.customer_id AND c.org_id = $1")


@pytest.mark.parametrize(("text", "reason"), [
    ("SELECT FROM WHERE ((", "cannot parse"),
    ("CREATE INDEX foo ON events (kind)", "not a query (CREATE)"),
    ("SELECT 1; SELECT 2", "2 statements in one entry"),
])
def test_statements_it_cannot_use_are_skipped_with_a_reason(text, reason):
    result = parse(text)
    assert isinstance(result, Skipped) and result.reason.startswith(reason), result


def test_identifiers_are_quoted_only_where_postgresql_needs_it():
    assert [quote_ident(n) for n in ("events", "Order Items", "Status", "order", "a\"b", "_x$1", "1abc")] == [
        "events", '"Order Items"', '"Status"', '"order"', '"a""b"', "_x$1", '"1abc"']


def test_proposed_sql_quotes_schema_table_and_columns_and_names_the_index_within_63_bytes():
    assert create_index_sql("public", "events", ["org_id", "kind"]) == (
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS events_org_id_kind_idx ON public.events USING btree (org_id, kind);")
    assert create_index_sql("Sales", "Order Items", ["Status", "order_id"]) == (
        'CREATE INDEX CONCURRENTLY IF NOT EXISTS order_items_status_order_id_idx ON "Sales"."Order Items" '
        'USING btree ("Status", order_id);')
    assert drop_index_sql("Sales", "Dup Idx") == 'DROP INDEX CONCURRENTLY IF EXISTS "Sales"."Dup Idx";'
    long_a, long_b = index_name("t" * 40, ["c" * 30, "a"]), index_name("t" * 40, ["c" * 30, "b"])
    assert len(long_a.encode()) <= 63 and len(long_b.encode()) <= 63 and long_a != long_b


def test_comparisons_are_value_objects():
    assert Comparison("public", "events", "kind", "eq", (1,)) == Comparison("public", "events", "kind", "eq", (1,))
