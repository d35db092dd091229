"""Identifiers in the SQL the advisor proposes: quoted exactly as PostgreSQL needs, index names within 63 bytes.

The proposed SQL is text for a human or the drill to run later, so it is rendered without a connection
(``psycopg2.sql`` needs one): an identifier stays bare only when it is lower case, starts with a letter or
underscore, holds only letters, digits, ``_`` and ``$``, and is no reserved keyword; else it is double-quoted
with inner quotes doubled (what ``quote_ident`` does).
"""
from __future__ import annotations

import hashlib
import re

_BARE = re.compile(r"^[a-z_][a-z0-9_$]*$")
#: PostgreSQL's reserved key words (and those reserved "(can be function or type)"): bare, they are not names.
RESERVED = frozenset("""
all analyse analyze and any array as asc asymmetric authorization binary both case cast check collate collation
column concurrently constraint create cross current_catalog current_date current_role current_schema current_time
current_timestamp current_user default deferrable desc distinct do else end except false fetch for foreign freeze
from full grant group having ilike in initially inner intersect into is isnull join lateral leading left like limit
localtime localtimestamp natural not notnull null offset on only or order outer overlaps placing primary references
returning right select session_user similar some symmetric system_user table tablesample then to trailing true union
unique user using variadic verbose when where window with
""".split())
MAX_IDENTIFIER_BYTES = 63


def quote_ident(name: str) -> str:
    if _BARE.match(name) and name not in RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def qualified_sql(schema: str, name: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(name)}"


def index_name(table: str, columns: list[str]) -> str:
    """``<table>_<col>_<col>_idx``, lower case with non-word characters as ``_``; past 63 bytes, shortened with a
    hash of the full name so two long proposals never collide (PostgreSQL would truncate silently)."""
    full = re.sub(r"\W+", "_", f"{table}_{'_'.join(columns)}_idx".lower()).strip("_")
    if len(full.encode()) <= MAX_IDENTIFIER_BYTES:
        return full
    digest = hashlib.sha1(full.encode()).hexdigest()[:8]
    return full.encode()[:MAX_IDENTIFIER_BYTES - 9].decode(errors="ignore").rstrip("_") + "_" + digest


def create_index_sql(schema: str, table: str, columns: list[str]) -> str:
    cols = ", ".join(quote_ident(c) for c in columns)
    return (f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {quote_ident(index_name(table, columns))} "
            f"ON {qualified_sql(schema, table)} USING btree ({cols});")


def drop_index_sql(schema: str, index: str) -> str:
    return f"DROP INDEX CONCURRENTLY IF EXISTS {qualified_sql(schema, index)};"
