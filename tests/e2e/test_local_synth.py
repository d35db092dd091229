"""The embedded default's synth: warnings about a real account's network are not shown where they cannot apply."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.e2e.test_opsctl import ROOT

pytestmark = pytest.mark.e2e

NO_VPC = "churnguard:no-database-vpc"


def _warnings(outdir) -> list[str]:
    manifest = json.loads((outdir / "manifest.json").read_text())
    return [entry["data"] for artifact in manifest["artifacts"].values()
            for entries in (artifact.get("metadata") or {}).values() for entry in entries
            if entry["type"] == "aws:cdk:warning"]


def test_the_local_synth_does_not_warn_about_drill_vpc(tmp_path):
    # A fresh process and outdir: the synth really runs, and what Node prints is captured.
    script = ("from pathlib import Path; from opsctl.environment import synthesize; "
              f"synthesize(Path({str(tmp_path)!r}), 'us-east-1')")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "drill.vpc is not set" not in done.stdout + done.stderr
    assert not [w for w in _warnings(tmp_path) if NO_VPC in w]
