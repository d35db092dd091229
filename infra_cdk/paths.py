"""Filesystem anchors, resolved from this file so synth works from any working directory."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT: Path = Path(__file__).resolve().parents[1]
CDK_JSON: Path = REPO_ROOT / "cdk.json"
FUNCTIONS_DIR: Path = REPO_ROOT / "functions"
LAYERS_DIR: Path = REPO_ROOT / "layers"
DEFAULT_OUTDIR: Path = REPO_ROOT / "cdk.out"
