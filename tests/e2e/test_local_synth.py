"""The embedded default's synth: warnings about a real account's network are not shown where they cannot apply,
and opsctl processes that start together synthesize once."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.e2e.test_opsctl import ROOT

pytestmark = pytest.mark.e2e

NO_VPC = "churnguard:no-database-vpc"
SYNTHESIZING = "synthesizing the CDK app into"


def _warnings(outdir) -> list[str]:
    manifest = json.loads((outdir / "manifest.json").read_text())
    return [entry["data"] for artifact in manifest["artifacts"].values()
            for entries in (artifact.get("metadata") or {}).values() for entry in entries
            if entry["type"] == "aws:cdk:warning"]


def test_the_local_synth_does_not_warn_about_drill_vpc_and_two_processes_synthesize_once(tmp_path):
    # Fresh processes and outdir: the synth really runs, and what Node prints is captured. Two at once, as the
    # test workers start: one synthesizes, the other waits for it (or finds it done) and reuses it.
    script = ("from pathlib import Path; from opsctl.environment import synthesize; "
              f"synthesize(Path({str(tmp_path)!r}), 'us-east-1')")
    started = [subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=300) for process in started]
    for process, (out, err) in zip(started, outputs, strict=True):
        assert process.returncode == 0, err[-3000:]
        assert "drill.vpc is not set" not in out + err
    assert [SYNTHESIZING in out + err for out, err in outputs].count(True) == 1, outputs
    assert not [w for w in _warnings(tmp_path) if NO_VPC in w]
