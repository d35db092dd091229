"""EmbeddedPostgres start-up, as a ratio to a bare ``initdb`` + ``pg_ctl start`` of the same binaries.

Both run in this process, alternately, as the same account: the baseline is the least any throwaway
cluster costs (a new data directory, a server that accepts connections); EmbeddedPostgres adds its
state directory, trust configuration, tuned settings, preloaded libraries and a free TCP port.
Goal: ratio <= 1.5x. The absolute median is printed too (the embedded default promises a start of a
few seconds; on a busy machine the ratio is the number to compare).
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg2

from opsctl.local import postgres as pg_module
from opsctl.local.postgres import EmbeddedPostgres

ROUNDS = 5
GOAL = 1.5
FEW_SECONDS = 5.0


def _bare_start_stop_seconds() -> float:
    """initdb + pg_ctl start -w (timed), then stop and remove, with nothing else around it."""
    bin_dir, user = pg_module.find_bin_dir(), pg_module._run_as_user()
    state = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    state.chmod(0o755)  # the server's account must enter it (mkdtemp makes it 0700)
    data, sockets, port = state / "data", state / "run", pg_module._free_port()
    kwargs: dict = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []} if user else {}
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "HOME": str(state)}
    if user:
        os.chown(state, user.pw_uid, user.pw_gid)
    sockets.mkdir()
    if user:
        os.chown(sockets, user.pw_uid, user.pw_gid)
    try:
        started = time.perf_counter()
        subprocess.run([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync"],
                       check=True, capture_output=True, env=env, **kwargs)
        subprocess.run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(state / "log"), "-w", "start",
                        "-o", f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={sockets}"],
                       check=True, capture_output=True, env=env, **kwargs)
        psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres").close()
        seconds = time.perf_counter() - started
        subprocess.run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       check=True, capture_output=True, env=env, **kwargs)
        return seconds
    finally:
        shutil.rmtree(state, ignore_errors=True)


def _embedded_start_seconds() -> float:
    """EmbeddedPostgres().start() until a TCP connection is accepted; then stop (not timed)."""
    started = time.perf_counter()
    with EmbeddedPostgres() as pg:
        psycopg2.connect(pg.dsn()).close()
        seconds = time.perf_counter() - started
    return seconds


def main() -> int:
    _bare_start_stop_seconds()  # warm the OS file cache for the binaries and libraries
    bare, embedded = [], []
    for _ in range(ROUNDS):  # interleaved, so a burst of load elsewhere hits both alike
        bare.append(_bare_start_stop_seconds())
        embedded.append(_embedded_start_seconds())
    baseline, measured = statistics.median(bare), statistics.median(embedded)
    ratio = measured / baseline
    results = {"bare_initdb_pg_ctl_s": round(baseline, 3), "embedded_start_s": round(measured, 3),
               "ratio": round(ratio, 2), "rounds": ROUNDS}
    print(f"bare initdb + pg_ctl start: {baseline:5.2f} s; EmbeddedPostgres start: {measured:5.2f} s "
          f"(median of {ROUNDS}) -> ratio {ratio:4.2f}x ({'ok' if ratio <= GOAL else 'over'} goal {GOAL}x); "
          f"{'within' if measured <= FEW_SECONDS else 'over'} {FEW_SECONDS:.0f} s")
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
