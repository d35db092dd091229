"""Backups, primary region: the scheduled backup Lambda and everything around it.

One EventBridge rule per backup policy invokes ``churnguard-ops-backup`` with a Scheduled Event
whose ``detail.policy`` names the policy. The function snapshots the configured RDS instances,
copies them to the DR region, prunes what it created, and exports configuration into the ops
bucket; alarms on its EMF metrics (namespace ``ChurnGuardOps``) notify the ops SNS topic. The
bucket, its CMK, the topic and the layer come from the foundation stack.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Aws, CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct

from infra_cdk.constructs import Foundation
from infra_cdk.constructs.vpc_access import place_in_vpc, warn_without_vpc
from infra_cdk.paths import FUNCTIONS_DIR
from infra_cdk.settings import ChurnGuardContext
from infra_cdk.stacks.backup_alarms import BACKUP_SERVICE_NAME, create_backup_alarms, create_backup_dashboard
from infra_cdk.stacks.backup_dr_stack import dr_bucket_name
from infra_cdk.stacks.backup_grants import grant_backup_permissions
from infra_cdk.stacks.backup_probe import add_recoverability_probe

BACKUP_FUNCTION_SUFFIX = "backup"


def scheduled_tick_input(policy: str) -> events.RuleTargetInput:
    """The Scheduled Event as EventBridge delivers it, with ``detail`` set to the policy."""
    return events.RuleTargetInput.from_object(
        {
            "version": events.EventField.from_path("$.version"),
            "id": events.EventField.event_id,
            "detail-type": events.EventField.detail_type,
            "source": events.EventField.source,
            "account": events.EventField.account,
            "time": events.EventField.time,
            "region": events.EventField.region,
            "resources": events.EventField.from_path("$.resources"),
            "detail": {"policy": policy},
        }
    )


class BackupStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: ChurnGuardContext, foundation: Foundation,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.foundation = foundation
        backup = config.backup
        prefix = config.prefix
        self.function_name = f"{prefix}-{BACKUP_FUNCTION_SUFFIX}"
        self.dr_bucket_name = dr_bucket_name(prefix, Aws.ACCOUNT_ID, backup.dr_region)

        # --- the backup function ------------------------------------------------------------
        environment = {
            **backup.lambda_environment(),
            "BACKUP_BUCKET": foundation.bucket.bucket_name,
            "BACKUP_KMS_KEY_ARN": foundation.key.key_arn,
            "BACKUP_DR_BUCKET": self.dr_bucket_name,
            # Credentials of the instances whose row counts are recorded per snapshot (drill baselines).
            "BACKUP_DB_SECRETS": json.dumps(config.drill.db_secrets, sort_keys=True),
        }
        self.backup_fn = foundation.function(
            self,
            "BackupFunction",
            function_name=self.function_name,
            code_dir=FUNCTIONS_DIR / "backup",
            handler="app.handler",
            description="Scheduled backups: RDS snapshots + DR copies + pruning, config/app-data exports",
            service_name=BACKUP_SERVICE_NAME,
            environment=environment,
            timeout=Duration.minutes(5),
            memory_size=512,
            # Ticks of different policies must not race on pruning / the snapshot quota.
            reserved_concurrent_executions=1,
        )
        if config.drill.db_secrets:  # the row-count baseline opens a SQL connection to each source
            if config.drill.vpc is not None:
                place_in_vpc(self, "BackupFunction", self.backup_fn, config.drill.vpc)
            else:
                warn_without_vpc(self, "Backups (row-count baselines)")
        self.function = self.backup_fn.function
        assert self.backup_fn.dlq is not None
        self.dlq = self.backup_fn.dlq
        grant_backup_permissions(self, self.backup_fn.role, config=config, foundation=foundation,
                                 dr_bucket_name=self.dr_bucket_name)

        # --- schedules ----------------------------------------------------------------------
        self.rules: dict[str, events.Rule] = {}
        for name, policy in backup.policies.items():
            rule = events.Rule(
                self,
                f"Schedule-{name}",
                rule_name=f"{prefix}-backup-{name.replace('_', '-')}",
                description=f"Backup tick for policy '{name}' every {policy.schedule_minutes} min",
                schedule=events.Schedule.rate(Duration.minutes(policy.schedule_minutes)),
            )
            rule.add_target(
                targets.LambdaFunction(
                    self.function,
                    event=scheduled_tick_input(name),
                    dead_letter_queue=self.dlq,
                    retry_attempts=2,
                    max_event_age=Duration.hours(2),
                )
            )
            self.rules[name] = rule

        self.probe = add_recoverability_probe(self, config=config, foundation=foundation)

        # --- alarms + dashboard -------------------------------------------------------------
        self.alarms: list[cw.Alarm] = create_backup_alarms(
            self, config=config, foundation=foundation, function=self.function, function_name=self.function_name,
            dlq=self.dlq)
        self.dashboard = create_backup_dashboard(self, config=config, function=self.function, alarms=self.alarms)

        CfnOutput(self, "BackupFunctionName", value=self.function.function_name, description="Backup Lambda")
        CfnOutput(self, "BackupDlqUrl", value=self.dlq.queue_url, description="Failed backup ticks")
