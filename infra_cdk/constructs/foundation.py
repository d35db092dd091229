"""What every capability stack receives from the foundation stack, and the conventions that come with it.

A capability stack takes one ``Foundation`` and builds its functions and alarms through it, so every
function gets the shared layer (and, when invoked asynchronously, its dead-letter queue) and every
alarm notifies the ops topic without the stack wiring either by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from churnguard_ops.core.contracts import METRICS_NAMESPACE
from infra_cdk.constructs.alarms import ops_alarm
from infra_cdk.constructs.ops_function import OpsFunction


@dataclass(frozen=True)
class Foundation:
    """Shared resources: the library layer, the ops topic (and its key), the ops CMK and the ops bucket."""

    layer: lambda_.ILayerVersion
    topic: sns.ITopic
    topic_key: kms.IKey
    key: kms.IKey  # encrypts the bucket and exported SecureString values (alias/<prefix>-backup)
    bucket: s3.IBucket  # configuration/, baselines/, drills/ (see churnguard_ops.core.contracts)

    def function(self, scope: Construct, construct_id: str, **kwargs: Any) -> OpsFunction:
        """An OpsFunction on the shared layer; ``asynchronous=True`` (the default) gives it a DLQ."""
        kwargs.setdefault("metrics_namespace", METRICS_NAMESPACE)
        return OpsFunction(scope, construct_id, layers=[self.layer], **kwargs)

    def alarm(self, scope: Construct, construct_id: str, **kwargs: Any) -> cw.Alarm:
        """A CloudWatch alarm whose ALARM state notifies the ops topic."""
        return ops_alarm(scope, construct_id, self.topic, **kwargs)

    def any_alarm(self, scope: Construct, construct_id: str, metric: cw.IMetric, *, alarm_name: str,
                  description: str) -> cw.Alarm:
        """Notifies the ops topic when ``metric`` is above zero in one period (no data: nothing happened)."""
        return self.alarm(
            scope,
            construct_id,
            alarm_name=alarm_name,
            alarm_description=description,
            metric=metric,
            threshold=0,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )

    def errors_alarm(self, scope: Construct, construct_id: str, fn: lambda_.IFunction, *, alarm_name: str,
                     description: str) -> cw.Alarm:
        """Any error of ``fn`` in five minutes notifies the ops topic."""
        return self.any_alarm(scope, construct_id, fn.metric_errors(period=Duration.minutes(5), statistic="Sum"),
                              alarm_name=alarm_name, description=description)

    def dlq_alarm(self, scope: Construct, construct_id: str, queue: sqs.IQueue, *, alarm_name: str,
                  what: str) -> cw.Alarm:
        """Any message in a dead-letter queue notifies the ops topic."""
        metric = queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5), statistic="Maximum")
        return self.any_alarm(scope, construct_id, metric, alarm_name=alarm_name,
                              description=f"{what} ended in the DLQ (EventBridge delivery or Lambda async failure).")
