"""Regenerate ``layers/ops/requirements.lock`` (``make lock``): every distribution the layer ships, pinned.

pip resolves requirements.txt exactly as the layer bundler installs it (``infra_cdk.layer``: the function
runtime's CPython, manylinux aarch64 wheels only) in a dry run, and its installation report names what it
would install. What the Lambda runtime provides (boto3, botocore, s3transfer) is left out, as the bundler
drops it. The layer installs the lock with ``--no-deps``, so what ships is what pip-audit audits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import Version

from tools.audit.lockfile import LOCK, REQUIREMENTS, check


def resolve(requirements: Path) -> dict[str, Version]:
    """What pip would install for the layer's platform: canonical name -> version."""
    from infra_cdk.layer import LAMBDA_RUNTIME, RUNTIME_PROVIDED, pip_install_command, runtime_python_version

    with tempfile.TemporaryDirectory(prefix="layer-lock-") as work:
        report = Path(work) / "report.json"
        cmd = pip_install_command(requirements, Path(work) / "target", runtime_python_version(LAMBDA_RUNTIME))
        cmd += ["--dry-run", "--ignore-installed", "--report", str(report)]
        result = subprocess.run(cmd, env={**os.environ, "PIP_NO_INPUT": "1"}, capture_output=True, text=True,
                                check=False)
        if result.returncode != 0:
            raise SystemExit(f"pip could not resolve {requirements.name}:\n{result.stderr[-4000:]}")
        installs = json.loads(report.read_text())["install"]
    provided = {canonicalize_name(n) for n in RUNTIME_PROVIDED}
    pins = {canonicalize_name(i["metadata"]["name"]): Version(i["metadata"]["version"]) for i in installs}
    return {name: version for name, version in pins.items() if name not in provided}


def render(pins: dict[str, Version]) -> str:
    from infra_cdk.layer import LAMBDA_RUNTIME, PIP_PLATFORMS, RUNTIME_PROVIDED

    header = [
        "# Every distribution the ops layer ships, pinned: `make lock` writes this file from requirements.txt",
        f"# for {LAMBDA_RUNTIME.name} on {', '.join(PIP_PLATFORMS)}; do not edit it by hand.",
        f"# The Lambda runtime provides {', '.join(RUNTIME_PROVIDED)}: they are not shipped, so not listed.",
        "# infra_cdk/layer.py installs exactly these (--no-deps); make audit runs pip-audit on them.",
    ]
    return "\n".join([*header, *(f"{name}=={pins[name]}" for name in sorted(pins))]) + "\n"


def main() -> int:
    LOCK.write_text(render(resolve(REQUIREMENTS)))
    pins = check()
    print(f"{LOCK.relative_to(Path.cwd()) if LOCK.is_relative_to(Path.cwd()) else LOCK}: {len(pins)} distributions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
