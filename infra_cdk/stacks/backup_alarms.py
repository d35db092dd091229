"""Backup alarms (on the function's EMF metrics, its errors and its DLQ) and the backups dashboard."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs

from churnguard_ops.core.contracts import METRICS_NAMESPACE
from infra_cdk.constructs import Foundation
from infra_cdk.settings import ChurnGuardContext
from infra_cdk.stacks.backup_probe import PROBE_SERVICE_NAME

BACKUP_SERVICE_NAME = "backup"  # POWERTOOLS_SERVICE_NAME of the function
# Powertools adds ``service=<POWERTOOLS_SERVICE_NAME>`` to every EMF metric it writes (also via
# single_metric), so the published dimension sets are e.g. {DBInstanceIdentifier, service}.
# CloudWatch alarms match dimension sets exactly, hence the extra dimension below.
EMF_SERVICE_DIMENSION = {"service": BACKUP_SERVICE_NAME}
#: The metrics the recoverability probe publishes (every probe_minutes) carry the probe's service name.
PROBE_METRICS = frozenset({"RestorableLagSeconds", "PostureViolations"})
# CloudWatch: EvaluationPeriods * Period may not exceed one day.
_MAX_ALARM_WINDOW_MINUTES = 1440


def _metric(name: str, dimensions: dict[str, str], statistic: str, period: Duration,
            label: str | None = None) -> cw.Metric:
    service = {"service": PROBE_SERVICE_NAME} if name in PROBE_METRICS else EMF_SERVICE_DIMENSION
    return cw.Metric(namespace=METRICS_NAMESPACE, metric_name=name,
                     dimensions_map={**dimensions, **service},
                     statistic=statistic, period=period, label=label)


def create_backup_alarms(stack: Stack, *, config: ChurnGuardContext, foundation: Foundation,
                         function: lambda_.IFunction, function_name: str, dlq: sqs.IQueue) -> list[cw.Alarm]:
    backup = config.backup
    prefix = config.prefix
    alarms: list[cw.Alarm] = []

    def alarm(construct_id: str, period_minutes: int, metric: tuple[str, dict[str, str], str],
              **kwargs: object) -> None:
        name, dims, statistic = metric
        alarms.append(foundation.alarm(stack, construct_id,
                                       metric=_metric(name, dims, statistic, Duration.minutes(period_minutes)),
                                       **kwargs))

    database = backup.policies["database"]
    # One database tick per period; 2 of 2 periods so a tick landing just past a period
    # boundary (an empty period followed by a fresh snapshot) does not page anybody, while a
    # missed tick (empty period + a stale age in the next) does.
    age_period = min(database.schedule_minutes, _MAX_ALARM_WINDOW_MINUTES // 2)
    for db in backup.db_instance_ids:
        dims = {"DBInstanceIdentifier": db}
        alarm(
            f"SnapshotAgeAlarm-{db}", age_period, ("SnapshotAgeSeconds", dims, "Maximum"),
            alarm_name=f"{prefix}-backup-snapshot-age-{db}",
            alarm_description=(
                f"Newest snapshot of {db} is older than one database schedule "
                f"({database.schedule_minutes} min) + RPO ({backup.rpo_minutes} min). Missing data "
                "is breaching: a tick that never ran is a missed backup."
            ),
            threshold=(database.schedule_minutes + backup.rpo_minutes) * 60,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=2,
            datapoints_to_alarm=2,
            treat_missing_data=cw.TreatMissingData.BREACHING,
        )
        if database.cross_region:
            alarm(
                f"DrFreshnessAlarm-{db}", age_period, ("DrRecoveryPointAgeSeconds", dims, "Maximum"),
                alarm_name=f"{prefix}-backup-dr-freshness-{db}",
                alarm_description=(
                    f"The newest recovery point of {db} restorable in {backup.dr_region} is older than "
                    f"{backup.dr_rpo_threshold_minutes} min (what a regional outage would lose). Missing data is "
                    "breaching: no restorable copy in the DR region at all."
                ),
                threshold=backup.dr_rpo_threshold_minutes * 60,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=2,
                datapoints_to_alarm=2,
                treat_missing_data=cw.TreatMissingData.BREACHING,
            )
        # Measured by the recoverability probe every probe_minutes: 2 of 3 periods, so one late probe
        # (an empty period) does not page, while a lag past the RPO does within minutes.
        alarm(
            f"RestorableLagAlarm-{db}", backup.probe_minutes, ("RestorableLagSeconds", dims, "Maximum"),
            alarm_name=f"{prefix}-backup-restorable-lag-{db}",
            alarm_description=(
                f"Latest restorable time of {db} lags more than the RPO ({backup.rpo_minutes} min), measured "
                f"every {backup.probe_minutes} min. Missing data is breaching: RDS reports no restorable time "
                "when automated backups are off, and then the RPO cannot be met at all."
            ),
            threshold=backup.rpo_minutes * 60,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            treat_missing_data=cw.TreatMissingData.BREACHING,
        )
        alarm(
            f"PostureAlarm-{db}", age_period, ("PostureViolations", dims, "Maximum"),
            alarm_name=f"{prefix}-backup-posture-{db}",
            alarm_description=(
                f"{db} breaks the backup posture (storage encryption, Multi-AZ, automated backups kept >= 30 days, "
                "deletion protection, Performance Insights): see the backup result's posture findings."
            ),
            threshold=0,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
    for region in [stack.region, backup.dr_region]:
        alarm(
            f"SnapshotQuotaAlarm-{region}", age_period, ("ManualSnapshotQuotaUsedRatio", {"Region": region}, "Maximum"),
            alarm_name=f"{prefix}-backup-snapshot-quota-{region}",
            alarm_description=(f"Manual DB snapshots in {region} use >= 90% of the quota "
                               f"({backup.manual_snapshot_quota})."),
            threshold=0.9,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
    for name, policy in backup.policies.items():
        alarm(
            f"TargetsFailedAlarm-{name}", min(policy.schedule_minutes, 60),
            ("BackupTargetsFailed", {"Policy": name}, "Sum"),
            alarm_name=f"{prefix}-backup-targets-failed-{name.replace('_', '-')}",
            alarm_description=f"At least one target of backup policy '{name}' failed.",
            threshold=0,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
    alarms.append(foundation.dlq_alarm(stack, "DlqAlarm", dlq, alarm_name=f"{prefix}-backup-dlq-not-empty",
                                       what="Backup ticks"))
    alarms.append(foundation.errors_alarm(stack, "ErrorsAlarm", function, alarm_name=f"{prefix}-backup-errors",
                                          description=f"{function_name} raised an error."))
    return alarms


def create_backup_dashboard(stack: Stack, *, config: ChurnGuardContext, function: lambda_.IFunction,
                            alarms: list[cw.Alarm]) -> cw.Dashboard:
    backup = config.backup
    period = Duration.hours(1)

    def metrics(name: str, key: str, values: Sequence[str], stat: str) -> list[cw.IMetric]:
        return [_metric(name, {key: v}, stat, period, label=v) for v in values]

    regions = [stack.region, backup.dr_region]
    policies = list(backup.policies)
    dashboard = cw.Dashboard(
        stack,
        "Dashboard",
        dashboard_name=f"{config.prefix}-backups",
        default_interval=Duration.days(7),
    )
    dashboard.add_widgets(
        cw.TextWidget(markdown="# ChurnGuard Ops backups", width=24, height=1),
    )
    dashboard.add_widgets(
        cw.GraphWidget(
            title="Snapshot age (s)", width=12,
            left=metrics("SnapshotAgeSeconds", "DBInstanceIdentifier", backup.db_instance_ids, "Maximum"),
        ),
        cw.GraphWidget(
            title="Restorable lag (s)", width=12,
            left=metrics("RestorableLagSeconds", "DBInstanceIdentifier", backup.db_instance_ids, "Maximum"),
        ),
    )
    dashboard.add_widgets(
        cw.GraphWidget(
            title="Backup targets per policy", width=12,
            left=metrics("BackupTargetsSucceeded", "Policy", policies, "Sum"),
            right=metrics("BackupTargetsFailed", "Policy", policies, "Sum"),
        ),
        cw.GraphWidget(
            title="Manual snapshot quota used", width=12,
            left=metrics("ManualSnapshotQuotaUsedRatio", "Region", regions, "Maximum"),
            left_y_axis=cw.YAxisProps(min=0, max=1),
        ),
    )
    dashboard.add_widgets(
        cw.GraphWidget(
            title="Backup function", width=12,
            left=[function.metric_invocations(period=period), function.metric_errors(period=period)],
            right=[function.metric_duration(period=period, statistic="Maximum")],
        ),
        cw.AlarmStatusWidget(title="Backup alarms", width=12, alarms=list(alarms)),
    )
    return dashboard
