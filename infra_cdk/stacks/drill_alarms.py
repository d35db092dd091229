"""Restore-drill alarms: no recent successful drill, failed or timed-out executions, sweeper errors, DLQs."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn

from churnguard_ops.core.contracts import METRICS_NAMESPACE
from churnguard_ops.drill.freshness import METRIC as SECONDS_SINCE_SUCCESS
from infra_cdk.constructs import Foundation
from infra_cdk.settings import DRILL_STATE_MACHINE_TIMEOUT_HOURS, ChurnGuardContext
from infra_cdk.stacks.drill_spec import NO_SUCCESS_PERIOD

DRILL_SERVICE_NAME = "drill"  # POWERTOOLS_SERVICE_NAME of every drill function
# Powertools adds service=<POWERTOOLS_SERVICE_NAME> to every EMF metric (single_metric too), and
# CloudWatch alarms match dimension sets exactly (see backup_alarms.EMF_SERVICE_DIMENSION).
EMF_SERVICE_DIMENSION = {"service": DRILL_SERVICE_NAME}


def create_drill_alarms(stack: Stack, *, config: ChurnGuardContext, foundation: Foundation,
                        state_machine: sfn.StateMachine, state_machine_name: str, sweeper: lambda_.IFunction,
                        sweeper_dlq: sqs.IQueue, schedule_dlq: sqs.IQueue) -> list[cw.Alarm]:
    prefix = config.prefix
    # The scheduled drill names no source_instance: the functions drill the first configured one.
    scheduled_source = config.backup.db_instance_ids[0]
    days = config.drill.no_success_alert_days
    five_minutes = Duration.minutes(5)
    alarms = [
        foundation.alarm(
            stack,
            "NoSuccessfulDrillAlarm",
            alarm_name=f"{prefix}-drill-no-success-{days}d",
            alarm_description=(
                f"No successful restore drill of {scheduled_source} in {days} days: {SECONDS_SINCE_SUCCESS} "
                f"(emitted by {prefix}-drill-freshness from the drill history) is above {days} days. Missing "
                "data is breaching: no drill ever passed, or the freshness function is not running."
            ),
            metric=cw.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=SECONDS_SINCE_SUCCESS,
                dimensions_map={"SourceDBInstance": scheduled_source, **EMF_SERVICE_DIMENSION},
                statistic="Maximum",
                period=NO_SUCCESS_PERIOD,
            ),
            threshold=days * 86400,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            treat_missing_data=cw.TreatMissingData.BREACHING,
        ),
        foundation.any_alarm(
            stack, "ExecutionsFailedAlarm", state_machine.metric_failed(period=five_minutes, statistic="Sum"),
            alarm_name=f"{prefix}-drill-executions-failed",
            description=f"A restore drill ({state_machine_name}) failed: see its report in S3/SNS."),
        foundation.any_alarm(
            stack, "ExecutionsTimedOutAlarm", state_machine.metric_timed_out(period=five_minutes, statistic="Sum"),
            alarm_name=f"{prefix}-drill-executions-timed-out",
            description=(f"A restore drill ran into the {DRILL_STATE_MACHINE_TIMEOUT_HOURS} h state machine timeout: "
                         "Cleanup did not run, the sweeper deletes its resources after they expire.")),
        foundation.errors_alarm(
            stack, "SweeperErrorsAlarm", sweeper, alarm_name=f"{prefix}-drill-sweeper-errors",
            description="The drill sweeper failed or could not delete an expired drill resource."),
    ]
    for construct_id, name, queue, what in (
        ("SweeperDlqAlarm", "sweeper-dlq-not-empty", sweeper_dlq, "Sweeper runs"),
        ("ScheduleDlqAlarm", "schedule-dlq-not-empty", schedule_dlq, "Weekly drill starts"),
    ):
        alarms.append(foundation.dlq_alarm(stack, construct_id, queue, alarm_name=f"{prefix}-drill-{name}", what=what))
    return alarms
