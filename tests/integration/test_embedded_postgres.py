"""EmbeddedPostgres: a throwaway cluster that starts fast and never outlives its owner."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psycopg2  # noqa: E402  (a hard dependency: missing it must fail, not skip)
import pytest

from opsctl.local import postgres as pg_module
from opsctl.local.postgres import EmbeddedPostgres, PostgresNotFoundError

pytestmark = pytest.mark.integration



def _postmaster_pid(pg: EmbeddedPostgres) -> int:
    return int((pg.data_dir / "postmaster.pid").read_text().split()[0])


def _alive(pid: int) -> bool:
    """True if pid runs and is not a zombie (a container's PID 1 may not reap orphans)."""
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in state


def _wait_dead(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def pg() -> EmbeddedPostgres:
    with EmbeddedPostgres() as server:
        yield server


def test_start_records_its_duration_and_accepts_tcp_connections_on_localhost(pg: EmbeddedPostgres) -> None:
    # How fast it starts is measured by bench/embedded_postgres.py (a ratio to a bare initdb + pg_ctl start).
    assert pg.start_seconds is not None and pg.start_seconds > 0
    with psycopg2.connect(pg.dsn()) as conn, conn.cursor() as cur:
        cur.execute("SELECT current_user, inet_server_addr()::text, current_setting('fsync')")
        assert cur.fetchone() == ("postgres", "127.0.0.1/32", "off")
    conn.close()
    assert f"port={pg.port}" in pg.dsn() and "host=127.0.0.1" in pg.dsn()


def test_create_database_from_template_copies_its_data(pg: EmbeddedPostgres) -> None:
    source = pg.create_database("churn_source")
    conn = psycopg2.connect(source)
    with conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE customers (id int PRIMARY KEY, churned bool)")
        cur.execute("INSERT INTO customers VALUES (1, true), (2, false)")
    # An open session on the template blocks CREATE DATABASE ... TEMPLATE unless forced.
    restored = pg.create_database("churn_restored", template="churn_source", force=True)
    conn.close()

    with psycopg2.connect(restored) as copy, copy.cursor() as cur:
        cur.execute("SELECT id, churned FROM customers ORDER BY id")
        assert cur.fetchall() == [(1, True), (2, False)]
    copy.close()


def test_client_tools_of_the_same_major_version_sit_in_bin_dir(pg: EmbeddedPostgres) -> None:
    with psycopg2.connect(pg.dsn()) as conn, conn.cursor() as cur:
        cur.execute("SHOW server_version_num")
        server_major = int(cur.fetchone()[0]) // 10000
    conn.close()
    for tool in ("pg_dump", "pg_restore", "psql"):
        out = subprocess.run([str(pg.tool(tool)), "--version"], capture_output=True, text=True, check=True).stdout
        assert int(out.split()[-1].split(".")[0]) == server_major, out


def test_stop_kills_server_removes_temp_dir_and_is_idempotent() -> None:
    server = EmbeddedPostgres().start()
    pid, state_dir = _postmaster_pid(server), server.state_dir

    server.stop()
    server.stop()

    assert _wait_dead(pid)
    assert state_dir is not None and not state_dir.exists()
    assert not server.running


@pytest.fixture
def searchable_dir() -> Path:
    """A state-dir parent the postgres account can enter (pytest's tmp_path is 0700 under root)."""
    path = Path(tempfile.mkdtemp(prefix="pgstate-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_given_state_dir_is_kept_and_its_cluster_reused(searchable_dir: Path) -> None:
    state = searchable_dir / "pgstate"
    with EmbeddedPostgres(state) as first:
        first.create_database("kept")
    assert (state / "data" / "PG_VERSION").exists()

    with EmbeddedPostgres(state) as second:
        with psycopg2.connect(second.dsn()) as conn, conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = 'kept'")
            assert cur.fetchone() == (1,)
        conn.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the cluster to another account")
def test_state_dir_the_postgres_account_cannot_enter_is_a_clear_error(tmp_path: Path) -> None:
    tmp_path.chmod(0o700)
    with pytest.raises(PermissionError, match="cannot enter"):
        EmbeddedPostgres(tmp_path / "pgstate").start()


_CHILD = textwrap.dedent(
    """
    import signal, sys, time
    from opsctl.local.postgres import EmbeddedPostgres
    # As in a terminal: a shell that runs the test suite in the background starts it with SIGINT
    # ignored, and the child would inherit that; Ctrl-C in a terminal raises KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    pg = EmbeddedPostgres().start()
    pid = open(pg.data_dir / "postmaster.pid").read().split()[0]
    print(pid, pg.state_dir, flush=True)
    time.sleep(60)
    """
)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupting_the_owner_process_stops_the_server(signum: int) -> None:
    child = subprocess.Popen([sys.executable, "-c", _CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        pid_text, state_dir = child.stdout.readline().split()  # type: ignore[union-attr]
        assert _alive(int(pid_text))

        child.send_signal(signum)
        child.wait(timeout=20)

        assert _wait_dead(int(pid_text)), "postmaster outlived its owner"
        assert not Path(state_dir).exists()
    finally:
        if child.poll() is None:
            child.kill()


def test_missing_binaries_raise_an_error_that_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg_module.shutil, "which", lambda name: None)
    monkeypatch.setattr(pg_module.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(pg_module.importlib.util, "find_spec", lambda name: None)

    with pytest.raises(PostgresNotFoundError) as exc:
        EmbeddedPostgres()

    assert "apt-get install postgresql" in str(exc.value) and "pip install pgserver" in str(exc.value)
