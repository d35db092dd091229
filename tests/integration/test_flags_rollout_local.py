"""What a local flag rollout stands on, on the embedded AWS: the sample API evaluates flags through the flags
library against the deployed AppConfig document and fills the on/off cohort metrics by bucket (its broken flag path
failing the on cohort alone), and opsctl flags reads the deployed document and a ramp's hosted versions.

One embedded AWS for the module; the whole ramp through the canary state machine is the demo's (opsctl demo).
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest

from churnguard_ops.core.contracts import (
    FLAG_ERRORS_METRIC,
    FLAG_REQUESTS_METRIC,
    FLAGS_APPLICATION,
    FLAGS_METRICS_NAMESPACE,
    FLAGS_PROFILE,
)
from churnguard_ops.flags import bucketing
from opsctl import flags_runner
from opsctl.errors import UsageError
from opsctl.local.aws import EmbeddedAws
from opsctl.local.sample_api import API_NAMESPACE, SampleApi

pytestmark = pytest.mark.integration

REGION = "us-east-1"
FLAG, PERCENTAGE = "churn_model_v2", 30
DOCUMENT = {FLAG: {"default": False, "rollout": {"percentage": PERCENTAGE, "value": True}},
            "advanced_analytics": {"default": False, "rules": {"paid": {"when_match": True, "conditions": [
                {"action": "IN", "key": "subscription_tier", "value": ["enterprise"]}]}}}}


@pytest.fixture(scope="module")
def aws() -> Iterator[EmbeddedAws]:
    with EmbeddedAws(region=REGION) as embedded:
        embedded.reset()
        yield embedded


@pytest.fixture(scope="module")
def flags_app(aws: EmbeddedAws) -> dict[str, str]:
    """The flags application as the flags stack makes it, with DOCUMENT deployed to production."""
    appconfig = aws.client("appconfig")
    app = appconfig.create_application(Name=FLAGS_APPLICATION)["Id"]
    profile = appconfig.create_configuration_profile(ApplicationId=app, Name=FLAGS_PROFILE, LocationUri="hosted",
                                                     Type="AWS.Freeform")["Id"]
    env = appconfig.create_environment(ApplicationId=app, Name="production")["Id"]
    strategy = appconfig.create_deployment_strategy(Name=f"{FLAGS_APPLICATION}-immediate",
                                                    DeploymentDurationInMinutes=0, GrowthFactor=100,
                                                    FinalBakeTimeInMinutes=0, ReplicateTo="NONE")["Id"]
    ids = {"app": app, "profile": profile, "env": env, "strategy": strategy}
    _deploy(aws, ids, DOCUMENT)
    return ids


def _deploy(aws: EmbeddedAws, ids: dict[str, str], document: dict[str, Any]) -> str:
    appconfig = aws.client("appconfig")
    version = str(appconfig.create_hosted_configuration_version(
        ApplicationId=ids["app"], ConfigurationProfileId=ids["profile"], Content=json.dumps(document).encode(),
        ContentType="application/json")["VersionNumber"])
    appconfig.start_deployment(ApplicationId=ids["app"], EnvironmentId=ids["env"], DeploymentStrategyId=ids["strategy"],
                               ConfigurationProfileId=ids["profile"], ConfigurationVersion=version)
    return version


def _sum(aws: EmbeddedAws, namespace: str, name: str, variant: str, start: dt.datetime) -> float:
    points = aws.client("cloudwatch").get_metric_statistics(
        Namespace=namespace, MetricName=name, Dimensions=[{"Name": "Flag", "Value": FLAG},
                                                          {"Name": "FlagVariant", "Value": variant}],
        StartTime=start, EndTime=dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1), Period=60,
        Statistics=["Sum"])["Datapoints"]
    return sum(p["Sum"] for p in points)


def test_the_sample_api_fills_each_cohort_by_bucket_and_its_broken_flag_path_fails_the_on_cohort_alone(
        aws: EmbeddedAws, flags_app: dict[str, str]) -> None:
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
    api = SampleApi.deploy(aws, latency_ms=0, jitter_ms=0, environment={
        "FLAGS_ENVIRONMENT": "production", "FLAGS_CACHE_SECONDS": "15", "FLAGS_EXPOSURE_SAMPLE_RATE": "1.0",
        "FLAG_UNDER_TEST": FLAG, "FLAG_ON_ERROR_RATE": "1.0"})
    users = [f"u-{n:04d}" for n in range(30)]
    on = {u for u in users if bucketing.in_rollout(bucketing.bucket(FLAG, FLAG, u), PERCENTAGE)}
    assert 0 < len(on) < len(users)
    answers = {u: api.invoke({"customer_id": u, "user_id": u, "subscription_tier": "enterprise"}) for u in users}
    assert {u for u, a in answers.items() if a["error"]} == on  # exactly the flag-on users failed
    served = answers[next(u for u in users if u not in on)]["payload"]["flags"]
    assert served == {FLAG: {"value": False, "variant": "off"}, "advanced_analytics": {"value": True,
                                                                                       "variant": "rule"}}
    assert _sum(aws, FLAGS_METRICS_NAMESPACE, FLAG_REQUESTS_METRIC, "on", start) == len(on)
    assert _sum(aws, FLAGS_METRICS_NAMESPACE, FLAG_REQUESTS_METRIC, "off", start) == len(users) - len(on)
    assert _sum(aws, FLAGS_METRICS_NAMESPACE, FLAG_ERRORS_METRIC, "on", start) == len(on)
    assert _sum(aws, FLAGS_METRICS_NAMESPACE, FLAG_ERRORS_METRIC, "off", start) == 0
    assert _sum(aws, API_NAMESPACE, "PredictionsServed", "off", start) == len(users) - len(on)
    assert _sum(aws, API_NAMESPACE, "PredictionsServed", "on", start) == 0
    listed = aws.client("cloudwatch").list_metrics(Namespace=FLAGS_METRICS_NAMESPACE, MetricName=FLAG_REQUESTS_METRIC)
    cohorts = sorted(tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"])) for m in listed["Metrics"])
    assert cohorts == sorted([(("Flag", FLAG), ("FlagVariant", "off")), (("Flag", FLAG), ("FlagVariant", "on")),
                              (("Flag", "advanced_analytics"), ("FlagVariant", "rule"))])  # each cohort once
    plain = api.invoke({"customer_id": "c-1"})  # the alias canary's traffic: no user, no flag
    assert plain["error"] is None and "flags" not in plain["payload"]


def test_opsctl_flags_reads_the_deployed_document_and_a_ramps_hosted_versions(
        aws: EmbeddedAws, flags_app: dict[str, str]) -> None:
    first = flags_runner.deployed("production")
    assert first.document.model_dump(mode="json")[FLAG]["rollout"]["percentage"] == PERCENTAGE
    ramped = {**DOCUMENT, FLAG: {**DOCUMENT[FLAG], "rollout": {"percentage": 60, "value": True}}}
    version = _deploy(aws, flags_app, ramped)
    now = flags_runner.deployed("production")
    assert (now.version, now.deployment) == (version, first.deployment + 1)
    assert [r["rollout_percentage"] for r in flags_runner.flag_rows(now)] == [60, None]
    found = flags_runner.ramp_documents(FLAG, [30.0, 60.0])
    assert {pct: v for pct, (v, _) in found.items()} == {30.0: first.version, 60.0: version}
    with pytest.raises(UsageError, match="--environment staging: not a flags environment "
                                         r"\(known: production\)"):
        flags_runner.deployed("staging")
