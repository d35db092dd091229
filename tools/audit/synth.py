"""Synthesize the CDK app for the audit: its templates (for cfn-lint) and cdk-nag's per-stack reports.

The app is built as ``make synth`` builds it, cdk-nag included (``infra_cdk.nag.apply_nag``: AwsSolutionsChecks
with cdk-nag's report files on, CSV); CDK's own template validation is skipped because cfn-lint checks the
same templates next. cdk-nag writes ``AwsSolutions-<stack name>-NagReport.csv`` into the cloud assembly: one
per stack, every rule it evaluated with ``Compliant``, ``Non-Compliant`` or ``Suppressed`` (and the reason).
They are copied to ``out/audit/cdk-nag/AwsSolutions-<stack id>-NagReport.csv`` (the stack id names the template).
"""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from tools.audit.scanners import Outcome

NAG_PACK = "AwsSolutions"


@dataclass(frozen=True)
class Synthesized:
    #: region -> the templates of the stacks deployed there
    templates: dict[str, list[Path]]
    nag: Outcome


def synthesize(cdk_out: Path, nag_dir: Path) -> Synthesized:
    """Synth into ``cdk_out``; copy cdk-nag's report files into ``nag_dir`` with an ``index.json`` that names,
    per report, its stack, region and template file, and the logical id of each construct path it mentions
    (what the ledger names a template resource by: ``template:<template file>/<logical id>``)."""
    from infra_cdk.app import build_app

    shutil.rmtree(cdk_out, ignore_errors=True)
    shutil.rmtree(nag_dir, ignore_errors=True)
    nag_dir.mkdir(parents=True)
    assembly = build_app(outdir=cdk_out, cloudformation_validation=False).synth()
    templates: dict[str, list[Path]] = {}
    index: list[dict[str, object]] = []
    missing: list[str] = []
    for stack in assembly.stacks:
        region = stack.environment.region
        templates.setdefault(region, []).append(Path(stack.template_full_path))
        # cdk-nag names the file after the stack name (with its own separator): match on the suffix.
        reports = sorted(cdk_out.glob(f"{NAG_PACK}-*-{stack.stack_name}-NagReport.csv"))
        if not reports:
            missing.append(f"{stack.id}: cdk-nag wrote no report")
            continue
        # Copied under the stack's id, which names its template (<id>.template.json) as the cdk-nag normalizer
        # expects; cdk-nag's own name uses the deployed stack name.
        report = Path(shutil.copy2(reports[0], nag_dir / f"{NAG_PACK}-{stack.id}-NagReport.csv"))
        logical_ids = {m.path.lstrip("/"): str(m.data) for m in stack.find_metadata_by_type("aws:cdk:logicalId")}
        mentioned = {row["Resource ID"] for row in csv.DictReader(report.open(newline=""))}
        index.append({"stack": stack.id, "stack_name": stack.stack_name, "region": region,
                      "template": stack.template_file, "report": report.name,
                      "logical_ids": {path: logical_ids[path] for path in sorted(mentioned) if path in logical_ids}})
    (nag_dir / "index.json").write_text(json.dumps(index, indent=2) + "\n")
    if not index:
        nag = Outcome("cdk-nag", checked=False, reason="cdk-nag wrote no report file for any stack")
    else:
        reports_written = tuple(nag_dir / str(entry["report"]) for entry in index)
        nag = Outcome("cdk-nag", checked=True, reports=reports_written, not_checked=tuple(missing))
    return Synthesized(templates=templates, nag=nag)
