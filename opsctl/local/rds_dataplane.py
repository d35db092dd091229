"""An RDS data plane for the embedded AWS: moto's RDS instances served by the embedded PostgreSQL.

moto plays the RDS control plane (instances, snapshots, copies, restores, tags, states) but an
instance has no database behind it. ``RdsDataPlane`` is a WSGI middleware in front of moto that,
for instances *bound* to a database of the embedded PostgreSQL, gives the control-plane calls
their data-plane effect after moto has accepted them, and points the responses at that database:

======================================  ===================================================
CreateDBSnapshot (bound instance)       a new database ``snap_<sha1[:12]>``: a point-in-time copy
                                        (``CREATE DATABASE .. TEMPLATE``; while sessions are
                                        connected to the source, ``pg_dump -Fc | pg_restore``,
                                        which keeps rows that violate a foreign key, as a block
                                        copy does: the key is then added NOT VALID)
CopyDBSnapshot (any region)             the copy refers to the *same* snapshot database
RestoreDBInstanceFromDBSnapshot         ``CREATE DATABASE rds_<sha1[:12]> TEMPLATE <snapshot db>``;
                                        the new instance is bound to it
RestoreDBInstanceToPointInTime          a copy of the source's database *as of now* (see below)
DeleteDBInstance (bound)                ``DROP DATABASE .. WITH (FORCE)`` (or, with a final
                                        snapshot, the database becomes that snapshot's)
DeleteDBSnapshot                        drops the snapshot database once no snapshot refers to it
ModifyDBInstance NewDBInstanceIdentifier the binding follows the rename
any response with <DBInstance> elements  for bound instances: Endpoint.Address 127.0.0.1,
                                        Endpoint.Port the PostgreSQL port, DBName the database
DescribeEvents                          moto's events plus the restore-complete events RDS logs
                                        and moto does not: "Restored from snapshot <id>"
                                        (RDS-EVENT-0043), "Restored from DB instance <id> to
                                        <time>" (RDS-EVENT-0019), dated when the restore's data
                                        exists (for any restore moto accepted, bound or not)
======================================  ===================================================

Runtime code stays the code that runs on AWS: it calls the RDS API, reads Endpoint and DBName from
DescribeDBInstances, and connects with psycopg2. Unbound instances (and snapshots of them) pass
through untouched. The instance's MasterUsername is created as a LOGIN SUPERUSER role (the
cluster trusts 127.0.0.1, so the password is not checked), standing in for RDS's master user.

Only public AWS API shapes are relied upon: requests are parsed as the RDS query protocol, moto's
responses as the RDS XML, and where the data plane needs to know something moto knows (which
instance a snapshot came from) it asks moto through the same API (DescribeDBSnapshots).

Snapshot databases never accept connections (``ALLOW_CONNECTIONS false``): a snapshot is
immutable and, as nobody can be connected to it, ``TEMPLATE`` always works when restoring.
Copies share the snapshot database rather than duplicating it: the data is immutable, so a
shared reference is indistinguishable from a copy, costs nothing and keeps a cross-region copy
instantaneous; DeleteDBSnapshot counts the references.

Materialization is synchronous: moto reports a snapshot ``available`` at once, so the response is
held back until the data exists. For big databases the dump fallback can take longer than
botocore's 60 s read timeout; local databases are small.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import parse_qs, urlencode

if TYPE_CHECKING:
    from .postgres import EmbeddedPostgres

__all__ = ["Materialization", "RdsDataPlane", "RdsEventRecord", "SigV4Scope", "credential_scope"]

log = logging.getLogger(__name__)

_StartResponse = Callable[..., Any]
_App = Callable[..., Iterable[bytes]]
_SNAPSHOT_ARN = re.compile(r"^arn:[\w-]+:rds:(?P<region>[\w-]+):\d*:snapshot:(?P<id>.+)$")
_LOCAL_ADDRESS = "127.0.0.1"


# --------------------------------------------------------------------------------------
# SigV4 credential scope (shared with opsctl.local.aws)
# --------------------------------------------------------------------------------------
class SigV4Scope(NamedTuple):
    region: str
    service: str


def credential_scope(environ: Mapping[str, Any]) -> SigV4Scope:
    """Region and service from ``Authorization: AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request``.

    Empty strings where the request carries no (parsable) SigV4 scope.
    """
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" not in auth:
        return SigV4Scope("", "")
    parts = auth.split("Credential=", 1)[1].split(",", 1)[0].strip().split("/")
    if len(parts) < 5:
        return SigV4Scope("", "")
    return SigV4Scope(parts[2], parts[3])


# --------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Materialization:
    """One database the data plane made, and how long it took."""

    kind: str  # "snapshot" | "adopted_snapshot" | "restore" | "point_in_time" | "final_snapshot"
    region: str
    resource_id: str  # the snapshot or instance identifier
    source_database: str
    database: str
    method: str  # "template" | "dump_restore" | "rename"
    seconds: float  # wall time of the whole materialization
    template_error: str | None = None  # why TEMPLATE was not usable, when the dump path ran
    # Foreign keys the source's rows violate: the dump path keeps those rows (as a block copy would) and
    # can only add these keys NOT VALID. TEMPLATE copies keep them exactly as they are.
    not_valid_foreign_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class RdsEventRecord:
    """An RDS event the data plane logged (moto does not log restores' completion)."""

    region: str
    source_identifier: str
    source_type: str
    message: str
    categories: tuple[str, ...]
    date: datetime
    source_arn: str


@dataclass
class _Binding:
    database: str
    owned: bool  # made by the data plane (dropped on reset) rather than declared with bind()


class _DataPlaneError(RuntimeError):
    pass


# --------------------------------------------------------------------------------------
# The middleware
# --------------------------------------------------------------------------------------
class RdsDataPlane:
    """WSGI middleware: RDS control-plane calls to moto, their data-plane effect on PostgreSQL.

    Usage (EmbeddedAws installs it between fault injection and Lambda dispatch)::

        plane = aws.attach_postgres(pg)          # or RdsDataPlane(pg).wrap(app)
        plane.bind("churnguard-prod", "churnguard")
    """

    def __init__(self, postgres: EmbeddedPostgres, app: _App | None = None) -> None:
        self.postgres = postgres
        self.app = app
        self.materializations: list[Materialization] = []
        self.events: list[RdsEventRecord] = []
        self._lock = threading.Lock()  # the maps below; held only briefly
        self._ops_lock = threading.RLock()  # serializes database creation/removal
        self._instances: dict[tuple[str, str], _Binding] = {}  # (region, instance id) -> database
        self._snapshots: dict[tuple[str, str], str] = {}  # (region, snapshot id) -> database
        self._owned: set[str] = set()  # databases the data plane created
        self._roles: set[str] = set()  # login roles already ensured
        self._role_lock = threading.Lock()

    def wrap(self, app: _App) -> RdsDataPlane:
        self.app = app
        return self

    # -- public API ------------------------------------------------------------------
    def bind(self, instance_id: str, database: str, region: str = "us-east-1") -> None:
        """Declare that moto RDS instance ``instance_id`` in ``region`` is served by ``database``.

        The instance need not exist yet (bind, then CreateDBInstance, works too). The database
        is the caller's: DeleteDBInstance drops it (as RDS would), reset() does not.
        """
        with self._lock:
            self._instances[(region, instance_id)] = _Binding(database, owned=False)

    def unbind(self, instance_id: str, region: str = "us-east-1") -> None:
        with self._lock:
            self._instances.pop((region, instance_id), None)

    def database_for_instance(self, instance_id: str, region: str = "us-east-1") -> str | None:
        with self._lock:
            binding = self._instances.get((region, instance_id))
            return binding.database if binding else None

    def database_for_snapshot(self, snapshot_id: str, region: str = "us-east-1") -> str | None:
        with self._lock:
            return self._snapshots.get((region, snapshot_id))

    def describe(self) -> dict[str, Any]:
        """What is bound to what (for `opsctl local up` style summaries and debugging)."""
        with self._lock:
            return {
                "instances": {f"{r}/{i}": b.database for (r, i), b in sorted(self._instances.items())},
                "snapshots": {f"{r}/{s}": db for (r, s), db in sorted(self._snapshots.items())},
            }

    def reset(self) -> None:
        """Forget every binding and drop every database the data plane made (not bound ones)."""
        with self._ops_lock:
            with self._lock:
                owned = sorted(self._owned)
                self._instances.clear()
                self._snapshots.clear()
                self._owned.clear()
                self.materializations.clear()
                self.events.clear()
            for database in owned:
                try:
                    self._drop(database)
                except Exception:  # noqa: BLE001 - a stopped server: nothing left to drop
                    log.warning("could not drop %s on reset", database, exc_info=True)

    # -- WSGI ------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: _StartResponse) -> Iterable[bytes]:
        assert self.app is not None, "RdsDataPlane.wrap(app) first"
        scope = credential_scope(environ)
        if scope.service != "rds":
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)  # moto reads the body again
        params = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        params.update({k: v[0] for k, v in parse_qs(raw.decode(errors="replace")).items()})
        action = params.get("Action", "")
        region = scope.region or "us-east-1"

        status, headers, body = self._call_inner(environ)
        if not status.startswith("2"):
            return _reply(start_response, status, headers, body)
        hook = self._HOOKS.get(action)
        if hook is not None:
            try:
                hook(self, region, params, environ)
            except Exception as exc:  # noqa: BLE001 - report as AWS would, leave moto consistent
                log.exception("RDS data plane: %s failed", action)
                self._undo(action, region, params, environ)
                return _error(start_response, "500 Internal Server Error", "InternalFailure",
                              f"local RDS data plane: {action} failed: {exc}")
        if action == "DescribeEvents":
            body = self._add_events(body, region, params)
        if b"<DBInstance>" in body:
            body = self._rewrite_instances(body, region)
        return _reply(start_response, status, headers, body)

    # -- hooks (run after moto answered 2xx) -------------------------------------------
    def _on_create_snapshot(self, region: str, params: dict[str, str], environ: dict[str, Any]) -> None:
        source = self.database_for_instance(params.get("DBInstanceIdentifier", ""), region)
        if source is None:
            return
        snapshot_id = params["DBSnapshotIdentifier"]
        self._materialize_snapshot(region, snapshot_id, source, kind="snapshot")

    def _on_copy_snapshot(self, region: str, params: dict[str, str], environ: dict[str, Any]) -> None:
        source_region, source_id = _snapshot_ref(params.get("SourceDBSnapshotIdentifier", ""), region)
        database = self._snapshot_database(source_region, source_id, environ)
        if database is None:
            return
        with self._lock:  # a shared reference: snapshot data is immutable
            self._snapshots[(region, params["TargetDBSnapshotIdentifier"])] = database

    def _on_restore_from_snapshot(self, region: str, params: dict[str, str], environ: dict[str, Any]) -> None:
        snap_region, snap_id = _snapshot_ref(params.get("DBSnapshotIdentifier", ""), region)
        source = self._snapshot_database(snap_region, snap_id, environ)
        if source is not None:
            self._materialize_instance(region, params["DBInstanceIdentifier"], source, kind="restore")
        self._log_instance_event(region, params["DBInstanceIdentifier"], f"Restored from snapshot {snap_id}",
                                 ("restoration",), environ)

    def _on_restore_to_point_in_time(self, region: str, params: dict[str, str], environ: dict[str, Any]) -> None:
        """A copy of the source instance's database *as of now*.

        moto keeps no WAL and neither does the data plane, so RestoreTime and
        UseLatestRestorableTime both mean "now": the restored data is the source's current
        data (a consistent copy: TEMPLATE while nobody is connected, else pg_dump's snapshot).
        Sources given as SourceDbiResourceId or SourceDBInstanceAutomatedBackupsArn are not
        resolved and pass through unbound.
        """
        source_id = params.get("SourceDBInstanceIdentifier", "")
        source = self.database_for_instance(source_id, region)
        if source is not None:
            self._materialize_instance(region, params["TargetDBInstanceIdentifier"], source, kind="point_in_time")
        when = params.get("RestoreTime") or datetime.now(timezone.utc).isoformat()  # no WAL here: "now"
        self._log_instance_event(region, params["TargetDBInstanceIdentifier"],
                                 f"Restored from DB instance {source_id} to {when}", ("restoration",), environ)

    def _on_delete_instance(self, region: str, params: dict[str, str], environ: dict[str, Any]) -> None:
        instance_id = params.get("DBInstanceIdentifier", "")
        with self._lock:
            binding = self._instances.pop((region, instance_id), None)
        if binding is None:
            return
        final = params.get("FinalDBSnapshotIdentifier")
        skip = params.get("SkipFinalSnapshot", "false").lower() == "true"
        with self._ops_lock:
            if final and not skip:
                # The instance is going away: its database becomes the final snapshot's, no copy.
                t0 = time.monotonic()
                target = self._unreferenced_name(_snapshot_db_name(region, final))
                self._rename(binding.database, target)
                self._seal(target)
                with self._lock:
                    self._owned.discard(binding.database)
                    self._owned.add(target)
                    self._snapshots[(region, final)] = target
                    self.materializations.append(Materialization(
                        "final_snapshot", region, final, binding.database, target, "rename",
                        time.monotonic() - t0))
            else:
                self._drop(binding.database)
                with self._lock:
                    self._owned.discard(binding.database)

    def _on_delete_snapshot(self, region: str, params: dict[str, str], environ: dict[str, Any]) -> None:
        _, snapshot_id = _snapshot_ref(params.get("DBSnapshotIdentifier", ""), region)
        with self._ops_lock:
            with self._lock:
                database = self._snapshots.pop((region, snapshot_id), None)
                still_used = database is None or database in self._snapshots.values()
                if not still_used:
                    self._owned.discard(database)  # type: ignore[arg-type]
            if not still_used:
                self._drop(database)  # type: ignore[arg-type]

    def _on_modify_instance(self, region: str, params: dict[str, str], environ: dict[str, Any]) -> None:
        new_id = params.get("NewDBInstanceIdentifier")
        if not new_id:
            return
        with self._lock:
            binding = self._instances.pop((region, params.get("DBInstanceIdentifier", "")), None)
            if binding is not None:
                self._instances[(region, new_id)] = binding

    # -- events ----------------------------------------------------------------------
    def _log_instance_event(self, region: str, instance_id: str, message: str, categories: tuple[str, ...],
                            environ: dict[str, Any]) -> None:
        """Dated now: the hook runs once the restored data exists, i.e. when the restore completed."""
        found = self._inner_query(environ, region, {"Action": "DescribeDBInstances",
                                                    "DBInstanceIdentifier": instance_id})
        arn = (_first_text(found, "DBInstanceArn") if found is not None else None) or ""
        with self._lock:
            self.events.append(RdsEventRecord(region, instance_id, "db-instance", message, categories,
                                              datetime.now(timezone.utc), arn))

    def _add_events(self, body: bytes, region: str, params: dict[str, str]) -> bytes:
        """moto's DescribeEvents answer plus the data plane's events that match the request's filters."""
        end = _iso(params.get("EndTime")) or datetime.now(timezone.utc)
        start = _iso(params.get("StartTime")) or end - timedelta(minutes=int(params.get("Duration") or 60))
        with self._lock:
            ours = [e for e in self.events if e.region == region and start <= e.date <= end
                    and params.get("SourceIdentifier", e.source_identifier) == e.source_identifier
                    and params.get("SourceType", e.source_type) == e.source_type]
        if not ours:
            return body
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            return body
        ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""

        def q(tag: str) -> str:
            return f"{{{ns}}}{tag}" if ns else tag

        events = next(root.iter(q("Events")), None)
        if events is None:
            result = next(root.iter(q("DescribeEventsResult")), None)
            if result is None:
                return body
            events = ET.SubElement(result, q("Events"))
        for record in sorted(ours, key=lambda e: e.date):
            event = ET.SubElement(events, q("Event"))
            for tag, text in (("SourceIdentifier", record.source_identifier), ("SourceType", record.source_type),
                              ("Message", record.message)):
                ET.SubElement(event, q(tag)).text = text
            categories = ET.SubElement(event, q("EventCategories"))
            for category in record.categories:
                ET.SubElement(categories, q("EventCategory")).text = category
            ET.SubElement(event, q("Date")).text = record.date.isoformat().replace("+00:00", "Z")
            ET.SubElement(event, q("SourceArn")).text = record.source_arn
        return ET.tostring(root, encoding="unicode", default_namespace=ns or None).encode()

    _HOOKS: dict[str, Callable[[RdsDataPlane, str, dict[str, str], dict[str, Any]], None]] = {
        "CreateDBSnapshot": _on_create_snapshot,
        "CopyDBSnapshot": _on_copy_snapshot,
        "RestoreDBInstanceFromDBSnapshot": _on_restore_from_snapshot,
        "RestoreDBInstanceToPointInTime": _on_restore_to_point_in_time,
        "DeleteDBInstance": _on_delete_instance,
        "DeleteDBSnapshot": _on_delete_snapshot,
        "ModifyDBInstance": _on_modify_instance,
    }

    def _undo(self, action: str, region: str, params: dict[str, str], environ: dict[str, Any]) -> None:
        """A failed materialization must not leave moto claiming a resource that has no data."""
        try:
            if action == "CreateDBSnapshot":
                self._inner_query(environ, region, {"Action": "DeleteDBSnapshot",
                                                    "DBSnapshotIdentifier": params["DBSnapshotIdentifier"]})
            elif action == "RestoreDBInstanceFromDBSnapshot":
                self._inner_query(environ, region, {"Action": "DeleteDBInstance", "SkipFinalSnapshot": "true",
                                                    "DBInstanceIdentifier": params["DBInstanceIdentifier"]})
            elif action == "RestoreDBInstanceToPointInTime":
                self._inner_query(environ, region, {"Action": "DeleteDBInstance", "SkipFinalSnapshot": "true",
                                                    "DBInstanceIdentifier": params["TargetDBInstanceIdentifier"]})
        except Exception:  # noqa: BLE001
            log.warning("RDS data plane: could not undo %s in moto", action, exc_info=True)

    # -- materialization -------------------------------------------------------------
    def _materialize_snapshot(self, region: str, snapshot_id: str, source: str, *, kind: str) -> str:
        with self._ops_lock:
            target = self._unreferenced_name(_snapshot_db_name(region, snapshot_id))
            self._drop(target)  # a stale one (same id, earlier life): AWS ids are reusable
            record = self._copy(source, target, kind=kind, region=region, resource_id=snapshot_id)
            self._seal(target)
            with self._lock:
                self._owned.add(target)
                self._snapshots[(region, snapshot_id)] = target
                self.materializations.append(record)
        return target

    def _materialize_instance(self, region: str, instance_id: str, source: str, *, kind: str) -> str:
        with self._ops_lock:
            target = self._unreferenced_name(_instance_db_name(region, instance_id))
            self._drop(target)
            record = self._copy(source, target, kind=kind, region=region, resource_id=instance_id)
            with self._lock:
                self._owned.add(target)
                self._instances[(region, instance_id)] = _Binding(target, owned=True)
                self.materializations.append(record)
        return target

    def _unreferenced_name(self, base: str) -> str:
        """``base``, unless a live record still uses it (a copy outliving a deleted, re-created id)."""
        with self._lock:
            used = set(self._snapshots.values()) | {b.database for b in self._instances.values()}
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}_{n}"
        return name

    def _snapshot_database(self, region: str, snapshot_id: str, environ: dict[str, Any]) -> str | None:
        """The snapshot's database; made now for a snapshot of a bound instance taken before bind().

        Such a snapshot (seeded history, say) has no point-in-time data of its own: it is
        "adopted" as a copy of the source instance's current data, and recorded as such.
        """
        with self._lock:
            known = self._snapshots.get((region, snapshot_id))
        if known is not None:
            return known
        found = self._inner_query(environ, region, {"Action": "DescribeDBSnapshots",
                                                    "DBSnapshotIdentifier": snapshot_id})
        instance_id = _first_text(found, "DBInstanceIdentifier") if found is not None else None
        source = self.database_for_instance(instance_id, region) if instance_id else None
        if source is None:
            return None
        return self._materialize_snapshot(region, snapshot_id, source, kind="adopted_snapshot")

    def _copy(self, source: str, target: str, *, kind: str, region: str, resource_id: str) -> Materialization:
        """``CREATE DATABASE target TEMPLATE source``, or pg_dump | pg_restore while source is in use."""
        from psycopg2 import errors, sql

        t0 = time.monotonic()
        # PostgreSQL waits up to 5 s for a template's sessions to leave before it gives up:
        # look first, and go straight to the dump when clients are connected.
        (sessions,) = self._query(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'", (source,))[0]
        if sessions:
            template_error = f"{sessions} session(s) connected to {source}"
        else:
            try:
                self._execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(target), sql.Identifier(source)))
                return Materialization(kind, region, resource_id, source, target, "template",
                                       time.monotonic() - t0)
            except errors.ObjectInUse as exc:  # someone connected in between
                template_error = str(exc).strip().splitlines()[0]
        self._execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(target)))
        try:
            not_valid = self._dump_restore(source, target)
        except BaseException:
            self._drop(target)
            raise
        return Materialization(kind, region, resource_id, source, target, "dump_restore",
                               time.monotonic() - t0, template_error, not_valid)

    def _dump_restore(self, source: str, target: str) -> tuple[str, ...]:
        """pg_dump | pg_restore inside the cluster, keeping rows that violate a foreign key (see restore_from)."""
        from .postgres import DatabaseCopyError

        env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
        for key in ("PGPASSWORD", "PGSERVICE", "PGOPTIONS"):
            env.pop(key, None)
        try:
            not_valid = self.postgres.restore_from(self.postgres.dsn(source), target, keep_owners=True, env=env)
        except DatabaseCopyError as exc:
            raise _DataPlaneError(f"copying {source} to {target}: {exc}") from None
        if not_valid:
            log.warning("RDS data plane: %s holds rows violating %s; copied with them, the keys NOT VALID",
                        source, ", ".join(not_valid))
        return not_valid

    # -- SQL -------------------------------------------------------------------------
    def _execute(self, statement: Any, args: tuple[Any, ...] | None = None) -> None:
        self._query(statement, args, fetch=False)

    def _query(self, statement: Any, args: tuple[Any, ...] | None = None, *, fetch: bool = True) -> list[tuple]:
        import psycopg2

        conn = psycopg2.connect(self.postgres.dsn())
        try:
            conn.autocommit = True  # CREATE/DROP/ALTER DATABASE refuse transaction blocks
            with conn.cursor() as cur:
                cur.execute(statement, args)
                return cur.fetchall() if fetch else []
        finally:
            conn.close()

    def _drop(self, database: str) -> None:
        from psycopg2 import sql

        self._execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))

    def _seal(self, database: str) -> None:
        """A snapshot is read-only: no sessions, so it can always serve as a TEMPLATE."""
        from psycopg2 import sql

        self._execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(database)))

    def _rename(self, database: str, new_name: str) -> None:
        from psycopg2 import sql

        self._drop(new_name)
        # No WITH (FORCE) for RENAME: end the sessions (the instance is being deleted anyway).
        self._execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = %s AND pid <> pg_backend_pid()", (database,))
        for attempt in range(50):  # terminated backends take a moment to leave
            try:
                self._execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                    sql.Identifier(database), sql.Identifier(new_name)))
                return
            except Exception as exc:  # noqa: BLE001
                from psycopg2 import errors

                if not isinstance(exc, errors.ObjectInUse) or attempt == 49:
                    raise
                time.sleep(0.1)

    def _ensure_role(self, role: str) -> None:
        from psycopg2 import errors, sql

        with self._role_lock:
            if role in self._roles:
                return
            try:
                self._execute(sql.SQL("CREATE ROLE {} LOGIN SUPERUSER").format(sql.Identifier(role)))
            except errors.DuplicateObject:  # "postgres", or made by someone else: fine as it is
                pass
            self._roles.add(role)

    # -- responses -------------------------------------------------------------------
    def _rewrite_instances(self, body: bytes, region: str) -> bytes:
        """Point every bound <DBInstance> at the embedded PostgreSQL; leave the rest byte-identical."""
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            return body
        ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""

        def q(tag: str) -> str:
            return f"{{{ns}}}{tag}" if ns else tag

        roles: set[str] = set()
        changed = False
        for instance in root.iter(q("DBInstance")):
            instance_id = instance.findtext(q("DBInstanceIdentifier"))
            database = self.database_for_instance(instance_id, region) if instance_id else None
            if database is None:
                continue
            endpoint = instance.find(q("Endpoint"))
            if endpoint is None:
                endpoint = ET.SubElement(instance, q("Endpoint"))
            _set_child(endpoint, q("Address"), _LOCAL_ADDRESS)
            _set_child(endpoint, q("Port"), str(self.postgres.port))
            _set_child(instance, q("DBName"), database)
            master = instance.findtext(q("MasterUsername"))
            if master:
                roles.add(master)
            changed = True
        for role in roles:
            self._ensure_role(role)
        if not changed:
            return body
        return ET.tostring(root, encoding="unicode", default_namespace=ns or None).encode()

    # -- talking to moto ---------------------------------------------------------------
    def _call_inner(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        assert self.app is not None
        captured: dict[str, Any] = {}
        chunks: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
            captured["status"], captured["headers"] = status, headers
            return chunks.append

        result = self.app(environ, start_response)
        try:
            for chunk in result:
                chunks.append(chunk)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return captured["status"], list(captured["headers"]), b"".join(chunks)

    def _inner_query(self, environ: Mapping[str, Any], region: str, params: Mapping[str, str]) -> ET.Element | None:
        """An RDS query-protocol call to moto (below this middleware), as the given region."""
        body = urlencode({**params, "Version": "2014-10-31"}).encode()
        inner = {k: v for k, v in environ.items() if not k.startswith("HTTP_") or k == "HTTP_HOST"}
        inner.update({
            "REQUEST_METHOD": "POST", "PATH_INFO": "/", "QUERY_STRING": "",
            "CONTENT_TYPE": "application/x-www-form-urlencoded; charset=utf-8",
            "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
            "HTTP_AUTHORIZATION": (f"AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/rds/aws4_request, "
                                   "SignedHeaders=host, Signature=0"),
        })
        status, _, raw = self._call_inner(inner)
        if not status.startswith("2"):
            return None
        try:
            return ET.fromstring(raw)
        except ET.ParseError:
            return None


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
def _digest(region: str, identifier: str) -> str:
    return hashlib.sha1(f"{region}/{identifier}".encode()).hexdigest()[:12]


def _snapshot_db_name(region: str, snapshot_id: str) -> str:
    return f"snap_{_digest(region, snapshot_id)}"


def _instance_db_name(region: str, instance_id: str) -> str:
    return f"rds_{_digest(region, instance_id)}"


def _snapshot_ref(identifier: str, region: str) -> tuple[str, str]:
    """(region, snapshot id) of a plain id (in ``region``) or a snapshot ARN (its own region)."""
    match = _SNAPSHOT_ARN.match(identifier)
    return (match["region"], match["id"]) if match else (region, identifier)


def _first_text(root: ET.Element, tag: str) -> str | None:
    for element in root.iter():
        if element.tag == tag or element.tag.endswith("}" + tag):
            return element.text
    return None


def _iso(raw: str | None) -> datetime | None:
    if not raw:
        return None
    value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _set_child(parent: ET.Element, tag: str, text: str) -> None:
    child = parent.find(tag)
    if child is None:
        child = ET.SubElement(parent, tag)
    child.text = text


def _reply(start_response: _StartResponse, status: str, headers: list[tuple[str, str]], body: bytes) -> list[bytes]:
    headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
    start_response(status, [*headers, ("Content-Length", str(len(body)))])
    return [body]


def _error(start_response: _StartResponse, status: str, code: str, message: str) -> list[bytes]:
    request_id = str(uuid.uuid4())
    body = (f"<ErrorResponse><Error><Type>Receiver</Type><Code>{code}</Code>"
            f"<Message>{_xml_escape(message)}</Message></Error><RequestId>{request_id}</RequestId>"
            f"</ErrorResponse>").encode()
    start_response(status, [("Content-Type", "text/xml"), ("Content-Length", str(len(body))),
                            ("X-Amzn-RequestId", request_id)])
    return [body]


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
