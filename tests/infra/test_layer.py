"""The shared layer is bundled locally (no Docker) for Lambda's platform, and only when needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra_cdk import layer as layer_mod
from infra_cdk.layer import LAMBDA_RUNTIME, PIP_PLATFORMS, pip_install_command, runtime_python_version

from .infra_helpers import only

pytestmark = pytest.mark.infra


def _layer_asset_dir(synth) -> Path:
    resources = synth.template_json(synth.foundation)["Resources"]
    _, layer = only(resources, "AWS::Lambda::LayerVersion")
    asset_hash = layer["Properties"]["Content"]["S3Key"].removesuffix(".zip")
    return synth.outdir / f"asset.{asset_hash}"


def test_pip_targets_the_function_runtime_on_linux_arm64():
    cmd = pip_install_command(Path("requirements.txt"), Path("out/python"), runtime_python_version(LAMBDA_RUNTIME))
    assert cmd[cmd.index("--python-version") + 1] == "3.14"
    assert [cmd[i + 1] for i, a in enumerate(cmd) if a == "--platform"] == list(PIP_PLATFORMS)
    assert all(p.endswith("_aarch64") for p in PIP_PLATFORMS)
    assert "--only-binary=:all:" in cmd and cmd[cmd.index("--implementation") + 1] == "cp"


def test_layer_bundle_holds_the_library_and_arm64_cpython_wheels(synth):
    python = _layer_asset_dir(synth) / "python"
    assert (python / "churnguard_ops" / "__init__.py").is_file()
    assert (python / "aws_lambda_powertools").is_dir()
    native = [p.name for p in (python / "pydantic_core").glob("*.so")]
    assert native and all("cpython-314-aarch64-linux-gnu" in n for n in native), native
    assert not (python / "botocore").exists(), "botocore comes with the runtime"
    assert not list(python.rglob("__pycache__"))


def test_layer_asset_is_never_built_with_docker(synth):
    assets = json.loads((synth.outdir / "ChurnGuardOpsFoundation.assets.json").read_text())
    assert assets.get("dockerImages", {}) == {}


def test_second_synth_into_the_same_outdir_does_not_bundle_again(synth, monkeypatch):
    from infra_cdk.app import build_app

    def must_not_run(self, *args, **kwargs):
        raise AssertionError("layer was bundled again although asset.<hash> already exists")

    monkeypatch.setattr(layer_mod._PipLocalBundling, "try_bundle", must_not_run)
    build_app(outdir=synth.outdir, region="us-east-1", nag=False).synth()
    assert _layer_asset_dir(synth).is_dir()


def test_a_failing_bundler_fails_the_synth(tmp_path, monkeypatch):
    """Guards the test above: an exception in try_bundle does surface (it is not swallowed)."""
    from infra_cdk.app import build_app

    def broken(self, *args, **kwargs):
        raise RuntimeError("pip exploded")

    monkeypatch.setattr(layer_mod._PipLocalBundling, "try_bundle", broken)
    with pytest.raises(Exception, match="pip exploded|Failed to bundle"):
        build_app(outdir=tmp_path, region="us-east-1", nag=False).synth()
