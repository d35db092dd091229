"""``make audit``: bandit, pip-audit, cdk-nag and cfn-lint on this repository; reports and a summary in ``out/audit/``.

Writes ``bandit.json``, ``pip-audit.json``, ``cdk-nag/`` (cdk-nag's per-stack NagReport files and an index),
``cfn-lint.json``, the synthesized ``cdk.out/`` they were taken from, ``build/<source>.json`` (each source's
build report as the ledger ingests it from the ops bucket) and ``summary.md`` / ``summary.json``.
Exit 1 when the exceptions file is invalid (an unscoped or expired exception) or the layer lock is out of date
with its requirements; findings themselves do not fail the build (the ledger's SLA clocks judge them), and a
scanner that could not check is reported "not checked", never clean.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from churnguard_ops.core.clock import utcnow
from churnguard_ops.vulns.exceptions import FILE_NAME, load_exceptions
from tools.audit.findings import build_report, scan_of
from tools.audit.lockfile import LOCK, REPO_ROOT, LockError, check
from tools.audit.scanners import Outcome, bandit, cfn_lint, pip_audit
from tools.audit.summary import LockStatus, build, markdown
from tools.audit.synth import synthesize


def _repo_path(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def _lock_status() -> LockStatus:
    try:
        return LockStatus(_repo_path(LOCK), len(check()))
    except LockError as exc:
        return LockStatus(_repo_path(LOCK), 0, problem=str(exc))


def _line(source: dict[str, Any]) -> str:
    if source["status"] == "not checked":
        return f"  {source['source']:<10} not checked ({source['reason']})"
    severities = ", ".join(f"{k} {v}" for k, v in source["by_severity"].items())
    text = f"  {source['source']:<10} {source['status']}: {source['findings']} findings"
    if source["findings"]:
        text += f" ({severities}): {source['excepted']} excepted, {source['open']} open"
    if source["not_checked"]:
        text += f"; {len(source['not_checked'])} part(s) not checked"
    return text


def _scan(out: Path, lock: LockStatus) -> tuple[list[Outcome], list[str]]:
    """Every source's outcome (bandit, pip-audit, cdk-nag, cfn-lint) and the templates cfn-lint linted."""
    templates: list[str] = []
    # bandit and pip-audit are subprocesses: they run while this process synthesizes the app.
    with ThreadPoolExecutor(max_workers=2) as pool:
        bandit_run = pool.submit(bandit, out)
        pip_audit_run = pool.submit(pip_audit, LOCK, out) if lock.problem is None else None
        try:
            synthesized = synthesize(out / "cdk.out", out / "cdk-nag")
        except Exception as exc:  # a broken synth is reported; the other sources still count
            reason = f"the CDK app did not synthesize: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            nag = Outcome("cdk-nag", checked=False, reason=reason)
            lint = Outcome("cfn-lint", checked=False, reason=reason)
        else:
            nag = synthesized.nag
            by_region = {region: [Path(_repo_path(p)) for p in paths]
                         for region, paths in synthesized.templates.items()}
            templates = [str(p) for paths in by_region.values() for p in paths]
            lint = cfn_lint(by_region, out)
        dependencies = (pip_audit_run.result() if pip_audit_run else
                        Outcome("pip-audit", checked=False, reason=f"no usable lock: {lock.problem}"))
        return [bandit_run.result(), dependencies, nag, lint], templates


def _print(summary: dict[str, Any], out: Path) -> None:
    print(f"audit: {_repo_path(out / 'summary.md')} ({summary['seconds']} s)")
    for source in summary["sources"]:
        print(_line(source))
    ex = summary["exceptions"]
    print(f"  exceptions {ex['active']} active, " + ("valid" if ex["valid"] else "INVALID")
          + f"; expiring within 14 days: {len(ex['expiring_within_14_days'])}")
    for problem in [*ex["problems"], *([summary["lock"]["problem"]] if summary["lock"]["problem"] else [])]:
        print(f"audit: {problem}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make audit", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "out" / "audit", help="report folder")
    parser.add_argument("--exceptions", type=Path, default=REPO_ROOT / FILE_NAME, help="the exceptions file")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    scanned_at = utcnow()
    lock = _lock_status()
    exceptions = load_exceptions(args.exceptions, scanned_at.date())
    outcomes, templates = _scan(out, lock)
    # What the next step uploads for the ledger (one object per source), and the ledger's reading of it.
    (out / "build").mkdir(exist_ok=True)
    scans = {}
    for outcome in outcomes:
        document = build_report(outcome, scanned_at, templates=templates)
        (out / "build" / f"{outcome.source}.json").write_text(json.dumps(document) + "\n")
        scans[outcome.source] = scan_of(document)
    summary = build(outcomes, scans, exceptions, lock, generated_at=scanned_at, today=scanned_at.date())
    summary["seconds"] = round(time.monotonic() - started, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "summary.md").write_text(markdown(summary))
    _print(summary, out)
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
