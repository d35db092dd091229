"""Monitoring stack: the seed's alerting rules as CloudWatch alarms, and the dashboards.

Every alarm notifies the ops topic (``foundation.alarm``) and carries the Severity, Team, Runbook and
IncidentGroup tags the alarm router and incidents read (ListTagsForResource); its name starts with
``core.contracts.APP_ALARM_NAME_PREFIX``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from aws_cdk import Duration, Stack, Tags, Token
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_lambda as lambda_
from constructs import Construct, IConstruct

from infra_cdk.constructs import Foundation
from infra_cdk.settings import ChurnGuardContext
from infra_cdk.stacks.dashboards import application, build_dashboard, ops_overview
from infra_cdk.stacks.monitoring_alarms import AlarmRule, alarm_rules


def function_names(stacks: Iterable[IConstruct]) -> list[str]:
    """The literal names of the Lambda functions in ``stacks`` (what the overview graphs errors of)."""
    names = {child.function_name for stack in stacks for child in stack.node.find_all()
             if isinstance(child, lambda_.CfnFunction) and isinstance(child.function_name, str)
             and not Token.is_unresolved(child.function_name)}
    return sorted(names)


# The rules state CloudFormation's values; CDK's enums name them differently.
_COMPARISON = {"GreaterThanThreshold": cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
               "LessThanThreshold": cw.ComparisonOperator.LESS_THAN_THRESHOLD}
_MISSING = {"breaching": cw.TreatMissingData.BREACHING, "notBreaching": cw.TreatMissingData.NOT_BREACHING,
            "ignore": cw.TreatMissingData.IGNORE, "missing": cw.TreatMissingData.MISSING}


class MonitoringStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: ChurnGuardContext, foundation: Foundation,
                 ops_functions: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.rules = alarm_rules(config.monitoring)
        self.alarms: list[cw.Alarm] = [self._alarm(foundation, rule) for rule in self.rules]
        self.overview = ops_overview(config, ops_functions)
        self.application = application(config)
        self.dashboards = [build_dashboard(self, "OperationsDashboard", self.overview),
                           build_dashboard(self, "ApplicationDashboard", self.application)]

    def _alarm(self, foundation: Foundation, rule: AlarmRule) -> cw.Alarm:
        period = Duration.seconds(rule.period_seconds)
        metrics = {key: cw.Metric(namespace=m.namespace, metric_name=m.name, dimensions_map=dict(m.dimensions),
                                  statistic=m.stat, period=period) for key, m in rule.metrics.items()}
        metric: cw.IMetric = (cw.MathExpression(expression=rule.expression, using_metrics=metrics, period=period)
                              if rule.expression else next(iter(metrics.values())))
        construct_id = f"{rule.rule}{rule.resource or ''}".replace("-", "").replace("_", "") + "Alarm"
        alarm = foundation.alarm(
            self, construct_id, alarm_name=rule.alarm_name, metric=metric,
            alarm_description=f"{rule.description} Runbook: {rule.runbook}",
            threshold=rule.threshold, comparison_operator=_COMPARISON[rule.comparison],
            evaluation_periods=rule.evaluation_periods, datapoints_to_alarm=rule.datapoints,
            treat_missing_data=_MISSING[rule.missing])
        for key, value in rule.tags.items():
            Tags.of(alarm).add(key, value)
        return alarm
