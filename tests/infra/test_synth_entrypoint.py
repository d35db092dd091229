"""The documented synth command works from any working directory and writes every template."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from infra_cdk.paths import REPO_ROOT

pytestmark = pytest.mark.infra


def test_app_script_synthesizes_every_stack_from_another_cwd(tmp_path):
    outdir = tmp_path / "cdk.out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDK_")}
    env.update(JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION="1", CDK_OUTDIR=str(outdir))
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "infra_cdk" / "app.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (outdir / "ChurnGuardOpsFoundation.template.json").is_file()
    assert (outdir / "ChurnGuardOpsBackup.template.json").is_file()
    assert (outdir / "ChurnGuardOpsBackupDr.template.json").is_file()
    assert (outdir / "ChurnGuardOpsDrill.template.json").is_file()
    manifest = json.loads((outdir / "manifest.json").read_text())
    assert manifest["artifacts"]["ChurnGuardOpsBackupDr"]["environment"].endswith("/us-west-2")
