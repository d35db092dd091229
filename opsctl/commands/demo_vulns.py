"""Demo step of vulnerability management: the pretend account (:mod:`opsctl.vulns_world`) and this repository's
bandit and pip-audit runs through the deployed vulns functions, then the ledger and the report checked.

One step (the demo's time budget is tight): the layer CVE Inspector reports on two functions is one finding on
``layer:ops``; one high finding 40 days old is past its 30-day SLA; one exception expires within 14 days; an
expired one reopened the finding it covered, saying why; the function Inspector stopped scanning is named.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from churnguard_ops.vulns.adapters_ledger import DynamoLedger
from opsctl.commands.demo_steps import Step
from opsctl.commands.vuln import coverage_gaps, reopened_by_expiry, run_local, save, summary_lines
from opsctl.vulns_world import BREACH_DAYS, EXPIRING_IN_DAYS, STALE_REASON


def _one(items: list[dict[str, Any]], vuln_id: str) -> list[dict[str, Any]]:
    return [f for f in items if f["vuln_id"] == vuln_id]


def vulns_ledger(env: Any, out: str | None) -> Step:
    started = time.monotonic()
    step = Step("Vulnerability ledger: Inspector (seeded), bandit and pip-audit (this repository) -> one ledger with "
                "SLA clocks and expiring exceptions")
    try:
        run = run_local(env)
    except Exception as exc:  # the step fails, saying why; the demo's other steps still run
        step.expect("the vulns functions are deployed and the local run completed", False,
                    f"{type(exc).__name__}: {exc}")
        return step
    report, world = run.report, run.world
    failed = [s for s in [*run.steps, run.invoked] if not s.ok]
    step.expect("poll (twice), ingest_build (each build report) and report ran; the report was written",
                not failed and report is not None,
                "; ".join(f"{s.function}: {s.error}" for s in failed) or str(run.invoked.payload.get("locations")))
    if report is None or world is None:
        return step
    for line in summary_lines(run.invoked.payload, report):
        print(f"    {line}")
    ledger = DynamoLedger(world.deployed.table, world.deployed.region)

    layer = _one(list(report["findings"]), "CVE-2026-41001")
    entry = ledger.get(layer[0]["key"]) if len(layer) == 1 else None
    arns = entry.reporting.get("inspector", ()) if entry else ()
    step.expect("the critical urllib3 CVE Inspector reports on 2 functions is ONE finding on layer:ops (both "
                "findings tracked on it)", len(layer) == 1 and layer[0]["resource"] == "layer:ops"
                and len(arns) == 2, f"{len(layer)} finding(s), sources {layer[0]['sources'] if layer else []}, "
                f"{len(arns)} Inspector finding(s) on it ({world.functions['critical']}, "
                f"{world.functions['critical_2']})")
    breaches = report["sla_breaches"]
    step.expect(f"one SLA breach: the high requests CVE first seen {BREACH_DAYS} days ago (high: 30 days)",
                [(f["vuln_id"], f["severity"], f["days_open"]) for f in breaches]
                == [("CVE-2026-41002", "high", BREACH_DAYS)],
                ", ".join(f"{f['vuln_id']} {f['severity']} {f['days_open']} days" for f in breaches) or "none")
    expiring = report["expiring_exceptions"]
    code = _one(list(report["findings"]), world.expiring["id"])
    step.expect(f"one exception expiring within 14 days ({EXPIRING_IN_DAYS} days left), its finding excepted",
                [(e["id"], e["days_left"]) for e in expiring] == [(world.expiring["id"], EXPIRING_IN_DAYS)]
                and [f["state"] for f in code] == ["excepted"],
                ", ".join(f"{e['id']} on {e['resource']} until {e['expires']}" for e in expiring) or "none")
    reopened = reopened_by_expiry(report)
    history = ledger.get(reopened[0][0]["key"]).history if len(reopened) == 1 else ()  # type: ignore[union-attr]
    why = history[-1].why if history else ""
    step.expect("the expired exception reopened the finding it covered, saying why",
                len(reopened) == 1 and why == f"exception {world.expired['id']} expired on {world.expired['expires']}"
                and [h.state for h in history][-2:] == ["excepted", "reopened"], why or "nothing reopened")
    gaps = coverage_gaps(report)
    step.expect(f"the coverage gap: {world.stale_function} is not scanned by Inspector ({STALE_REASON})",
                [g["resource"] for g in gaps] == [f"function:{world.stale_function}"]
                and STALE_REASON in gaps[0]["reason"], "; ".join(f"{g['resource']}: {g['reason']}" for g in gaps))
    fixed = [e for e in ledger.query(states=["fixed"]) if e.finding.vuln_id == "CVE-2026-41003"]
    step.expect("the finding Inspector closed between the two polls is fixed", len(fixed) == 1,
                fixed[0].history[-1].why if fixed else "not fixed")
    statuses = {s["source"]: s for s in report["sources"]}
    scanned = {b["source"]: b for b in run.build}
    agree = all((statuses[s]["status"] == "not checked") == (scanned[s]["status"] == "not checked") for s in scanned)
    step.expect("bandit and pip-audit ran for real, each build report ingested; the report says 'not checked' "
                "exactly where a scanner could not check (never clean)",
                set(scanned) == {"bandit", "pip-audit"} and agree
                and all(statuses[s]["last_scan_at"] for s in scanned),
                "; ".join(f"{s}: {b['status']}" + (f" ({b['reason'][:90]})" if b.get("reason") else "")
                          + f", ingested by {b['ingested_by']}" for s, b in scanned.items()))
    folder = Path(out or Path(__file__).resolve().parents[2] / ".opsctl" / "demo") / "vulns"
    paths = save(run, str(folder))
    step.expect("report.json, report.md and report.sarif copied, the summary written",
                {"report.json", "report.md", "report.sarif", "summary"} <= set(paths), str(folder.resolve()))
    print(f"    step duration: {time.monotonic() - started:.1f} s")
    return step


VULNS_SCENARIOS = [vulns_ledger]
