"""The GitHub Actions workflows: actionlint-clean, and the release pipeline keeps its gates.

actionlint is a dev dependency (a binary wheel from PyPI), installed next to this interpreter; the
workflows cannot run here, so linting them is how the tests hold them to account. No CDK synth here.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra_cdk.paths import REPO_ROOT

pytestmark = pytest.mark.infra

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
RELEASE = WORKFLOWS / "release.yml"
DEPLOY_JOBS = {"deploy-staging": "staging", "deploy-production": "production"}


def _actionlint() -> str | None:
    beside_python = Path(sys.executable).parent / "actionlint"
    if beside_python.is_file():
        return str(beside_python)
    return shutil.which("actionlint")


def _workflow(path: Path = RELEASE) -> dict[Any, Any]:
    # PyYAML reads the bare key `on:` as the boolean True (YAML 1.1).
    return yaml.safe_load(path.read_text())


def _jobs() -> dict[str, dict[str, Any]]:
    return _workflow()["jobs"]


def _runs(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in job.get("steps", []) if "run" in step]


def _uses(job: dict[str, Any]) -> list[str]:
    return [step["uses"] for step in job.get("steps", []) if "uses" in step]


def test_actionlint_finds_nothing() -> None:
    actionlint = _actionlint()
    assert actionlint is not None, "actionlint is a dev dependency (make setup installs it)"
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert files, "no workflows"
    result = subprocess.run([actionlint, "-no-color", *files], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=120, check=False)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_release_runs_on_main_and_by_hand() -> None:
    triggers = _workflow()[True]
    assert triggers["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in triggers


def test_test_job_runs_the_readme_test_command() -> None:
    job = _jobs()["test"]
    assert "make test" in _runs(job)
    assert any(u.startswith("actions/setup-python@") for u in _uses(job))
    setup_python = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python@"))
    assert setup_python["with"]["cache"] == "pip"


def test_jobs_are_chained_test_synth_staging_production() -> None:
    jobs = _jobs()
    assert jobs["synth"]["needs"] == "test"
    assert jobs["deploy-staging"]["needs"] == "synth"
    assert jobs["deploy-production"]["needs"] == "deploy-staging"


def test_synth_lints_and_uploads_the_assembly_the_deploys_download() -> None:
    jobs = _jobs()
    synth = jobs["synth"]
    runs = "\n".join(_runs(synth))
    assert "make synth" in runs and "cfn-lint" in runs
    assert any(u.startswith("actions/upload-artifact@") for u in _uses(synth))
    for name in DEPLOY_JOBS:
        assert any(u.startswith("actions/download-artifact@") for u in _uses(jobs[name])), name
        assert any("deploy --app cdk.out --all --require-approval never" in r for r in _runs(jobs[name])), name


def test_every_job_has_a_timeout() -> None:
    for name, job in _jobs().items():
        assert isinstance(job.get("timeout-minutes"), int), name


def test_oidc_token_only_for_deploy_jobs_and_no_default_permissions() -> None:
    workflow = _workflow()
    assert workflow["permissions"] == {}
    for name, job in workflow["jobs"].items():
        permissions = job["permissions"]
        if name in DEPLOY_JOBS:
            assert permissions == {"id-token": "write", "contents": "read"}, name
        else:
            assert permissions == {"contents": "read"}, name


def test_deploy_jobs_use_their_environment_oidc_role_and_never_overlap() -> None:
    jobs = _jobs()
    for name, environment in DEPLOY_JOBS.items():
        job = jobs[name]
        assert job["environment"]["name"] == environment
        assert job["concurrency"] == {"group": f"churnguard-release-{environment}", "cancel-in-progress": False}
        creds = next(s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@"))
        assert creds["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
        assert not any(k.startswith("aws-") and "key" in k for k in creds["with"]), "no long-lived keys"


def test_deploy_jobs_release_the_published_version_through_a_canary() -> None:
    for name in DEPLOY_JOBS:
        job = _jobs()[name]
        runs = "\n".join(_runs(job))
        assert "aws lambda publish-version" in runs, name
        canary = next(s for s in job["steps"] if "opsctl canary run" in s.get("run", ""))
        assert '--alias "${CANARY_ALIAS}"' in canary["run"] and job["env"]["CANARY_ALIAS"] == "live"
        assert canary["env"]["VERSION"] == "${{ steps.version.outputs.version }}"
        # A rollback is opsctl's non-zero exit: nothing may swallow it.
        assert "continue-on-error" not in canary and "|| true" not in canary["run"]


def test_actions_are_pinned_to_a_major_version_or_sha() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        for job in _workflow(path)["jobs"].values():
            for uses in _uses(job):
                _, _, ref = uses.partition("@")
                assert ref.startswith("v") and ref[1:].split(".")[0].isdigit() or len(ref) == 40, (path.name, uses)
