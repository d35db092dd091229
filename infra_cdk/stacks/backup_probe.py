"""The recoverability probe: every few minutes, restorable lag and posture of each configured instance.

A separate function from the backup tick: it only describes the configured instances (no snapshot,
tag, key or bucket rights), and its own schedule lets the lag alarm see a missed RPO within minutes.
"""
from __future__ import annotations

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets

from infra_cdk.constructs import Foundation, OpsFunction
from infra_cdk.constructs.grants import RoleGrants
from infra_cdk.paths import FUNCTIONS_DIR
from infra_cdk.settings import ChurnGuardContext

PROBE_FUNCTION_SUFFIX = "backup-probe"
PROBE_SERVICE_NAME = "backup-probe"


def add_recoverability_probe(stack: Stack, *, config: ChurnGuardContext, foundation: Foundation) -> OpsFunction:
    backup = config.backup
    probe = foundation.function(
        stack,
        "RecoverabilityProbe",
        function_name=f"{config.prefix}-{PROBE_FUNCTION_SUFFIX}",
        code_dir=FUNCTIONS_DIR / "backup",
        handler="app.probe",
        description=f"Every {backup.probe_minutes} min: restorable lag and posture of each backed-up instance",
        service_name=PROBE_SERVICE_NAME,
        environment={"BACKUP_DB_INSTANCE_IDS": backup.lambda_environment()["BACKUP_DB_INSTANCE_IDS"]},
        timeout=Duration.seconds(60),
        memory_size=256,
        async_retry_attempts=0,
        max_event_age=Duration.minutes(backup.probe_minutes),
    )
    RoleGrants(stack, probe.role).add(
        "RdsDescribeConfiguredInstances", ["rds:DescribeDBInstances"],
        [f"arn:{Aws.PARTITION}:rds:{stack.region}:{stack.account}:db:{i}" for i in backup.db_instance_ids])
    rule = events.Rule(
        stack,
        "RecoverabilityProbeSchedule",
        rule_name=f"{config.prefix}-backup-probe",
        description=f"Recoverability probe every {backup.probe_minutes} min",
        schedule=events.Schedule.rate(Duration.minutes(backup.probe_minutes)),
    )
    # A late probe is worthless (the next one measures afresh): no retries, and failures go to the DLQ.
    rule.add_target(targets.LambdaFunction(probe.function, dead_letter_queue=probe.dlq, retry_attempts=0,
                                           max_event_age=Duration.minutes(backup.probe_minutes)))
    foundation.errors_alarm(stack, "RecoverabilityProbeErrors", probe.function,
                            alarm_name=f"{config.prefix}-backup-probe-errors",
                            description="The recoverability probe failed: restorable lag was not measured.")
    return probe
