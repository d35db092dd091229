"""One CloudTrail record as the engine's :class:`~churnguard_ops.security.model.Event` (:func:`normalize`).

Nothing here calls AWS. A record is an entry of a log file's ``Records``, the ``detail`` of an EventBridge
"AWS API Call via CloudTrail" (or sign-in, service event, console action) event, or that whole envelope.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from churnguard_ops.core.clock import IsoTime
from churnguard_ops.security.model import Event

__all__ = ["CLOUDTRAIL_DETAIL_TYPES", "CloudTrailRecord", "UserIdentity", "is_ip", "iter_records", "normalize"]

#: The detail-types EventBridge gives CloudTrail records (``detail`` is the record).
CLOUDTRAIL_DETAIL_TYPES = frozenset({"AWS API Call via CloudTrail", "AWS Console Sign In via CloudTrail",
                                     "AWS Service Event via CloudTrail", "AWS Console Action via CloudTrail"})


class _Lenient(BaseModel):
    # CloudTrail adds fields over time (tlsDetails, sessionCredentialFromConsole, ...): keep, never refuse them.
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)


class UserIdentity(_Lenient):
    type: str | None = None
    principal_id: str | None = Field(default=None, alias="principalId")
    arn: str | None = None
    account_id: str | None = Field(default=None, alias="accountId")
    user_name: str | None = Field(default=None, alias="userName")
    invoked_by: str | None = Field(default=None, alias="invokedBy")
    session_context: dict[str, Any] | None = Field(default=None, alias="sessionContext")

    @property
    def session_issuer(self) -> dict[str, Any]:
        issuer = (self.session_context or {}).get("sessionIssuer")
        return issuer if isinstance(issuer, dict) else {}


class CloudTrailRecord(_Lenient):
    """One CloudTrail record; a refusal names the CloudTrail field (``eventID``, ``eventTime``, ...)."""

    event_id: str = Field(alias="eventID", min_length=1)
    event_time: IsoTime = Field(alias="eventTime")
    event_name: str = Field(alias="eventName", min_length=1)
    event_source: str = Field(alias="eventSource", min_length=1)
    user_identity: UserIdentity = Field(alias="userIdentity")
    source_ip_address: str | None = Field(default=None, alias="sourceIPAddress")
    aws_region: str | None = Field(default=None, alias="awsRegion")
    event_type: str | None = Field(default=None, alias="eventType")
    error_code: str | None = Field(default=None, alias="errorCode")
    error_message: str | None = Field(default=None, alias="errorMessage")
    # Usually objects; a few services log ``null`` or a scalar (``"responseElements": true``): kept as given.
    request_parameters: Any = Field(default=None, alias="requestParameters")
    response_elements: Any = Field(default=None, alias="responseElements")
    additional_event_data: Any = Field(default=None, alias="additionalEventData")
    recipient_account_id: str | None = Field(default=None, alias="recipientAccountId")
    read_only: bool | None = Field(default=None, alias="readOnly")
    resources: list[dict[str, Any]] | None = None

    @field_validator("event_time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(timezone.utc)


def _unwrap(document: Any) -> dict[str, Any]:
    """The record of an EventBridge envelope, or the record itself."""
    if not isinstance(document, dict):
        raise ValueError(f"a CloudTrail record must be a JSON object, not {type(document).__name__}")
    if "Records" in document:
        raise ValueError("Records: this is a CloudTrail log file; normalize each of its records (iter_records)")
    if "detail" in document and "detail-type" in document:
        detail_type = document["detail-type"]
        if detail_type not in CLOUDTRAIL_DETAIL_TYPES:
            raise ValueError(f"detail-type: {detail_type!r} is not a CloudTrail event "
                             f"(expected one of {sorted(CLOUDTRAIL_DETAIL_TYPES)})")
        detail = document["detail"]
        if not isinstance(detail, dict):
            raise ValueError(f"detail: must be a CloudTrail record object, not {type(detail).__name__}")
        return detail
    return document


def iter_records(document: Any) -> Iterator[dict[str, Any]]:
    """The raw records of a log file (``{"Records": [...]}``), an EventBridge envelope or a single record."""
    if isinstance(document, dict) and "Records" in document:
        records = document["Records"]
        if not isinstance(records, list):
            raise ValueError(f"Records: must be a list, not {type(records).__name__}")
        yield from records
    else:
        yield _unwrap(document)


def is_ip(value: str | None) -> bool:
    """``sourceIPAddress`` is an address (not ``rds.amazonaws.com``, ``AWS Internal``, ...)."""
    if not value:
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _principal(identity: UserIdentity, account: str | None) -> str | None:
    """A stable string for who acted.

    Root -> ``root:<account>``; an IAM user -> its ARN; an assumed role -> the role ARN of the session issuer
    (one role, many session names: the session ARN stays in ``details.userIdentity.arn``); a federated user ->
    the IAM user that federated it (else its own ARN); an AWS service -> ``service:<invokedBy>``; another
    account -> ``account:<id>``. A failed sign-in whose user name AWS hides
    (``HIDDEN_DUE_TO_SECURITY_REASONS``) has no principal: ``None``.
    """
    kind = identity.type
    account_id = identity.account_id or account
    if kind == "Root":
        return f"root:{account_id}" if account_id else "root"
    if kind == "IAMUser":
        if identity.user_name == "HIDDEN_DUE_TO_SECURITY_REASONS":
            return None
        if identity.arn:
            return identity.arn
        return f"arn:aws:iam::{account_id}:user/{identity.user_name}" if identity.user_name and account_id else None
    if kind in ("AssumedRole", "FederatedUser"):
        return identity.session_issuer.get("arn") or identity.arn or identity.principal_id
    if kind == "AWSService":
        return f"service:{identity.invoked_by}" if identity.invoked_by else None
    if kind == "AWSAccount":
        return f"account:{identity.account_id}" if identity.account_id else identity.principal_id
    return identity.arn or identity.principal_id


def normalize(record: dict[str, Any]) -> Event:
    """One CloudTrail record (or its EventBridge envelope) as the engine's ``Event``.

    ``event_id`` = ``eventID``; ``time`` = ``eventTime`` in UTC; ``type`` = ``eventName``; ``source_ip`` =
    ``sourceIPAddress`` as logged, including service principals such as ``rds.amazonaws.com`` or
    ``AWS Internal`` (``details.sourceIsAwsService`` is then ``True``: no per-IP rule should count them);
    ``user_id`` = see :func:`_principal`; ``organization_id`` is ``None`` (CloudTrail knows AWS accounts, not our
    customers' organizations; the account is ``details.recipientAccountId``).

    ``details`` holds, under CloudTrail's names: ``eventSource``, ``eventType``, ``awsRegion``,
    ``recipientAccountId`` (falling back to ``userIdentity.accountId``), ``errorCode``, ``errorMessage``,
    ``readOnly``, ``requestParameters``, ``responseElements``, ``additionalEventData``, ``resources`` (when
    logged), ``userIdentity`` reduced to ``type``, ``arn``, ``accountId``, ``principalId``, ``userName``,
    ``invokedBy`` and ``sessionIssuerArn``; plus ``sourceIsAwsService``. ``raw`` is the record itself.

    A malformed record raises ``pydantic.ValidationError`` (or ``ValueError`` for the envelope; both are
    ``ValueError``) naming the field. Unknown fields are kept, never refused.
    """
    raw = _unwrap(record)
    parsed = CloudTrailRecord.model_validate(raw)
    identity = parsed.user_identity
    account = parsed.recipient_account_id or identity.account_id
    details: dict[str, Any] = {
        "eventSource": parsed.event_source,
        "eventType": parsed.event_type,
        "awsRegion": parsed.aws_region,
        "recipientAccountId": account,
        "errorCode": parsed.error_code,
        "errorMessage": parsed.error_message,
        "readOnly": parsed.read_only,
        "sourceIsAwsService": parsed.source_ip_address is not None and not is_ip(parsed.source_ip_address),
        "userIdentity": {
            "type": identity.type,
            "arn": identity.arn,
            "accountId": identity.account_id,
            "principalId": identity.principal_id,
            "userName": identity.user_name,
            "invokedBy": identity.invoked_by,
            "sessionIssuerArn": identity.session_issuer.get("arn"),
        },
        "requestParameters": parsed.request_parameters,
        "responseElements": parsed.response_elements,
        "additionalEventData": parsed.additional_event_data,
    }
    if parsed.resources:
        details["resources"] = parsed.resources
    return Event(
        event_id=parsed.event_id,
        time=parsed.event_time,
        kind="cloudtrail",
        type=parsed.event_name,
        source_ip=parsed.source_ip_address,
        user_id=_principal(identity, account),
        organization_id=None,
        details=details,
        raw=raw,
    )
