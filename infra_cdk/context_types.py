"""Value types and base model shared by the context models of every capability (``infra_cdk.settings``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# RDS DB instance identifier: 1-63 letters/digits/hyphens, starts with a letter, no '--', no trailing '-'.
DbInstanceId = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z][a-zA-Z0-9-]{0,62}$")]
RegionName = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")]
BucketName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
SsmPath = Annotated[str, StringConstraints(pattern=r"^/([a-zA-Z0-9_.\-]+/)*$")]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
DbInstanceClass = Annotated[str, StringConstraints(pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")]
# EventBridge schedule expression: cron(6 fields) or rate(<n> <unit>).
ScheduleExpression = Annotated[str, StringConstraints(
    pattern=r"^(cron\(\S+( \S+){5}\)|rate\([1-9]\d* (minute|minutes|hour|hours|day|days)\))$")]
# Secrets Manager ARN, full or without its random 6-character suffix (a partial ARN: the functions
# pass it as SecretId as given, so it must not contain wildcards).
SecretArn = Annotated[str, StringConstraints(
    pattern=r"^arn:aws[a-z-]*:secretsmanager:[a-z]{2}(-[a-z]+)+-\d:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$")]


def secret_policy_resources(secret_arns: Iterable[str]) -> list[str]:
    """IAM resources for configured secrets: the ARN as given (full) and with any random suffix
    (partial), so both forms authorize exactly that one secret."""
    return sorted({form for arn in secret_arns for form in (arn, f"{arn}-??????")})
VpcId = Annotated[str, StringConstraints(pattern=r"^vpc-[0-9a-f]{8,17}$")]
SubnetId = Annotated[str, StringConstraints(pattern=r"^subnet-[0-9a-f]{8,17}$")]
SecurityGroupId = Annotated[str, StringConstraints(pattern=r"^sg-[0-9a-f]{8,17}$")]


class VpcPlacement(_Strict):
    """Where functions that open SQL connections run (subnets and security groups of one VPC)."""

    vpc_id: VpcId
    subnet_ids: list[SubnetId] = Field(min_length=1)
    security_group_ids: list[SecurityGroupId] = Field(min_length=1)

    @field_validator("subnet_ids", "security_group_ids")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("entries must be unique")
        return value


#: The drill's placement (validate, measure and the index proof open SQL connections to the copy).
DrillVpc = VpcPlacement
