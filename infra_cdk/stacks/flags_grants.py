"""IAM of the flags evaluate function: read the flag profile of the one environment it evaluates, nothing else."""
from __future__ import annotations

from aws_cdk import Aws, Stack

from infra_cdk.constructs import OpsFunction
from infra_cdk.constructs.grants import RoleGrants

#: What an AppConfig Data reader calls (StartConfigurationSession, then GetLatestConfiguration every poll).
READ_ACTIONS = ["appconfig:StartConfigurationSession", "appconfig:GetLatestConfiguration"]


def configuration_arn(stack: Stack, *, application_id: str, environment_id: str, profile_id: str) -> str:
    return (f"arn:{Aws.PARTITION}:appconfig:{stack.region}:{stack.account}:application/{application_id}"
            f"/environment/{environment_id}/configuration/{profile_id}")


def grant_flags_read(stack: Stack, fn: OpsFunction, *, application_id: str, environment_id: str,
                     profile_id: str) -> None:
    """No cloudwatch:PutMetricData: the exposure and cohort metrics are EMF lines in the function's log."""
    g = RoleGrants(stack, fn.role)
    g.add("ReadFlagProfile", READ_ACTIONS, [configuration_arn(stack, application_id=application_id,
                                                              environment_id=environment_id, profile_id=profile_id)])
    g.suppress_wildcards()
