"""Filesystem anchors, resolved from this file so synth works from any working directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO_ROOT: Path = Path(__file__).resolve().parents[1]
CDK_JSON: Path = REPO_ROOT / "cdk.json"
FUNCTIONS_DIR: Path = REPO_ROOT / "functions"
LAYERS_DIR: Path = REPO_ROOT / "layers"
DEFAULT_OUTDIR: Path = REPO_ROOT / "cdk.out"


def cdk_json_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """The ``context`` of cdk.json (no CDK import, so tools can read the configuration cheaply)."""
    return dict(json.loads(path.read_text()).get("context", {}))
