"""The build-time scanners as subprocesses, each turned into an :class:`Outcome`.

An outcome says whether the source really checked what it was given. A scanner that failed, or an advisory
service that could not be reached, is "not checked" with the reason -- never "clean": pip-audit itself prints
"No known vulnerabilities found" and exits 0 when it could audit none of the dependencies.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.audit.lockfile import REPO_ROOT

#: Runs one command (argv) and returns its completed process; tests pass a fake.
Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]

#: What bandit scans: the code that runs in Lambda (the layer's library and the handlers).
BANDIT_TARGETS = ("layers/ops/python", "functions")
#: Seconds per advisory request; pip-audit's default (15 s) per package makes an unreachable service slow.
PIP_AUDIT_TIMEOUT = 10


@dataclass(frozen=True)
class Outcome:
    """One source's run. ``checked`` False: the whole source was not checked (``reason`` says why).
    ``not_checked``: parts a checked source skipped (a dependency without advisory data, a file that did not
    parse), each ``"<what>: <why>"``."""

    source: str
    checked: bool
    reports: tuple[Path, ...] = ()
    reason: str | None = None
    not_checked: tuple[str, ...] = field(default_factory=tuple)

    @property
    def status(self) -> str:
        if not self.checked:
            return "not checked"
        return "partly checked" if self.not_checked else "checked"


def run_command(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """In the repository root, so the reports name files by their repository paths."""
    return subprocess.run(list(argv), cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=600)


def tool(name: str) -> str:
    """A console script of this virtualenv (beside the interpreter), else from PATH, else the bare name."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else shutil.which(name) or name


def failure_reason(result: subprocess.CompletedProcess[str]) -> str:
    """The last line a failed tool wrote (a traceback's last line is its error), or its exit code."""
    lines = [line.strip() for line in (result.stderr or result.stdout or "").splitlines() if line.strip()]
    text = lines[-1] if lines else f"exit code {result.returncode}"
    return text if len(text) <= 300 else text[:297] + "..."


def _read_json(path: Path) -> Any | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def bandit(out_dir: Path, run: Runner = run_command) -> Outcome:
    """``bandit -r <layer> <functions> -f json``: exit 0 (nothing found) or 1 (issues) with a JSON report."""
    report = out_dir / "bandit.json"
    report.unlink(missing_ok=True)
    result = run([tool("bandit"), "-r", *BANDIT_TARGETS, "-f", "json", "-o", str(report), "-q"])
    data = _read_json(report)
    if result.returncode not in (0, 1) or not isinstance(data, dict) or "results" not in data:
        return Outcome("bandit", checked=False, reason=f"bandit failed: {failure_reason(result)}")
    skipped = tuple(f"{e.get('filename', '?')}: {e.get('reason', 'not scanned')}" for e in data.get("errors", []))
    return Outcome("bandit", checked=True, reports=(report,), not_checked=skipped)


def pip_audit(lock: Path, out_dir: Path, run: Runner = run_command) -> Outcome:
    """``pip-audit -r <lock> --no-deps --disable-pip --format json``: the lock's pins against the advisory
    service. Exit 1 also means "vulnerabilities found", so the JSON report, not the exit code, tells."""
    report = out_dir / "pip-audit.json"
    report.unlink(missing_ok=True)
    result = run([tool("pip-audit"), "-r", str(lock), "--no-deps", "--disable-pip", "--format", "json",
                  "-o", str(report), "--progress-spinner", "off", "--timeout", str(PIP_AUDIT_TIMEOUT)])
    data = _read_json(report)
    if not isinstance(data, dict) or not isinstance(data.get("dependencies"), list):
        return Outcome("pip-audit", checked=False, reason=failure_reason(result))
    dependencies = data["dependencies"]
    skipped = tuple(f"{d.get('name', '?')}: {d['skip_reason']}" for d in dependencies if d.get("skip_reason"))
    if dependencies and len(skipped) == len(dependencies):
        # pip-audit ends each reason with ": <name> (<version>)"; the common part says why.
        why = sorted({str(d["skip_reason"]).rsplit(": ", 1)[0] for d in dependencies})
        return Outcome("pip-audit", checked=False, reports=(report,), not_checked=skipped,
                       reason=f"none of the {len(dependencies)} locked dependencies could be audited: {'; '.join(why)}")
    return Outcome("pip-audit", checked=True, reports=(report,), not_checked=skipped)


def cfn_lint(templates: dict[str, list[Path]], out_dir: Path, run: Runner = run_command) -> Outcome:
    """``cfn-lint --format json`` over the synthesized templates, each region's templates in that region.
    ``--non-zero-exit-code none``: findings exit 0, so any other exit code is cfn-lint failing."""
    report = out_dir / "cfn-lint.json"
    report.unlink(missing_ok=True)
    if not templates:
        return Outcome("cfn-lint", checked=False, reason="no synthesized templates to lint")
    matches: list[Any] = []
    for region, paths in sorted(templates.items()):
        result = run([tool("cfn-lint"), "--format", "json", "--non-zero-exit-code", "none", "--regions", region,
                      "--", *(str(p) for p in paths)])
        try:
            found = json.loads(result.stdout or "[]")
        except ValueError:
            found = None
        if result.returncode != 0 or not isinstance(found, list):
            return Outcome("cfn-lint", checked=False, reason=f"cfn-lint failed ({region}): {failure_reason(result)}")
        matches += found
    report.write_text(json.dumps(matches, indent=2) + "\n")
    return Outcome("cfn-lint", checked=True, reports=(report,))
