"""Alarms that notify the ops topic."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from constructs import Construct


def ops_alarm(scope: Construct, construct_id: str, topic: sns.ITopic, **kwargs: Any) -> cw.Alarm:
    """A CloudWatch alarm whose ALARM state pages through the ops SNS topic."""
    alarm = cw.Alarm(scope, construct_id, **kwargs)
    alarm.add_alarm_action(cw_actions.SnsAction(topic))
    return alarm
