"""A throwaway PostgreSQL cluster for local runs and integration tests.

Server binaries come from the machine (PATH or /usr/lib/postgresql/*/bin) or, on a machine
without them, from the PyPI package ``pgserver`` (which ships a full PostgreSQL build).
Either way the same initdb + pg_ctl flow runs, so behaviour does not depend on the source.
"""

from __future__ import annotations

import atexit
import glob
import importlib.util
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["DatabaseCopyError", "EmbeddedPostgres", "PostgresNotFoundError", "find_bin_dir"]

INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) were not found. Install them with "
    "`apt-get install postgresql` (or your OS package manager), or `pip install pgserver` "
    "for a self-contained PostgreSQL 16 that needs no system install."
)

# Durability is pointless for a throwaway cluster; these make start-up and writes fast.
_FAST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_buffers": "16MB",
    "max_connections": "50",
    "log_min_messages": "warning",
}
#: Preloaded where the server has the library (the system PostgreSQL with contrib does; pgserver does not),
#: so the PostgreSQL advisor finds query statistics locally as on RDS, where it is preloaded by default.
_PRELOAD_IF_PRESENT = ("pg_stat_statements",)
_RUN_AS_CANDIDATES = ("postgres", "pgserver")  # pgserver creates the latter when it runs as root
_MAX_SOCKET_DIR_LEN = 90  # unix socket paths are limited to ~107 bytes including the file name


class PostgresNotFoundError(RuntimeError):
    """No usable PostgreSQL server binaries on this machine."""


class DatabaseCopyError(RuntimeError):
    """A database could not be copied. The message is one line: the step and PostgreSQL's own error."""


# A foreign-key entry of `pg_restore --list`: "<dump id>; <catalog oid> <object oid> FK CONSTRAINT <schema> ..."
_FK_TOC_ENTRY = re.compile(r"^\s*\d+;\s+\d+\s+\d+\s+FK CONSTRAINT\s")

# What pg_dump dumps as FK CONSTRAINT entries: top-level foreign keys (a partition's clones come with its
# parent's) of tables that are not extension members. Run with an empty search_path so that
# pg_get_constraintdef qualifies every referenced table, as pg_dump does.
_SOURCE_FOREIGN_KEYS = """
SELECT n.nspname, t.relname, c.conname, pg_get_constraintdef(c.oid)
FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE c.contype = 'f' AND c.conparentid = 0
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = t.oid
                  AND d.deptype = 'e')
ORDER BY n.nspname, t.relname, c.conname
"""


def _is_server_bin_dir(path: Path) -> bool:
    return (path / "initdb").is_file() and (path / "pg_ctl").is_file()


def _major_version(bin_dir: str) -> int:
    name = Path(bin_dir).parent.name
    return int(name) if name.isdigit() else 0


def find_bin_dir() -> Path:
    """Directory holding initdb/pg_ctl and, next to them, pg_dump/pg_restore of the same version."""
    on_path = shutil.which("initdb")
    if on_path:
        # Resolve symlinks (/usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb) so that
        # pg_dump/pg_restore/postgres are looked up beside the real binary.
        real = Path(on_path).resolve().parent
        if _is_server_bin_dir(real):
            return real
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_major_version, reverse=True):
        if _is_server_bin_dir(Path(candidate)):
            return Path(candidate)
    # find_spec locates pgserver without importing it (its import sets up lock files).
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.submodule_search_locations:
        bundled = Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"
        if _is_server_bin_dir(bundled):
            return bundled
    raise PostgresNotFoundError(INSTALL_HINT)


def _library_dirs(bin_dir: Path) -> list[Path]:
    """Where the server loads shared libraries from: ``pg_config --pkglibdir`` if it is there, else the
    bin dir's sibling lib dirs (Debian: /usr/lib/postgresql/15/lib; source builds: lib/postgresql)."""
    dirs = [bin_dir.parent / "lib", bin_dir.parent / "lib" / "postgresql"]
    pg_config = bin_dir / "pg_config"
    if pg_config.is_file():
        proc = subprocess.run([str(pg_config), "--pkglibdir"], capture_output=True, text=True, check=False)
        if proc.returncode == 0 and proc.stdout.strip():
            dirs.insert(0, Path(proc.stdout.strip()))
    return dirs


def preloadable_libraries(bin_dir: Path) -> tuple[str, ...]:
    """The libraries of ``_PRELOAD_IF_PRESENT`` this server has (a missing one would stop it from starting)."""
    dirs = _library_dirs(bin_dir)
    return tuple(name for name in _PRELOAD_IF_PRESENT
                 if any((d / f"{name}.so").is_file() or (d / f"{name}.dylib").is_file() for d in dirs))


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _run_as_user() -> pwd.struct_passwd | None:
    """initdb/postgres refuse to run as root; pick an unprivileged account to run them as."""
    if os.geteuid() != 0:
        return None
    for name in _RUN_AS_CANDIDATES:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    # Same remedy pgserver applies for itself when run as root.
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "pgserver"],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam("pgserver")


class EmbeddedPostgres:
    """initdb + pg_ctl a private cluster on 127.0.0.1:<free port>; trust auth, user ``postgres``.

    Usage::

        with EmbeddedPostgres() as pg:
            psycopg2.connect(pg.dsn())
    """

    superuser = "postgres"
    host = "127.0.0.1"

    def __init__(self, state_dir: str | os.PathLike[str] | None = None, *, port: int | None = None) -> None:
        self._given_state_dir = Path(state_dir) if state_dir is not None else None
        self._requested_port = port
        self.port: int | None = None
        self.bin_dir: Path = find_bin_dir()
        #: shared_preload_libraries of the server (empty where it has none of them, e.g. pgserver's build).
        self.preloaded: tuple[str, ...] = preloadable_libraries(self.bin_dir)
        self.state_dir: Path | None = None
        self.start_seconds: float | None = None
        self._owns_state_dir = False
        self._extra_dirs: list[Path] = []
        self._running = False
        self._lock = threading.RLock()  # start() calls stop() on failure
        self._user = _run_as_user()

    # -- paths -------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        assert self.state_dir is not None, "call start() first"
        return self.state_dir / "data"

    @property
    def log_file(self) -> Path:
        assert self.state_dir is not None, "call start() first"
        return self.state_dir / "postgres.log"

    def tool(self, name: str) -> Path:
        """Path of a client tool (pg_dump, pg_restore, psql) of the same major version as the server."""
        return self.bin_dir / name

    def dsn(self, dbname: str = "postgres") -> str:
        assert self.port is not None, "call start() first"
        return f"host={self.host} port={self.port} user={self.superuser} dbname={dbname}"

    @property
    def running(self) -> bool:
        return self._running

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> EmbeddedPostgres:
        with self._lock:
            if self._running:
                return self
            t0 = time.monotonic()
            # Register cleanup before anything can leave a server behind.
            atexit.register(self.stop)
            _install_sigterm_exit()
            try:
                self._prepare_state_dir()
                self._initdb()
                self._start_server()
            except BaseException:
                self.stop()  # leave no half-made cluster or temp dir behind
                raise
            self._running = True
            self.start_seconds = time.monotonic() - t0
            return self

    def stop(self) -> None:
        """Stop the server (immediate, falling back to fast, then SIGKILL) and remove owned dirs.

        Idempotent; also runs from atexit.
        """
        with self._lock:
            if self.state_dir is None:
                return
            if (self.data_dir / "postmaster.pid").exists():
                self._stop_server()
            self._running = False
            for extra in self._extra_dirs:
                shutil.rmtree(extra, ignore_errors=True)
            self._extra_dirs.clear()
            if self._owns_state_dir:
                shutil.rmtree(self.state_dir, ignore_errors=True)
            self.state_dir = None
            atexit.unregister(self.stop)

    def __enter__(self) -> EmbeddedPostgres:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- SQL helpers -------------------------------------------------------------------
    def create_database(self, name: str, template: str | None = None, *, force: bool = False) -> str:
        """CREATE DATABASE name [TEMPLATE template]; returns the new database's DSN.

        PostgreSQL refuses to copy a template that has other sessions; ``force=True`` ends
        those sessions first (what a local "restore from snapshot" of a live database needs).
        """
        import psycopg2
        from psycopg2 import sql

        conn = psycopg2.connect(self.dsn())
        try:
            conn.autocommit = True  # CREATE DATABASE cannot run inside a transaction block
            with conn.cursor() as cur:
                if template and force:
                    cur.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = %s AND pid <> pg_backend_pid()",
                        (template,),
                    )
                stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
                if template:
                    stmt = stmt + sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
                cur.execute(stmt)
        finally:
            conn.close()
        return self.dsn(name)

    def restore_from(self, source_dsn: str, database: str, *, keep_owners: bool = False,
                     env: Mapping[str, str] | None = None) -> tuple[str, ...]:
        """Copy the database at ``source_dsn`` into the existing, empty ``database`` of this cluster.

        A copy keeps what the source holds, as an RDS snapshot (a block copy) does, including rows that
        violate a foreign key (loaded with session_replication_role = replica, or under a NOT VALID
        constraint): pg_restore would re-validate such a constraint and stop. So everything but the
        foreign keys is restored first; the foreign keys follow in one transaction, and if the data
        violates any of them, each is added from the source's catalog and the violated ones NOT VALID.
        Returns those (``schema.table.constraint``); the drill's FK check covers NOT VALID keys.

        ``keep_owners``: restore owners and grants (a copy inside this cluster, where the roles exist).
        Raises DatabaseCopyError with a one-line message.
        """
        env = {**(os.environ if env is None else env)}
        env.setdefault("PGCONNECT_TIMEOUT", "10")
        target = f"--dbname={self.dsn(database)}"
        ownership = [] if keep_owners else ["--no-owner", "--no-privileges"]
        with tempfile.TemporaryDirectory(prefix="churnguard-copy-") as work:
            dump, rest, keys = (Path(work) / name for name in ("source.dump", "rest.list", "fk.list"))
            self._tool("pg_dump", ["--format=custom", f"--file={dump}", f"--dbname={source_dsn}"], env)
            toc = self._tool("pg_restore", ["--list", str(dump)], env).splitlines()
            foreign_keys = [line for line in toc if _FK_TOC_ENTRY.match(line)]
            rest.write_text("\n".join(line for line in toc if not _FK_TOC_ENTRY.match(line)) + "\n")
            self._tool("pg_restore", ["--exit-on-error", f"--use-list={rest}", *ownership, target, str(dump)], env,
                       step="pg_restore")
            if not foreign_keys:
                return ()
            keys.write_text("\n".join(foreign_keys) + "\n")
            try:
                self._tool("pg_restore", ["--exit-on-error", "--single-transaction", f"--use-list={keys}", target,
                                          str(dump)], env, step="pg_restore (foreign keys)")
                return ()
            except DatabaseCopyError:
                pass  # rolled back as a whole: add them one by one, keeping what the data violates
        return self._add_foreign_keys(source_dsn, database)

    def _add_foreign_keys(self, source_dsn: str, database: str) -> tuple[str, ...]:
        import psycopg2
        from psycopg2 import errors, sql

        try:
            source = psycopg2.connect(source_dsn)
        except psycopg2.Error as exc:
            raise DatabaseCopyError(f"reading the source's foreign keys failed: {_one_line(str(exc))}") from None
        try:
            with source.cursor() as cur:
                cur.execute("SELECT set_config('search_path', '', false)")
                cur.execute(_SOURCE_FOREIGN_KEYS)
                foreign_keys = cur.fetchall()
        finally:
            source.close()
        not_valid: list[str] = []
        conn = psycopg2.connect(self.dsn(database))
        try:
            for schema, table, name, definition in foreign_keys:
                # The definition is pg_get_constraintdef's text from the source catalog, not user input.
                add = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                    sql.Identifier(schema, table), sql.Identifier(name), sql.SQL(definition))
                try:
                    try:
                        with conn, conn.cursor() as cur:
                            cur.execute(add)
                    except errors.ForeignKeyViolation:
                        with conn, conn.cursor() as cur:
                            cur.execute(add + sql.SQL(" NOT VALID"))
                        not_valid.append(f"{schema}.{table}.{name}")
                except psycopg2.Error as exc:
                    raise DatabaseCopyError(f"adding foreign key {name} of {schema}.{table} failed: "
                                            f"{_one_line(str(exc))}") from None
        finally:
            conn.close()
        return tuple(not_valid)

    def _tool(self, name: str, args: list[str], env: Mapping[str, str], *, step: str | None = None) -> str:
        proc = subprocess.run([str(self.tool(name)), *args], env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise DatabaseCopyError(f"{step or name} failed: {_one_line(proc.stderr, tool=name)}")
        return proc.stdout

    # -- internals ---------------------------------------------------------------------
    def _prepare_state_dir(self) -> None:
        if self._given_state_dir is None:
            self.state_dir = Path(tempfile.mkdtemp(prefix="churnguard-pg-"))
            self._owns_state_dir = True
        else:
            self.state_dir = self._given_state_dir.resolve()
            self.state_dir.mkdir(parents=True, exist_ok=True)
            self._owns_state_dir = False
        if self._user is not None:
            _require_traversable(self.state_dir.parent, self._user)
            # The postgres account must own the data dir, write the log and create the socket.
            os.chown(self.state_dir, self._user.pw_uid, self._user.pw_gid)

    def _socket_dir(self) -> Path:
        assert self.state_dir is not None
        wanted = self.state_dir / "run"
        if len(str(wanted)) > _MAX_SOCKET_DIR_LEN:
            wanted = Path(tempfile.mkdtemp(prefix="pgsock-"))
            self._extra_dirs.append(wanted)
        wanted.mkdir(exist_ok=True)
        if self._user is not None:
            os.chown(wanted, self._user.pw_uid, self._user.pw_gid)
        return wanted

    def _run(self, args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        env.pop("PGDATA", None)
        if self._user is not None:
            # subprocess drops privileges in the child (no runuser/su quoting needed).
            kwargs.update(user=self._user.pw_uid, group=self._user.pw_gid, extra_groups=[])
            env["HOME"] = str(self.state_dir)
        return subprocess.run(args, env=env, capture_output=True, text=True, **kwargs)

    def _initdb(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return  # a given state dir may already hold a cluster: reuse it
        proc = self._run(
            [
                str(self.bin_dir / "initdb"),
                "-D", str(self.data_dir),
                "-U", self.superuser,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",  # skips fsync of the new cluster: most of initdb's wall time
            ]
        )
        if proc.returncode != 0:
            raise RuntimeError(f"initdb failed ({proc.returncode}):\n{proc.stderr or proc.stdout}")
        # Only local sockets and 127.0.0.1 are trusted; nothing listens elsewhere.
        (self.data_dir / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 trust\n"
        )
        if self._user is not None:
            os.chown(self.data_dir / "pg_hba.conf", self._user.pw_uid, self._user.pw_gid)

    def _start_server(self) -> None:
        socket_dir = self._socket_dir()
        attempts = 1 if self._requested_port else 3  # a free port can be taken between probe and bind
        for attempt in range(attempts):
            port = self._requested_port or _free_port(self.host)
            settings = {
                **_FAST_SETTINGS,
                "listen_addresses": self.host,
                "port": str(port),
                "unix_socket_directories": str(socket_dir),
            }
            if self.preloaded:
                settings["shared_preload_libraries"] = ",".join(self.preloaded)
            opts = " ".join(f"-c {k}={v}" for k, v in settings.items())
            proc = self._run(
                [
                    str(self.bin_dir / "pg_ctl"),
                    "-D", str(self.data_dir),
                    "-l", str(self.log_file),
                    "-o", opts,
                    "-w", "-t", "30",
                    "start",
                ],
                # Own session: a terminal Ctrl-C reaches only us; our cleanup then stops the server
                # in order (stop, then remove the directory) instead of racing it.
                start_new_session=True,
            )
            if proc.returncode == 0:
                self.port = port
                return
            if attempt == attempts - 1:
                log = self.log_file.read_text() if self.log_file.exists() else ""
                raise RuntimeError(f"pg_ctl start failed:\n{proc.stderr}\n--- server log ---\n{log}")

    def _stop_server(self) -> None:
        for mode in ("immediate", "fast"):
            proc = self._run(
                [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "-t", "10", "stop"]
            )
            if proc.returncode == 0:
                return
        # Last resort: the postmaster pid is the first line of postmaster.pid.
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass


def _one_line(message: str, tool: str | None = None) -> str:
    """PostgreSQL's error (and its DETAIL) from a multi-line message, as one line."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line.lower() or "fatal:" in line.lower()] or lines[:1]
    chosen = errors[:1] + [line for line in lines if line.startswith("DETAIL:")][:1]
    text = " ".join(chosen) if chosen else "no error message"
    if tool:
        text = text.removeprefix(f"{tool}: error: ")
    return " ".join(text.split())


def _require_traversable(directory: Path, user: pwd.struct_passwd) -> None:
    """Fail early and clearly if ``user`` cannot reach ``directory`` (e.g. under a 0700 /root)."""
    for ancestor in (directory, *directory.parents):
        st = ancestor.stat()
        if st.st_uid == user.pw_uid:
            allowed = st.st_mode & 0o100
        elif st.st_gid == user.pw_gid:
            allowed = st.st_mode & 0o010
        else:
            allowed = st.st_mode & 0o001
        if not allowed:
            raise PermissionError(
                f"PostgreSQL runs as {user.pw_name!r}, which cannot enter {ancestor} (mode {st.st_mode & 0o777:o}); "
                "choose a state dir under /tmp or make its parents world-searchable (chmod o+x)"
            )


def _install_sigterm_exit() -> None:
    """Turn SIGTERM into SystemExit so atexit cleanup runs (default SIGTERM skips it).

    Only when nobody installed a handler and only from the main thread (a signal rule).
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_system_exit)


def _raise_system_exit(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)
