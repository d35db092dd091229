"""PostgreSQL connection helpers (psycopg2) for everything that opens a SQL connection.

Why a helper module: every caller (backup baselines, drill steps) talks to a database the same
way: a short connect timeout, a recognisable application_name (DBAs see our sessions in pg_stat_activity),
TLS as its settings say, and every unit of work in its own rolled-back transaction with a statement timeout.

TLS: on AWS the settings default to ``sslmode=verify-full`` against the RDS CA bundle shipped in the
layer (:data:`RDS_CA_BUNDLE`), so a connection proves it reached the RDS endpoint it named. The bundle
is not in the repository: download https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem to
``layers/ops/python/churnguard_ops/core/rds-global-bundle.pem`` before building the layer. The embedded
default configures ``sslmode=disable`` through the same settings (its PostgreSQL serves no TLS).

psycopg2 is imported where a connection is opened, so this module's constants cost nothing to import.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, TypeAlias

__all__ = ["RDS_CA_BUNDLE", "RDS_CA_BUNDLE_URL", "USER_SCHEMA_PREDICATE", "SslMode", "connect", "qualified",
           "transaction"]

logger = logging.getLogger(__name__)

# psycopg2 ships no type information: a connection is Any to the type checker.
Connection: TypeAlias = Any

SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]

#: The RDS CA bundle for every region, where the layer ships it (/opt/python/churnguard_ops/core/... on Lambda).
RDS_CA_BUNDLE = str(Path(__file__).with_name("rds-global-bundle.pem"))
RDS_CA_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
_VERIFYING = ("verify-ca", "verify-full")


def connect(
    host: str,
    port: int,
    user: str,
    password: str | None,
    dbname: str,
    connect_timeout: int = 10,
    application_name: str = "churnguard-ops-drill",
    sslmode: SslMode | None = None,
    sslrootcert: str | None = None,
) -> Connection:
    """Open a connection; keyword arguments (not a DSN string) so no quoting of the password is needed.

    ``sslmode``/``sslrootcert`` come from the caller's settings (e.g. DRILL_DB_SSLMODE, DRILL_DB_SSLROOTCERT).
    None leaves the choice to libpq (PGSSLMODE / PGSSLROOTCERT, else ``prefer``). ``sslrootcert="system"``
    uses the system's trusted roots (libpq >= 16), for servers whose certificate is publicly trusted.
    """
    import psycopg2  # psycopg2 loads only in the functions that connect

    if sslmode in _VERIFYING and sslrootcert and sslrootcert != "system" and not os.path.isfile(sslrootcert):
        # libpq would say "root certificate file ... does not exist"; say where the bundle belongs too.
        raise psycopg2.OperationalError(
            f"sslmode={sslmode} needs the server's CA, but sslrootcert {sslrootcert} does not exist: download "
            f"{RDS_CA_BUNDLE_URL} to layers/ops/python/churnguard_ops/core/rds-global-bundle.pem and redeploy "
            "the layer, or configure the database TLS settings (db_sslmode, db_sslrootcert)")
    # The password is passed to libpq only; it never appears in a log line or an exception we raise.
    logger.info("connecting to postgres host=%s port=%s dbname=%s user=%s sslmode=%s sslrootcert=%s",
                host, port, dbname, user, sslmode or "libpq default", sslrootcert or "-")
    kwargs: dict[str, Any] = dict(host=host, port=int(port), user=user, dbname=dbname,
                                  connect_timeout=connect_timeout, application_name=application_name)
    if sslmode:
        kwargs["sslmode"] = sslmode
    if sslrootcert and sslmode != "disable":
        kwargs["sslrootcert"] = sslrootcert
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
