"""Feature flags: the AppConfig application, environments, flag profile and strategy, and the evaluate function.

One application (``churnguard-ops-flags``), one environment per configured stage, one hosted ``feature-flags``
profile (freeform JSON, refused by AppConfig itself unless it matches the flag document's schema) holding the
context's validated flags, deployed to every environment with the immediate strategy: the canary workflow's
flag shifter does the ramping and baking, so AppConfig's own strategy must not. Environments carry no AppConfig
monitors: the canary judge and alarm abort watch the flag-on and flag-off cohorts, not aggregates.
"""
from __future__ import annotations

import json
from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_appconfig as appconfig
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from churnguard_ops.core.contracts import (
    FLAG_APPLICATION_DIMENSION,
    FLAG_ENVIRONMENT_DIMENSION,
    FLAG_STORE_ERRORS_METRIC,
    FLAGS_APPLICATION,
    FLAGS_IMMEDIATE_STRATEGY,
    FLAGS_METRICS_NAMESPACE,
    FLAGS_PROFILE,
)
from infra_cdk.constructs import Foundation
from infra_cdk.flags_target import FlagsTarget
from infra_cdk.paths import FUNCTIONS_DIR
from infra_cdk.settings import ChurnGuardContext
from infra_cdk.stacks.flags_grants import grant_flags_read
from infra_cdk.stacks.flags_schema import flag_document_schema_json

FLAGS_SERVICE_NAME = "flags"


class FlagsStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: ChurnGuardContext, foundation: Foundation,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        prefix = config.prefix
        flags = config.flags

        self.application = appconfig.Application(
            self, "FlagsApplication", application_name=FLAGS_APPLICATION,
            description="ChurnGuard feature flags (sticky percentage rollouts, rules, kill switches)")
        self.environments = {
            name: appconfig.Environment(self, f"FlagsEnvironment-{name}", application=self.application,
                                        environment_name=name, description=f"Feature flags of {name}")
            for name in flags.environments}
        # All at once: each canary step deploys its percentage with this, then the workflow bakes and judges.
        self.strategy = appconfig.DeploymentStrategy(
            self, "FlagsImmediateStrategy", deployment_strategy_name=FLAGS_IMMEDIATE_STRATEGY,
            description="All at once, no bake: the canary release workflow ramps and bakes flag rollouts",
            rollout_strategy=appconfig.RolloutStrategy.linear(
                growth_factor=100, deployment_duration=Duration.minutes(0), final_bake_time=Duration.minutes(0)))
        # The document exactly as configured (document order is rule evaluation order: never re-sorted).
        self.document = json.dumps(flags.flags, indent=2)
        self.profile = appconfig.HostedConfiguration(
            self, "FlagsProfile", application=self.application, name=FLAGS_PROFILE,
            description="Feature flags: Powertools' rule schema plus sticky rollouts and kill switches",
            type=appconfig.ConfigurationType.FREEFORM,
            content=appconfig.ConfigurationContent.from_inline_json(self.document),
            validators=[appconfig.JsonSchemaValidator.from_inline(flag_document_schema_json())],
            deployment_strategy=self.strategy, deploy_to=list(self.environments.values()))

        self.target = FlagsTarget(
            application_id=self.application.application_id, profile_id=self.profile.configuration_profile_id,
            deployment_strategy_id=self.strategy.deployment_strategy_id,
            environment_ids={name: env.environment_id for name, env in self.environments.items()},
            propagation_seconds=flags.cache_seconds + 1)

        self.evaluator = foundation.function(
            self, "FlagsEvaluateFunction", function_name=f"{prefix}-flags-evaluate", code_dir=FUNCTIONS_DIR / "flags",
            handler="app.evaluate", description="Evaluate feature flags for a context: value, reason, variant",
            service_name=FLAGS_SERVICE_NAME, environment=flags.lambda_environment(), timeout=Duration.seconds(30),
            asynchronous=False)  # request/response: the caller sees the error, no DLQ
        grant_flags_read(self, self.evaluator, application_id=self.target.application_id,
                         environment_id=self.target.environment_ids[flags.evaluation_environment],
                         profile_id=self.target.profile_id)

        self.alarms: list[cw.Alarm] = [
            foundation.errors_alarm(self, "FlagsEvaluateErrorsAlarm", self.evaluator.function,
                                    alarm_name=f"{prefix}-flags-evaluate-errors",
                                    description="Flag evaluation failed (see the function's log)."),
            *(self._store_errors_alarm(foundation, prefix, name) for name in flags.environments),
        ]

        CfnOutput(self, "FlagsEvaluateFunctionName", value=self.evaluator.function.function_name,
                  description="Evaluate flags for a context (opsctl flags evaluate)")
        CfnOutput(self, "FlagsApplicationId", value=self.target.application_id,
                  description=f"AppConfig application {FLAGS_APPLICATION}")
        CfnOutput(self, "FlagsProfileId", value=self.target.profile_id,
                  description=f"AppConfig configuration profile {FLAGS_PROFILE}")
        CfnOutput(self, "FlagsDeploymentStrategyId", value=self.target.deployment_strategy_id,
                  description=f"AppConfig deployment strategy {FLAGS_IMMEDIATE_STRATEGY}")
        CfnOutput(self, "FlagsEnvironmentIds", value=self.to_json_string(dict(self.target.environment_ids)),
                  description="AppConfig environment ids by name (JSON)")

    def _store_errors_alarm(self, foundation: Foundation, prefix: str, environment: str) -> cw.Alarm:
        # Any application failing to read this environment's flags is serving stale or default values.
        metric = cw.Metric(namespace=FLAGS_METRICS_NAMESPACE, metric_name=FLAG_STORE_ERRORS_METRIC,
                           dimensions_map={FLAG_APPLICATION_DIMENSION: FLAGS_APPLICATION,
                                           FLAG_ENVIRONMENT_DIMENSION: environment},
                           statistic="Sum", period=Duration.minutes(5))
        return foundation.any_alarm(
            self, f"FlagsStoreErrorsAlarm-{environment}", metric,
            alarm_name=f"{prefix}-flags-store-errors-{environment}",
            description=f"Reading the {environment} feature flags from AppConfig failed: callers are served the last "
                        f"good document (at most max_stale_seconds), then their defaults.")
