"""cfn-lint over every synthesized template: no errors (warnings are reported, not failed)."""

from __future__ import annotations

import json

import pytest
from cfnlint.api import ManualArgs, lint_file

pytestmark = pytest.mark.infra

#: One line per stack the app synthesizes (a stack added to the app is added here).
EXPECTED_STACKS = {
    "ChurnGuardOpsFoundation",
    "ChurnGuardOpsBackup",
    "ChurnGuardOpsBackupDr",
    "ChurnGuardOpsDrill",
    "ChurnGuardOpsCanary",
    "ChurnGuardOpsSecurity",
    "ChurnGuardOpsCost",
    "ChurnGuardOpsPerformance",
    "ChurnGuardOpsDbAdvisor",
    "ChurnGuardOpsIncidents",
    "ChurnGuardOpsMonitoring",
    "ChurnGuardOpsAlarms",
    "ChurnGuardOpsFlags",
    "ChurnGuardOpsVulns",
}


def test_cfn_lint_finds_no_errors_in_any_template(synth):
    manifest = json.loads((synth.outdir / "manifest.json").read_text())
    stacks = {
        name: artifact for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    assert set(stacks) == EXPECTED_STACKS
    problems: dict[str, list[str]] = {}
    for artifact in stacks.values():
        region = artifact["environment"].rsplit("/", 1)[1]
        template = synth.outdir / artifact["properties"]["templateFile"]
        matches = lint_file(template, config=ManualArgs(regions=[region]))
        for m in matches:
            problems.setdefault(m.rule.id[0], []).append(f"{template.name}:{m.linenumber} {m.rule.id} {m.message}")
    for warning in problems.get("W", []) + problems.get("I", []):
        print("cfn-lint:", warning)
    assert problems.get("E", []) == []
