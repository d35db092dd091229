"""Alarms stack: the alarm router (EventBridge rule on alarm state changes, router Lambda, severity topics)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from infra_cdk.constructs import Foundation
from infra_cdk.settings import ChurnGuardContext


class AlarmsStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: ChurnGuardContext, foundation: Foundation,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
