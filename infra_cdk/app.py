"""CDK entry point: ``python3 -m infra_cdk.app`` (cdk.json) or ``python infra_cdk/app.py``.

Run directly (no CDK CLI), it reads ``cdk.json`` itself and writes ``<repo>/cdk.out``
(or ``$CDK_OUTDIR``), so it works from any working directory and without npx.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Executed as a script (python infra_cdk/app.py): the script's own directory must not be on
    # sys.path (infra_cdk/constructs would shadow the `constructs` library); the repo root must.
    _here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if p and Path(p).resolve() != Path(_here)]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aws_cdk as cdk

from infra_cdk.nag import apply_nag
from infra_cdk.paths import DEFAULT_OUTDIR, cdk_json_context  # noqa: F401  (re-exported for callers)
from infra_cdk.settings import ChurnGuardContext
from infra_cdk.stacks import (
    AlarmsStack,
    BackupDrStack,
    BackupStack,
    CanaryStack,
    CostStack,
    DbAdvisorStack,
    DrillStack,
    FoundationStack,
    IncidentsStack,
    MonitoringStack,
    PerformanceStack,
    SecurityStack,
)
from infra_cdk.stacks.flags_stack import FlagsStack
from infra_cdk.stacks.monitoring_stack import function_names
from infra_cdk.stacks.vulns_stack import VulnsStack

DEFAULT_PRIMARY_REGION = "us-east-1"
FOUNDATION_STACK_ID = "ChurnGuardOpsFoundation"
BACKUP_STACK_ID = "ChurnGuardOpsBackup"
BACKUP_DR_STACK_ID = "ChurnGuardOpsBackupDr"
DRILL_STACK_ID = "ChurnGuardOpsDrill"
CANARY_STACK_ID = "ChurnGuardOpsCanary"
SECURITY_STACK_ID = "ChurnGuardOpsSecurity"
COST_STACK_ID = "ChurnGuardOpsCost"
DBADVISOR_STACK_ID = "ChurnGuardOpsDbAdvisor"
PERFORMANCE_STACK_ID = "ChurnGuardOpsPerformance"
INCIDENTS_STACK_ID = "ChurnGuardOpsIncidents"
ALARMS_STACK_ID = "ChurnGuardOpsAlarms"
MONITORING_STACK_ID = "ChurnGuardOpsMonitoring"
FLAGS_STACK_ID = "ChurnGuardOpsFlags"
VULNS_STACK_ID = "ChurnGuardOpsVulns"


def build_app(
    *,
    outdir: str | os.PathLike[str] | None = None,
    context: Mapping[str, Any] | None = None,
    account: str | None = None,
    region: str | None = None,
    nag: bool = True,
    cloudformation_validation: bool = True,
) -> cdk.App:
    """Create the app with all stacks (not yet synthesized).

    ``context`` overrides cdk.json context keys; the CDK CLI's own context (CDK_CONTEXT_JSON,
    including ``-c`` values) still wins over both. ``account``/``region`` default to
    CDK_DEFAULT_ACCOUNT (else env-agnostic) and CDK_DEFAULT_REGION (else us-east-1).
    """
    app_context = {**cdk_json_context(), **(context or {})}
    resolved_outdir = outdir or os.environ.get("CDK_OUTDIR") or DEFAULT_OUTDIR
    # ``cloudformation_validation``: CDK's built-in template validation (~20 s of a ~22 s synth here); callers
    # whose templates cfn-lint checks anyway (the test session, the embedded default) turn it off.
    app = cdk.App(outdir=str(resolved_outdir), context=app_context,
                  builtin_cloud_formation_validation=cloudformation_validation)

    config = ChurnGuardContext.from_node(app)
    account = account or os.environ.get("CDK_DEFAULT_ACCOUNT")
    primary_region = region or os.environ.get("CDK_DEFAULT_REGION") or DEFAULT_PRIMARY_REGION
    dr_region = config.backup.dr_region
    if primary_region == dr_region:
        raise ValueError(f"backup.dr_region ({dr_region}) must differ from the primary region ({primary_region})")

    dr = BackupDrStack(
        app,
        BACKUP_DR_STACK_ID,
        config=config,
        stack_name=f"{config.prefix}-backup-dr",
        description="ChurnGuard Ops backups, DR region: CMK and bucket for cross-region copies",
        env=cdk.Environment(account=account, region=dr_region),
        cross_region_references=False,
    )
    primary_env = cdk.Environment(account=account, region=primary_region)
    # What every capability shares (layer, ops topic, ops CMK and bucket); capability stacks use it
    # through same-region cross-stack references.
    foundation_stack = FoundationStack(
        app,
        FOUNDATION_STACK_ID,
        config=config,
        stack_name=f"{config.prefix}-foundation",
        description="ChurnGuard Ops foundation: shared Lambda layer, ops SNS topic, ops CMK and bucket",
        env=primary_env,
    )
    foundation = foundation_stack.foundation
    primary = BackupStack(
        app,
        BACKUP_STACK_ID,
        config=config,
        foundation=foundation,
        stack_name=f"{config.prefix}-backup",
        description="ChurnGuard Ops backups: scheduled snapshot/copy/prune Lambda, alarms, dashboard",
        env=primary_env,
    )
    primary.add_stack_dependency(dr, "the DR key alias and bucket must exist before the first tick")
    primary.add_stack_dependency(foundation_stack, "the layer, bucket, CMK and topic it uses")
    drill = DrillStack(
        app,
        DRILL_STACK_ID,
        config=config,
        foundation=foundation,
        stack_name=f"{config.prefix}-drill",
        description="ChurnGuard Ops restore drills: weekly Step Functions drill, task Lambdas, sweeper, history",
        env=primary_env,
    )
    drill.add_stack_dependency(dr, "drills of DR copies use the DR key alias")
    drill.add_stack_dependency(foundation_stack, "the layer, bucket, CMK and topic it uses")
    # Before the canary stack: a flag rollout is a canary release whose shifter deploys this stack's flag profile.
    flags = FlagsStack(
        app,
        FLAGS_STACK_ID,
        config=config,
        foundation=foundation,
        stack_name=f"{config.prefix}-flags",
        description="ChurnGuard Ops feature flags: AppConfig flag profile per environment, evaluate function, alarms",
        env=primary_env,
    )
    flags.add_stack_dependency(foundation_stack, "the layer and topic it uses")
    canary = CanaryStack(
        app,
        CANARY_STACK_ID,
        config=config,
        foundation=foundation,
        flags=flags.target,
        stack_name=f"{config.prefix}-canary",
        description="ChurnGuard Ops canary gates: release state machine, alarm-driven abort, release lock",
        env=primary_env,
    )
    canary.add_stack_dependency(foundation_stack, "the layer, bucket, CMK and topic it uses")
    canary.add_stack_dependency(flags, "flag releases deploy the flag profile's versions to its environments")
    security = SecurityStack(
        app,
        SECURITY_STACK_ID,
        config=config,
        foundation=foundation,
        stack_name=f"{config.prefix}-security",
        description="ChurnGuard Ops security analysis: event queue, detectors, alerts, WAF remediation, reports",
        env=primary_env,
    )
    security.add_stack_dependency(foundation_stack, "the layer, bucket, CMK and topic it uses")
    cost = CostStack(
        app,
        COST_STACK_ID,
        config=config,
        foundation=foundation,
        stack_name=f"{config.prefix}-cost",
        description="ChurnGuard Ops cost reports: weekly costs, utilisation and savings with their maths",
        env=primary_env,
    )
    cost.add_stack_dependency(foundation_stack, "the layer, bucket, CMK and topic it uses")
    dbadvisor = DbAdvisorStack(
        app,
        DBADVISOR_STACK_ID,
        config=config,
        foundation=foundation,
        stack_name=f"{config.prefix}-dbadvisor",
        description="ChurnGuard Ops PostgreSQL advisor: weekly index, query and health advice with the SQL to apply",
        env=primary_env,
    )
    dbadvisor.add_stack_dependency(foundation_stack, "the layer, bucket, CMK and topic it uses")
    performance = PerformanceStack(
        app,
        PERFORMANCE_STACK_ID,
        config=config,
        foundation=foundation,
        stack_name=f"{config.prefix}-performance",
        description="ChurnGuard Ops performance: graded, deduplicated threshold alerts and reports over any window",
        env=primary_env,
    )
    performance.add_stack_dependency(foundation_stack, "the layer, bucket, CMK and topic it uses")
    incidents = IncidentsStack(
        app,
        INCIDENTS_STACK_ID,
        config=config,
        foundation=foundation,
        stack_name=f"{config.prefix}-incidents",
        description="ChurnGuard Ops incidents: grouped from alarms, timelines, escalation, auto-resolve, postmortems",
        env=primary_env,
    )
    incidents.add_stack_dependency(foundation_stack, "the layer, bucket, CMK and topic it uses")
    cdk.Tags.of(incidents).add("Capability", "incidents")
    alarms = AlarmsStack(
        app,
        ALARMS_STACK_ID,
        config=config,
        foundation=foundation,
        stack_name=f"{config.prefix}-alarms",
        description="ChurnGuard Ops alarm router: alarm state changes to notifications, incidents, backups, aborts",
        env=primary_env,
    )
    alarms.add_stack_dependency(foundation_stack, "the layer, bucket, CMK and topic it uses")
    vulns = VulnsStack(
        app,
        VULNS_STACK_ID,
        config=config,
        foundation=foundation,
        stack_name=f"{config.prefix}-vulns",
        description="ChurnGuard Ops vulnerability management: one ledger of Inspector and build-time findings, SLA "
                    "clocks, exceptions that expire, weekly reports",
        env=primary_env,
    )
    vulns.add_stack_dependency(foundation_stack, "the layer, bucket (and its EventBridge notifications), CMK and topic")
    # Built after the capability stacks: the overview graphs the errors of every ops function built before it
    # in the primary region (a dashboard widget reads its own region's metrics).
    monitoring = MonitoringStack(
        app,
        MONITORING_STACK_ID,
        config=config,
        foundation=foundation,
        ops_functions=function_names(s for s in app.node.children
                                     if isinstance(s, cdk.Stack) and s.region == primary_region),
        stack_name=f"{config.prefix}-monitoring",
        description="ChurnGuard Ops monitoring: the seed's alerting rules as alarms, the operations and application "
                    "dashboards",
        env=primary_env,
    )
    monitoring.add_stack_dependency(foundation_stack, "the topic its alarms notify")

    cdk.Tags.of(app).add("Project", config.prefix)
    for stack, capability in ((foundation_stack, "foundation"), (dr, "backup"), (primary, "backup"),
                              (drill, "drill"), (canary, "canary"), (security, "security"),
                              (cost, "cost"), (performance, "performance"), (dbadvisor, "dbadvisor"),
                              (alarms, "alarms"), (monitoring, "monitoring"), (flags, "flags"),
                              (vulns, "vulns")):
        cdk.Tags.of(stack).add("Capability", capability)
    if nag:
        apply_nag(app)
    return app


def main() -> None:
    build_app().synth()


if __name__ == "__main__":
    main()
