"""opsctl on bad input: one line naming what is wrong, exit 2, no traceback, and nothing started first."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_opsctl import ROOT, opsctl

pytestmark = pytest.mark.e2e

EVENT = "events/backup/scheduled-tick-database.json"
STARTED = "starting embedded AWS"


def error_line(done: subprocess.CompletedProcess) -> str:
    """The one message of a refused command; anything else on stderr may only be progress lines."""
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    lines = done.stderr.strip().splitlines()
    messages = [line for line in lines if not line.startswith("[")]
    assert messages == [lines[-1]], done.stderr[-3000:]
    return lines[-1]


@pytest.fixture(scope="module")
def garbage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("events") / "garbage.json"
    path.write_text("{'detail-type': Scheduled Event")
    return path


@pytest.mark.parametrize(("args", "expected"), [
    (["invoke", "backup", "--local", "--event", "{garbage}"],
     r"opsctl invoke: event file \S+garbage.json: not valid JSON"),
    (["invoke", "backup", "--local", "--event", "events/backup/missing.json"],
     r"opsctl invoke: event file events/backup/missing.json: no such file"),
    (["invoke", "nosuchfn", "--local", "--event", EVENT],
     r"opsctl invoke: no function named 'nosuchfn' .*known: (.*, )?backup, .*drill-plan"),
    (["backup", "run", "--local", "--inject-fault", "rds"], r"opsctl backup run: --inject-fault 'rds': needs service"),
    (["backup", "run", "--local", "--inject-fault", "rds:CreateDBSnapshot:Throttling:Busy"],
     r"--inject-fault 'rds:CreateDBSnapshot:Throttling:Busy': takes at most one"),
    (["backup", "run", "--inject-fault", "rds:CreateDBSnapshot"], r"--inject-fault only works .*--local"),
    (["backup", "run", "--local", "--instance", "nosuchdb"], r"--instance nosuchdb: not configured for backups"),
    (["drill", "run", "--local", "--source", "nosuchdb"], r"--source nosuchdb: not a configured drill source"),
    (["drill", "run", "--local", "--snapshot-id", "1-not-an-id"], r"--snapshot-id '1-not-an-id': not an RDS"),
    (["drill", "run", "--local", "--mode", "snapshot"], r"--mode snapshot needs --snapshot-id"),
    (["drill", "run", "--local", "--restore-time", "yesterday"], r"--restore-time yesterday: not an ISO 8601"),
    (["drill", "run", "--local", "--poll-seconds", "0"], r"--poll-seconds 0: .*greater than or equal to 1"),
    (["drill", "run", "--source-dsn", "postgresql:///x"], r"--source-dsn only works with --local"),
    (["drill", "run", "--local", "--source-dsn", "postgresql://nobody@127.0.0.1:9/none"],
     r"--source-dsn: cannot connect"),
    (["plugins", "list", "--out", EVENT], rf"--out {EVENT}: exists and is not a directory"),
])
def test_bad_input_is_one_line_exit_2_and_refused_before_anything_starts(garbage, args, expected):
    done = opsctl(*[a.format(garbage=garbage) for a in args], timeout=300)
    assert re.search(expected, error_line(done)), done.stderr[-2000:]
    assert STARTED not in done.stderr


def test_an_unknown_snapshot_is_named_with_the_region_and_what_is_there():
    # Snapshots exist only in the running account, so this one is checked after start, before the drill.
    done = opsctl("drill", "run", "--local", "--snapshot-id", "churnguard-ops-no-such-snapshot")
    line = error_line(done)
    assert "--snapshot-id churnguard-ops-no-such-snapshot: no such snapshot in us-east-1" in line
    assert "churnguard-ops-churnguard-prod-database-" in line  # what there is instead
    assert "started drill-" not in done.stderr


def test_debug_shows_the_traceback_instead(garbage):
    for args in (["--debug", "invoke", "backup", "--event", str(garbage)],
                 ["invoke", "backup", "--event", str(garbage), "--debug"]):
        done = opsctl(*args)
        assert done.returncode != 0
        assert "Traceback" in done.stderr and "UsageError: event file" in done.stderr


@pytest.fixture(scope="module")
def aws_endpoint() -> Iterator[dict[str, str]]:
    """An empty AWS account (moto server) reached through the credential chain, as a real one would be."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    server.stop()


def _opsctl_on_aws(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "opsctl", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **env})


def test_on_aws_an_undeployed_function_or_drill_is_one_line_exit_2(aws_endpoint):
    invoked = _opsctl_on_aws(aws_endpoint, "invoke", "nosuchfn", "--event", EVENT)
    assert "no function named 'churnguard-ops-nosuchfn' is deployed" in error_line(invoked)
    drilled = _opsctl_on_aws(aws_endpoint, "drill", "run", "--prefix", "other-ops")
    assert "no state machine named other-ops-restore-drill" in error_line(drilled)


def test_on_aws_a_drill_source_the_deployment_does_not_drill_is_refused_before_starting(aws_endpoint):
    import io
    import zipfile

    import boto3

    clients = {"endpoint_url": aws_endpoint["AWS_ENDPOINT_URL"], "region_name": "us-east-1",
               "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    role = boto3.client("iam", **clients).create_role(
        RoleName="plan-role", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def plan(event, context):\n    return {}\n")
    boto3.client("lambda", **clients).create_function(
        FunctionName="deployed-ops-drill-plan", Runtime="python3.12", Role=role["Role"]["Arn"], Handler="app.plan",
        Code={"ZipFile": code.getvalue()},
        Environment={"Variables": {"DRILL_DB_INSTANCE_IDS": json.dumps(["orders-db", "billing-db"])}})
    done = _opsctl_on_aws(aws_endpoint, "drill", "run", "--prefix", "deployed-ops", "--source", "nosuchdb")
    assert error_line(done).endswith("--source nosuchdb: not a configured drill source; configured: orders-db, "
                                     "billing-db")
