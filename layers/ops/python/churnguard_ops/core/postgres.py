"""PostgreSQL connection helpers (psycopg2) for everything that opens a SQL connection.

Why a helper module: every caller (backup baselines, drill steps) talks to a database the same
way: a short connect timeout, a recognisable application_name (DBAs see our sessions in pg_stat_activity),
and every unit of work in its own rolled-back transaction with a statement timeout.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeAlias

import psycopg2

__all__ = ["USER_SCHEMA_PREDICATE", "connect", "qualified", "transaction"]

logger = logging.getLogger(__name__)

# psycopg2 ships no type information: a connection is Any to the type checker.
Connection: TypeAlias = Any


def connect(
    host: str,
    port: int,
    user: str,
    password: str | None,
    dbname: str,
    connect_timeout: int = 10,
    application_name: str = "churnguard-ops-drill",
    sslmode: str = "prefer",
) -> Connection:
    """Open a connection; keyword arguments (not a DSN string) so no quoting of the password is needed."""
    # The password is passed to libpq only; it never appears in a log line or an exception we raise.
    logger.info("connecting to postgres host=%s port=%s dbname=%s user=%s sslmode=%s",
                host, port, dbname, user, sslmode)
    kwargs: dict[str, Any] = dict(host=host, port=int(port), user=user, dbname=dbname,
                                  connect_timeout=connect_timeout, application_name=application_name,
                                  sslmode=sslmode)
    if password:
        kwargs["password"] = password
    try:
        return psycopg2.connect(**kwargs)
    except psycopg2.OperationalError as exc:
        # libpq messages do not include the password, but scrub defensively before re-raising.
        message = str(exc).replace(password, "***") if password else str(exc)
        raise psycopg2.OperationalError(message.strip()) from None


@contextmanager
def transaction(conn: Connection, statement_timeout_ms: int, *, read_only: bool = False) -> Iterator[Any]:
    """Yield a cursor inside a fresh transaction that is ALWAYS rolled back.

    Rolling back (never committing) means validation leaves the copy as it found it, and a failed or
    timed-out statement cannot poison the next unit of work (an aborted transaction rejects everything).
    """
    was_autocommit = conn.autocommit
    if was_autocommit:
        conn.autocommit = False  # SET LOCAL only works inside a transaction block
    conn.rollback()  # start from a clean slate even if the caller left a transaction open
    try:
        with conn.cursor() as cur:
            if read_only:
                cur.execute("SET TRANSACTION READ ONLY")
            # set_config(..., is_local => true) == SET LOCAL, but with a bound parameter.
            cur.execute("SELECT set_config('statement_timeout', %s, true)", (str(int(statement_timeout_ms)),))
            yield cur
    finally:
        if not conn.closed:
            conn.rollback()
            if was_autocommit:
                conn.autocommit = True


def qualified(schema: str, name: str) -> str:
    """Human-readable "schema.table" key (baselines, findings). Not for SQL: use sql.Identifier there."""
    return f"{schema}.{name}"


# Schemas that belong to PostgreSQL itself (or to RDS) rather than to the application. A SQL fragment
# over a column named ``nspname``; constant text, so composing it is not string formatting of names.
USER_SCHEMA_PREDICATE = (
    "nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND nspname NOT LIKE 'pg\\_toast%%' AND nspname NOT LIKE 'pg\\_temp\\_%%' "
    "AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%%'"
)
