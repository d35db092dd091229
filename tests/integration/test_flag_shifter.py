"""The canary flag shifter on the embedded AWS's AppConfig: it deploys one flag's new rollout percentage in the
deployed document (other flags untouched), and a deployment in progress is the retried FlagDeploymentBusy.

One embedded AWS for the module; each test makes its own application (the server's state is shared).
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from churnguard_ops.canary.adapters import DynamoReleaseLock
from churnguard_ops.canary.errors import FlagDeploymentBusy
from churnguard_ops.canary.flag_adapters import AppConfigFlags
from churnguard_ops.canary.flag_shifter import FlagShifter
from churnguard_ops.core.contracts import FLAGS_PROFILE
from opsctl.local.aws import EmbeddedAws

pytestmark = pytest.mark.integration

REGION = "us-east-1"
DOCUMENT = {
    "new_dashboard_ui": {"default": False, "rollout": {"percentage": 0, "value": True}},
    "dark_mode": {"default": False, "rollout": {"percentage": 5, "value": True}},
}


@pytest.fixture(scope="module")
def aws() -> Iterator[EmbeddedAws]:
    with EmbeddedAws(region=REGION) as embedded:
        embedded.reset()
        yield embedded


@pytest.fixture
def shifter(aws: EmbeddedAws) -> tuple[FlagShifter, AppConfigFlags]:
    """Its own flags application (deployed once with DOCUMENT to production) and lock table."""
    appconfig = aws.client("appconfig")
    name = f"flags-{uuid.uuid4().hex[:8]}"
    app = appconfig.create_application(Name=name)["Id"]
    profile = appconfig.create_configuration_profile(ApplicationId=app, Name=FLAGS_PROFILE, LocationUri="hosted",
                                                     Type="AWS.Freeform")["Id"]
    env = appconfig.create_environment(ApplicationId=app, Name="production")["Id"]
    strategy = appconfig.create_deployment_strategy(Name=f"{name}-immediate", DeploymentDurationInMinutes=0,
                                                    GrowthFactor=100, FinalBakeTimeInMinutes=0,
                                                    ReplicateTo="NONE")["Id"]
    version = appconfig.create_hosted_configuration_version(
        ApplicationId=app, ConfigurationProfileId=profile, Content=json.dumps(DOCUMENT).encode(),
        ContentType="application/json")["VersionNumber"]
    appconfig.start_deployment(ApplicationId=app, EnvironmentId=env, DeploymentStrategyId=strategy,
                               ConfigurationProfileId=profile, ConfigurationVersion=str(version))
    table = f"{name}-locks"
    aws.client("dynamodb").create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                                        KeySchema=[{"AttributeName": "lock_key", "KeyType": "HASH"}],
                                        AttributeDefinitions=[{"AttributeName": "lock_key", "AttributeType": "S"}])
    store = AppConfigFlags(app, profile, strategy, {"production": env}, REGION)
    return FlagShifter(store, DynamoReleaseLock(table, REGION)), store


def test_set_percentage_deploys_only_that_flag_and_the_deployment_completes(
        shifter: tuple[FlagShifter, AppConfigFlags]) -> None:
    flags, store = shifter
    deployment = flags.set_percentage("production", "new_dashboard_ui", 10, "release-1")
    assert deployment is not None and deployment.number == 2
    assert flags.deployment("production", deployment.number).state == "COMPLETE"
    served = json.loads(store.deployed("production").document.to_json())
    assert served["new_dashboard_ui"]["rollout"]["percentage"] == 10
    assert served["dark_mode"] == DOCUMENT["dark_mode"]
    assert flags.lock.running() == [], "the environment's write lock is given back"


def test_a_deployment_in_progress_is_the_retried_busy_error(
        aws: EmbeddedAws, shifter: tuple[FlagShifter, AppConfigFlags]) -> None:
    flags, store = shifter
    aws.appconfig.hold_next_deployment(3600, environment_id=store.environment_ids["production"])
    held = flags.set_percentage("production", "dark_mode", 25, "release-a")
    assert held is not None and held.state == "DEPLOYING"
    with pytest.raises(FlagDeploymentBusy, match="DEPLOYING"):
        flags.set_percentage("production", "new_dashboard_ui", 10, "release-b")
    with pytest.raises(FlagDeploymentBusy, match="ConflictException"):  # AppConfig's own refusal, same error
        store.deploy("production", "1", "racing the held deployment")
    unchanged = store.deployed("production").document.get("new_dashboard_ui")
    assert unchanged is not None and unchanged.rollout is not None and unchanged.rollout.percentage == 0
