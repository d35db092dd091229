"""The shared ``churnguard_ops`` Lambda layer, bundled locally (no Docker).

``layers/ops/requirements.lock`` (``make lock`` writes it from ``requirements.txt``) is installed
with pip for the Lambda platform (manylinux wheels for arm64 and the function runtime's CPython
version) without dependency resolution, so the layer ships exactly what ``make audit`` audits; a
layer directory without a lock installs its ``requirements.txt``. Then the ``churnguard_ops``
package is copied next to it under ``python/`` -- the layout Lambda puts on ``sys.path`` (``/opt/python``).

Re-synth cost: the asset hash is the SOURCE fingerprint of ``layers/ops`` (plus the bundling
options), so a synth into an outdir that already holds ``asset.<hash>`` does not bundle at all.
When only library code changed, the pip step is skipped too: installed dependencies are kept
per requirements digest in ``$XDG_CACHE_HOME/churnguard-ops/layer-deps/`` (default
``~/.cache``; set ``CHURNGUARD_LAYER_CACHE`` to move it, or to ``off`` to disable it), and pip's
own wheel cache keeps a changed requirements file fast.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra_cdk.paths import LAYERS_DIR

LAMBDA_RUNTIME: lambda_.Runtime = lambda_.Runtime.PYTHON_3_14
LAMBDA_ARCHITECTURE: lambda_.Architecture = lambda_.Architecture.ARM_64

# Lambda's python3.12+ runtimes run on Amazon Linux 2023 (glibc 2.34): manylinux_2_28 wheels
# are fine there, and some pinned packages (psycopg2-binary 2.9.13 for cp314) ship only those.
PIP_PLATFORMS: tuple[str, ...] = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")

# Provided by the Lambda Python runtime; aws-xray-sdk pulls botocore in transitively, and a
# second copy in /opt/python would shadow the runtime's and mismatch its boto3.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")

# Bump when the bundling steps change in a way that changes the layer's content.
_BUNDLER_VERSION = "2"

_SOURCE_EXCLUDES = ["**/__pycache__", "**/*.pyc", "**/*.egg-info", "**/.pytest_cache"]


def runtime_python_version(runtime: lambda_.Runtime) -> str:
    """``python3.14`` -> ``3.14``."""
    name = runtime.name
    if not name.startswith("python"):
        raise ValueError(f"not a Python runtime: {name}")
    return name.removeprefix("python")


def pip_install_command(requirements: Path, target: Path, python_version: str, *, no_deps: bool = False) -> list[str]:
    """``no_deps``: ``requirements`` is a complete lock (every distribution pinned), installed as it is."""
    cmd = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
           "--requirement", str(requirements), "--target", str(target),
           "--only-binary=:all:", "--implementation", "cp", "--python-version", python_version,
           "--no-compile"]
    if no_deps:
        cmd.append("--no-deps")
    for platform in PIP_PLATFORMS:
        cmd += ["--platform", platform]
    return cmd


@jsii.implements(ILocalBundling)
class _PipLocalBundling:
    """Local bundler: pip for the Lambda platform + copy of the library; never falls back to Docker."""

    def __init__(self, source_dir: Path, package: str, python_version: str) -> None:
        self._source_dir = source_dir
        self._package = package
        self._python_version = python_version

    # jsii passes BundlingOptions expanded as keyword arguments; none of them are needed here.
    def try_bundle(self, output_dir: str, *_args: Any, **_kwargs: Any) -> bool:
        target = Path(output_dir) / "python"
        target.mkdir(parents=True, exist_ok=True)
        requirements = layer_requirements(self._source_dir)
        if requirements is not None:
            cache_root = _dependency_cache_root()
            if cache_root is None:
                _pip_install(requirements, target, self._python_version, self._package)
            else:
                deps = self._cached_dependencies(requirements, cache_root)
                shutil.copytree(deps, target, dirs_exist_ok=True, symlinks=True)
        shutil.copytree(
            self._source_dir / "python" / self._package,
            target / self._package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            dirs_exist_ok=True,
        )
        return True

    def _cached_dependencies(self, requirements: Path, cache_root: Path) -> Path:
        """The requirements installed for Lambda, keyed by their text and the target platform.

        Ranges in requirements.txt resolve once per key; change the file (or clear the cache)
        to pick up newer releases.
        """
        key = hashlib.sha256(
            "\n".join([requirements.name, requirements.read_text(), self._python_version, *PIP_PLATFORMS,
                       *RUNTIME_PROVIDED]).encode()
        ).hexdigest()[:32]
        cached = cache_root / key
        if cached.is_dir():
            return cached
        work = Path(tempfile.mkdtemp(prefix=".partial-", dir=cache_root))
        try:
            _pip_install(requirements, work, self._python_version, self._package)
            work.rename(cached)
        except OSError:
            if not cached.is_dir():
                raise
        finally:  # a failed install, or a concurrent synth that finished first (same content)
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)
        return cached


def layer_requirements(source_dir: Path) -> Path | None:
    """What the layer installs: its lock when there is one, else its requirements.txt (None: neither)."""
    for name in ("requirements.lock", "requirements.txt"):
        if (source_dir / name).is_file():
            return source_dir / name
    return None


def _dependency_cache_root() -> Path | None:
    setting = os.environ.get("CHURNGUARD_LAYER_CACHE")
    if setting and setting.lower() in {"0", "off", "false", "no"}:
        return None
    if setting:
        root = Path(setting)
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "churnguard-ops" / "layer-deps"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return root


def _pip_install(requirements: Path, target: Path, python_version: str, package: str) -> None:
    env = {**os.environ, "PIP_NO_INPUT": "1"}
    result = subprocess.run(
        pip_install_command(requirements, target, python_version, no_deps=requirements.suffix == ".lock"),
        env=env, capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"pip install for the {package} layer failed:\n{result.stderr[-4000:]}")
    for name in RUNTIME_PROVIDED:
        for path in [*target.glob(name), *target.glob(f"{name}-*.dist-info")]:
            shutil.rmtree(path, ignore_errors=True)
    shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts are useless in a layer


class SharedLayer(Construct):
    """``layers/<name>/`` as a Lambda layer for the given runtime and architecture."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        layer_name: str,
        source_dir: Path | None = None,
        package: str = "churnguard_ops",
        runtime: lambda_.Runtime = LAMBDA_RUNTIME,
        architecture: lambda_.Architecture = LAMBDA_ARCHITECTURE,
    ) -> None:
        super().__init__(scope, construct_id)
        source_dir = source_dir or (LAYERS_DIR / "ops")
        self.source_dir = source_dir
        python_version = runtime_python_version(runtime)
        code = lambda_.Code.from_asset(
            str(source_dir),
            asset_hash_type=AssetHashType.SOURCE,
            exclude=_SOURCE_EXCLUDES,
            bundling=BundlingOptions(
                # Never used: local bundling always succeeds or raises. CDK requires an image.
                image=DockerImage.from_registry("local-bundling-only"),
                local=_PipLocalBundling(source_dir, package, python_version),
                command=["false"],
                # Not used by the local bundler; it folds the bundler's own settings (which the
                # source fingerprint cannot see) into the asset hash.
                environment={
                    "CHURNGUARD_LAYER_BUNDLER": ":".join(
                        [_BUNDLER_VERSION, python_version, ",".join(PIP_PLATFORMS), ",".join(RUNTIME_PROVIDED)]
                    )
                },
            ),
        )
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            layer_version_name=layer_name,
            code=code,
            compatible_runtimes=[runtime],
            compatible_architectures=[architecture],
            description=f"{package} shared library and its dependencies ({runtime.name}, {architecture.name})",
            removal_policy=RemovalPolicy.RETAIN,
        )
