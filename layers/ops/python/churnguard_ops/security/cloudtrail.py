"""CloudTrail records as normalized security events, and the pure predicates of the CloudTrail detectors.

Nothing here calls AWS. :func:`normalize` turns one CloudTrail record (an entry of a log file's ``Records``,
the ``detail`` of an EventBridge "AWS API Call via CloudTrail" / "AWS Console Sign In via CloudTrail" event,
or that whole envelope) into the engine's :class:`Event`. Each predicate takes an event and the
:class:`CloudTrailRules` and returns a :class:`Finding` or ``None``; the detectors of the engine wrap them
(dedup, suppression, alert delivery are the engine's).

Rules shared by every predicate:

- A failed call (``errorCode`` set) is never the act itself: every predicate returns ``None`` for it.
  (A failed console sign-in carries no ``errorCode``; :func:`console_login_failed` reads its result instead.)
- Predicates judge the request of one record. CloudTrail does not record the state before the call, so a
  call that *sets* a weak configuration alerts even when it was already weak.
- ``details`` keeps CloudTrail's own field names (``eventSource``, ``errorCode``, ``userIdentity``,
  ``requestParameters``, ...) so a reader who knows CloudTrail can read an alert's context.
"""
from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, Field, field_validator

from churnguard_ops.core.clock import IsoTime
from churnguard_ops.core.contracts import SNAPSHOT_PREFIX
from churnguard_ops.security.model import Event, Severity

__all__ = [
    "CloudTrailRecord", "CloudTrailRules", "Finding", "PREDICATES",
    "admin_policy_attached", "backup_tampering", "cloudtrail_tampering", "console_login_failed", "iter_records",
    "normalize", "root_activity", "s3_public_access", "security_group_open_to_world", "snapshot_shared_externally",
]

#: The detail-types EventBridge gives CloudTrail records (``detail`` is the record).
CLOUDTRAIL_DETAIL_TYPES = frozenset({"AWS API Call via CloudTrail", "AWS Console Sign In via CloudTrail"})
ADMINISTRATOR_ACCESS = re.compile(r"^arn:aws[a-z-]*:iam::aws:policy/AdministratorAccess$")
ALL_USERS_URI = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS_URI = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
PUBLIC_CANNED_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})
PUBLIC_ACCESS_BLOCK_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
#: Condition keys that tie a bucket-policy grant to known principals or networks (see :func:`s3_public_access`).
RESTRICTING_CONDITION_KEYS = frozenset({
    "aws:principalaccount", "aws:principalarn", "aws:principalorgid", "aws:principalorgpaths", "aws:sourceaccount",
    "aws:sourcearn", "aws:sourceip", "aws:sourceorgid", "aws:sourceorgpaths", "aws:sourcevpc", "aws:sourcevpce",
    "aws:userid", "aws:username", "aws:principalservicename", "s3:dataaccesspointaccount", "s3:dataaccesspointarn",
})


# --- the record -----------------------------------------------------------------------------------------------


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


def _is_ip(value: str | None) -> bool:
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
        "sourceIsAwsService": parsed.source_ip_address is not None and not _is_ip(parsed.source_ip_address),
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


# --- configuration and findings -------------------------------------------------------------------------------


class CloudTrailRules(BaseModel):
    """What the CloudTrail predicates need to know about us. Strict: a typo is an error, not a silent default.

    Example::

        {"snapshot_share_allowlist": ["210987654321"],
         "protected_buckets": ["churnguard-ops-backups-*", "churnguard-prod-data"],
         "backup_role_arn_patterns": ["arn:aws:iam::*:role/churnguard-ops-backup*"],
         "snapshot_prefix": "churnguard-ops-"}
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Accounts that may receive our RDS/EBS snapshots and AMIs (a DR account, say). Our own account always may.
    snapshot_share_allowlist: frozenset[str] = frozenset()
    #: Buckets whose versioning, replication and encryption are backups' lifeline: names or globs (``*``, ``?``).
    protected_buckets: frozenset[str] = frozenset()
    #: Role ARNs (globs) allowed to delete our snapshots: the backup function's role (retention), the drill's.
    #: Matched against the session issuer's role ARN, path included.
    backup_role_arn_patterns: tuple[str, ...] = ("arn:aws:iam::*:role/churnguard-ops-backup*",)
    #: Our snapshots are named ``<prefix>...``.
    snapshot_prefix: str = Field(default=SNAPSHOT_PREFIX, min_length=1)

    @field_validator("snapshot_share_allowlist")
    @classmethod
    def _account_ids(cls, value: frozenset[str]) -> frozenset[str]:
        bad = sorted(account for account in value if not re.fullmatch(r"\d{12}", account))
        if bad:
            raise ValueError(f"not 12-digit AWS account ids: {bad}")
        return value

    @field_validator("backup_role_arn_patterns")
    @classmethod
    def _role_patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [pattern for pattern in value if not pattern.startswith("arn:") or ":role/" not in pattern]
        if bad:
            raise ValueError(f"not IAM role ARN patterns (arn:aws:iam::<account>:role/<name>): {bad}")
        return value

    def is_protected_bucket(self, bucket: str | None) -> bool:
        return bool(bucket) and any(fnmatchcase(str(bucket), pattern) for pattern in self.protected_buckets)

    def may_receive_snapshots(self, account: str, own_account: str | None) -> bool:
        return account == own_account or account in self.snapshot_share_allowlist


@dataclass(frozen=True)
class Finding:
    """What one predicate saw in one record; the engine turns it into an alert (count, window, dedup, ...)."""

    detector: str
    severity: Severity
    entity: str
    recommended_action: str
    context: dict[str, Any]


# --- helpers --------------------------------------------------------------------------------------------------


def _failed(event: Event) -> bool:
    return bool(event.details.get("errorCode"))


def _source(event: Event) -> str:
    return str(event.details.get("eventSource") or "")


def _params(event: Event) -> dict[str, Any]:
    params = event.details.get("requestParameters")
    return params if isinstance(params, dict) else {}


def _response(event: Event) -> dict[str, Any]:
    response = event.details.get("responseElements")
    return response if isinstance(response, dict) else {}


def _identity(event: Event) -> dict[str, Any]:
    identity = event.details.get("userIdentity")
    return identity if isinstance(identity, dict) else {}


def _account(event: Event) -> str | None:
    account = event.details.get("recipientAccountId")
    return str(account) if account else None


def _as_list(value: Any) -> list[Any]:
    """CloudTrail writes one-element lists as the element in some services (XML-derived JSON): accept both."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _items(container: Any) -> list[Any]:
    """EC2's ``{"items": [...]}`` wrapper (or a bare list)."""
    if isinstance(container, dict):
        return _as_list(container.get("items"))
    return _as_list(container)


def _context(event: Event, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "event_name": event.type,
        "event_source": _source(event),
        "time": event.time.isoformat(),
        "actor": event.user_id,
        "actor_arn": _identity(event).get("arn"),
        "source_ip": event.source_ip,
        "account": _account(event),
        "region": event.details.get("awsRegion"),
        **extra,
    }


def _policy_document(value: Any) -> dict[str, Any] | None:
    """A policy as logged: an object, a JSON string, or a URL-encoded JSON string. ``None`` if unreadable."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    for text in (value, unquote(value)):
        try:
            document = json.loads(text)
        except ValueError:
            continue
        return document if isinstance(document, dict) else None
    return None


def _statements(document: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not document:
        return []
    return [statement for statement in _as_list(document.get("Statement")) if isinstance(statement, dict)]


def _allows(statement: dict[str, Any]) -> bool:
    return str(statement.get("Effect", "")).lower() == "allow"


# --- predicates -----------------------------------------------------------------------------------------------


def root_activity(event: Event, config: CloudTrailRules) -> Finding | None:
    """The root user signed in or called an API. Critical.

    Rule (CIS AWS Foundations "root account usage" filter): ``userIdentity.type == "Root"``, no
    ``userIdentity.invokedBy`` (an AWS service acting with the root's credentials, e.g. CloudFormation running
    a stack root created, is not the root acting), and ``eventType != "AwsServiceEvent"``. Read-only calls
    count too: root should not be used at all. A failed call is not activity; neither is a failed root
    console sign-in (``responseElements.ConsoleLogin == "Failure"``, no ``errorCode``): that one is an input of
    ``console_brute_force``.
    """
    identity = _identity(event)
    if identity.get("type") != "Root" or identity.get("invokedBy") or _failed(event):
        return None
    if event.details.get("eventType") == "AwsServiceEvent" or console_login_failed(event):
        return None
    account = _account(event) or identity.get("accountId")
    signed_in = event.type == "ConsoleLogin"
    extra = event.details.get("additionalEventData")
    mfa = extra.get("MFAUsed") if isinstance(extra, dict) else None
    return Finding(
        detector="root_activity",
        severity="critical",
        entity=event.user_id or f"root:{account}",
        recommended_action=(
            "Confirm with the account owner that root was used on purpose; if not, reset the root password, "
            "rotate or delete root access keys, check root MFA, and review everything root did since."),
        context=_context(event, action="signed in to the console" if signed_in else "called an API",
                         mfa_used=mfa),
    )


def console_login_failed(event: Event) -> bool:
    """A failed console sign-in: ``ConsoleLogin`` whose result (``responseElements.ConsoleLogin``, or
    ``additionalEventData.ConsoleLogin`` in some exports) is ``"Failure"``, or whose ``errorMessage`` is
    ``"Failed authentication"``. The engine's ``console_brute_force`` counts these per source IP; a record whose
    ``sourceIPAddress`` is not an address (``details.sourceIsAwsService``) should not be counted per IP.
    """
    if event.type != "ConsoleLogin":
        return False
    for section in (_response(event), event.details.get("additionalEventData")):
        if isinstance(section, dict) and section.get("ConsoleLogin") == "Failure":
            return True
    return event.details.get("errorMessage") == "Failed authentication"


_ATTACH = {"AttachUserPolicy": "user", "AttachGroupPolicy": "group", "AttachRolePolicy": "role"}
_INLINE = {"PutUserPolicy": "user", "PutGroupPolicy": "group", "PutRolePolicy": "role"}
_TARGET_KEY = {"user": "userName", "group": "groupName", "role": "roleName"}


def _grants_everything(document: dict[str, Any] | None) -> bool:
    """An ``Allow`` statement whose ``Action`` includes ``*`` (or ``*:*``) and whose ``Resource`` includes ``*``."""
    for statement in _statements(document):
        actions = {str(action) for action in _as_list(statement.get("Action"))}
        resources = {str(resource) for resource in _as_list(statement.get("Resource"))}
        if _allows(statement) and actions & {"*", "*:*"} and "*" in resources:
            return True
    return False


def admin_policy_attached(event: Event, config: CloudTrailRules) -> Finding | None:
    """Full admin given to a user, group or role, managed or inline. High.

    Rule: ``Attach{User,Group,Role}Policy`` of ``arn:aws:iam::aws:policy/AdministratorAccess`` (any partition);
    ``Put{User,Group,Role}Policy``, ``CreatePolicy`` or ``CreatePolicyVersion`` whose ``policyDocument`` has an
    ``Allow`` statement with ``Action`` ``*`` (or ``*:*``) on ``Resource`` ``*``. The document may be an object, a
    JSON string or URL-encoded JSON; ``Statement``, ``Action`` and ``Resource`` may be one value or a list.
    Decided: a ``Condition`` on that statement does not clear it (admin under a condition is still admin);
    ``NotAction`` statements are not judged; ``CreatePolicy`` alerts on creation, before any attachment,
    and ``CreatePolicyVersion`` whether or not ``setAsDefault`` is true (it can be made default later silently).
    """
    if _failed(event) or _source(event) != "iam.amazonaws.com":
        return None
    params = _params(event)
    account = _account(event)
    if event.type in _ATTACH:
        policy_arn = str(params.get("policyArn") or "")
        if not ADMINISTRATOR_ACCESS.match(policy_arn):
            return None
        kind = _ATTACH[event.type]
        how = "managed"
    elif event.type in _INLINE:
        if not _grants_everything(_policy_document(params.get("policyDocument"))):
            return None
        kind = _INLINE[event.type]
        policy_arn = f"inline:{params.get('policyName')}"
        how = "inline"
    elif event.type in ("CreatePolicy", "CreatePolicyVersion"):
        if not _grants_everything(_policy_document(params.get("policyDocument"))):
            return None
        policy = _response(event).get("policy")
        policy_arn = str(params.get("policyArn")
                         or (policy.get("arn") if isinstance(policy, dict) else None)
                         or f"arn:aws:iam::{account}:policy/{params.get('policyName')}")
        return Finding(
            detector="admin_policy_attached",
            severity="high",
            entity=policy_arn,
            recommended_action=(
                "A customer managed policy now grants * on *: confirm it was intended; if not, delete the policy "
                "version (or the policy) and find who can attach it."),
            context=_context(event, policy_arn=policy_arn, how="customer managed policy granting * on *",
                             set_as_default=params.get("setAsDefault")),
        )
    else:
        return None
    name = params.get(_TARGET_KEY[kind])
    entity = f"arn:aws:iam::{account}:{kind}/{name}" if account else f"{kind}/{name}"
    return Finding(
        detector="admin_policy_attached",
        severity="high",
        entity=entity,
        recommended_action=(
            f"Confirm the change with its author; if unexpected, detach/delete the policy from {kind} {name}, "
            "then review what that principal did with admin rights."),
        context=_context(event, target_type=kind, target=name, policy=policy_arn, how=how),
    )


def _selectors_cut_down(selectors: list[Any]) -> str | None:
    """Why basic event selectors no longer log every management event, or ``None`` if they still do."""
    read_write: set[str] = set()
    excluded: list[str] = []
    for selector in selectors:
        if not isinstance(selector, dict) or selector.get("includeManagementEvents") is False:
            continue
        sources = _as_list(selector.get("excludeManagementEventSources"))
        if sources:
            excluded.extend(str(source) for source in sources)
            continue
        read_write.add(str(selector.get("readWriteType") or "All"))
    if "All" in read_write or {"ReadOnly", "WriteOnly"} <= read_write:
        return None
    if excluded:
        return f"management events of {sorted(set(excluded))} excluded"
    if read_write:
        return f"management events narrowed to {sorted(read_write)}"
    return "management events not logged (includeManagementEvents false)"


def _advanced_selectors_cut_down(selectors: list[Any]) -> str | None:
    """Advanced selectors keep all management events if one selects ``eventCategory = Management`` with no other
    field, or the ``Management`` selectors' only other field is ``readOnly`` and together they cover both values."""
    read_only: set[str] = set()
    narrowed = False
    for selector in selectors:
        if not isinstance(selector, dict):
            continue
        fields = [field for field in _as_list(selector.get("fieldSelectors")) if isinstance(field, dict)]
        category = [field for field in fields if field.get("field") == "eventCategory"]
        if not any("Management" in _as_list(field.get("equals")) for field in category):
            continue
        others = [field for field in fields if field.get("field") != "eventCategory"]
        if not others:
            return None
        if all(field.get("field") == "readOnly" and field.get("equals") for field in others):
            for field in others:
                read_only.update(str(value).lower() for value in _as_list(field.get("equals")))
        else:
            narrowed = True
    if {"true", "false"} <= read_only:
        return None
    if narrowed or read_only:
        return "management events filtered by advanced selectors"
    return "no advanced selector logs management events"


def cloudtrail_tampering(event: Event, config: CloudTrailRules) -> Finding | None:
    """A trail stopped, deleted, or its logging cut down. Critical.

    Rule: ``StopLogging``; ``DeleteTrail``; ``PutEventSelectors`` after which the trail's basic selectors no longer
    log all management events (every selector has ``includeManagementEvents`` false, ``readWriteType`` narrowed
    to ``ReadOnly`` or ``WriteOnly`` alone, or management event sources excluded); ``PutAdvancedEventSelectors``
    with no selector logging every management event (``eventCategory = Management`` plus any other filter than a
    ``readOnly`` split covering both values is a cut); ``UpdateTrail`` setting ``isMultiRegionTrail`` or
    ``includeGlobalServiceEvents`` to false. Decided: the new selectors are judged against "all management
    events" (the record does not hold the previous ones), so narrowing a trail that was already narrow alerts.
    Data-event selectors are not judged (they are opt-in and costed).
    """
    if _failed(event) or _source(event) != "cloudtrail.amazonaws.com":
        return None
    params = _params(event)
    trail = str(params.get("name") or params.get("trailName") or _response(event).get("trailARN") or "unknown-trail")
    reason: str | None
    if event.type == "StopLogging":
        reason = "logging stopped"
    elif event.type == "DeleteTrail":
        reason = "trail deleted"
    elif event.type == "PutEventSelectors":
        if "advancedEventSelectors" in params:
            reason = _advanced_selectors_cut_down(_as_list(params.get("advancedEventSelectors")))
        else:
            reason = _selectors_cut_down(_as_list(params.get("eventSelectors")))
    elif event.type == "PutAdvancedEventSelectors":
        reason = _advanced_selectors_cut_down(_as_list(params.get("advancedEventSelectors")))
    elif event.type == "UpdateTrail":
        cuts = [key for key in ("isMultiRegionTrail", "includeGlobalServiceEvents") if params.get(key) is False]
        reason = f"{' and '.join(cuts)} set to false" if cuts else None
    else:
        return None
    if reason is None:
        return None
    return Finding(
        detector="cloudtrail_tampering",
        severity="critical",
        entity=trail,
        recommended_action=(
            "Restore the trail now (StartLogging / recreate it / restore its selectors), then treat the actor's "
            "session as compromised: what happened while logging was reduced is only partly recorded."),
        context=_context(event, trail=trail, reason=reason),
    )


def _world(cidr: Any) -> bool:
    """``0.0.0.0/0``, ``::/0`` and any other spelling of a /0."""
    try:
        return ipaddress.ip_network(str(cidr).strip(), strict=False).prefixlen == 0
    except ValueError:
        return False


def _ingress_openings(event: Event) -> list[dict[str, Any]]:
    params = _params(event)
    openings: list[dict[str, Any]] = []
    if event.type == "AuthorizeSecurityGroupIngress":
        # Legacy flat form: cidrIp/ipProtocol/fromPort/toPort at the top of the request.
        if _world(params.get("cidrIp")):
            openings.append({"cidr": params.get("cidrIp"), "protocol": params.get("ipProtocol"),
                             "from_port": params.get("fromPort"), "to_port": params.get("toPort")})
        for permission in _items(params.get("ipPermissions")):
            if not isinstance(permission, dict):
                continue
            ranges = [(r.get("cidrIp"), r) for r in _items(permission.get("ipRanges")) if isinstance(r, dict)]
            ranges += [(r.get("cidrIpv6"), r) for r in _items(permission.get("ipv6Ranges")) if isinstance(r, dict)]
            openings += [{"cidr": cidr, "protocol": permission.get("ipProtocol"),
                          "from_port": permission.get("fromPort"), "to_port": permission.get("toPort")}
                         for cidr, _ in ranges if _world(cidr)]
    elif event.type == "ModifySecurityGroupRules":
        request = params.get("ModifySecurityGroupRulesRequest")
        request = request if isinstance(request, dict) else params
        for update in _as_list(request.get("SecurityGroupRule")):
            rule = update.get("SecurityGroupRule") if isinstance(update, dict) else None
            if not isinstance(rule, dict):
                continue
            for key in ("CidrIpv4", "CidrIpv6"):
                if _world(rule.get(key)):
                    openings.append({"cidr": rule.get(key), "protocol": rule.get("IpProtocol"),
                                     "from_port": rule.get("FromPort"), "to_port": rule.get("ToPort"),
                                     "rule_id": update.get("SecurityGroupRuleId")})
    return openings


def security_group_open_to_world(event: Event, config: CloudTrailRules) -> Finding | None:
    """Ingress opened to the whole internet (``0.0.0.0/0`` or ``::/0``). High.

    Rule: ``AuthorizeSecurityGroupIngress`` with a /0 in ``ipPermissions.items[].ipRanges.items[].cidrIp`` or
    ``ipv6Ranges.items[].cidrIpv6`` (or the legacy flat ``cidrIp``); ``ModifySecurityGroupRules`` whose
    ``SecurityGroupRule`` sets ``CidrIpv4``/``CidrIpv6`` to a /0. Decided: any port counts (443 on a load
    balancer's group is a legitimate case: suppress it by entity, don't weaken the rule); a
    ``ModifySecurityGroupRules`` record does not say whether the rule is ingress or egress, so it alerts either
    way (a false alarm on egress beats a missed ingress).
    """
    if _failed(event) or _source(event) != "ec2.amazonaws.com":
        return None
    openings = _ingress_openings(event)
    if not openings:
        return None
    params = _params(event)
    request = params.get("ModifySecurityGroupRulesRequest")
    group = params.get("groupId") or params.get("groupName") or (
        request.get("GroupId") if isinstance(request, dict) else None) or "unknown-group"
    ports = ", ".join(f"{o['protocol']}:{o['from_port']}-{o['to_port']} from {o['cidr']}" for o in openings)
    return Finding(
        detector="security_group_open_to_world",
        severity="high",
        entity=str(group),
        recommended_action=f"Revoke the world-open rule(s) on {group} ({ports}) unless the group fronts a public "
                           "endpoint; restrict the source to known CIDRs or a security group.",
        context=_context(event, group=group, openings=openings),
    )


def _public_statement(statement: dict[str, Any]) -> bool:
    """``Allow`` to principal ``*`` (``"*"``, ``{"AWS": "*"}``) with no condition that restricts who or where."""
    if not _allows(statement):
        return False
    principal = statement.get("Principal")
    if principal == "*":
        everyone = True
    elif isinstance(principal, dict):
        everyone = "*" in [str(value) for value in _as_list(principal.get("AWS"))]
    else:
        everyone = False
    return everyone and not _restricting_condition(statement.get("Condition"))


def _restricting_condition(condition: Any) -> bool:
    if not isinstance(condition, dict):
        return False
    for operator, tests in condition.items():
        op = str(operator)
        # Negated operators (StringNotEquals...) let everyone else in; ...IfExists passes when the key is absent.
        if "Not" in op or op.endswith("IfExists") or op == "Null" or not isinstance(tests, dict):
            continue
        for key, values in tests.items():
            if str(key).lower() not in RESTRICTING_CONDITION_KEYS:
                continue
            values = [str(value) for value in _as_list(values)]
            if not values or any(value == "*" for value in values):
                continue
            if str(key).lower() == "aws:sourceip" and any(_world(value) for value in values):
                continue
            return True
    return False


def _public_acl(params: dict[str, Any]) -> list[str]:
    """Public grantees of an ACL request: a canned ``x-amz-acl`` or any grant/header naming AllUsers or
    AuthenticatedUsers, wherever CloudTrail put it (body ``AccessControlPolicy`` or ``x-amz-grant-*`` headers)."""
    found: list[str] = []
    for canned in _as_list(params.get("x-amz-acl")):
        if str(canned) in PUBLIC_CANNED_ACLS:
            found.append(f"canned ACL {canned}")

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str):
            for uri in (ALL_USERS_URI, AUTHENTICATED_USERS_URI):
                if uri in value and uri.rsplit("/", 1)[-1] not in found:
                    found.append(uri.rsplit("/", 1)[-1])

    walk({key: value for key, value in params.items() if key != "x-amz-acl"})
    return found


def s3_public_access(event: Event, config: CloudTrailRules) -> Finding | None:
    """A public-access block removed or weakened, or a bucket made public by policy or ACL. High.

    Rule: ``DeletePublicAccessBlock`` (bucket) / ``DeleteAccountPublicAccessBlock``; ``PutPublicAccessBlock`` /
    ``PutAccountPublicAccessBlock`` where any of the four flags is not true (a flag left out defaults to false
    in the S3 API, so it counts as false); ``PutBucketPolicy`` with an ``Allow`` statement to principal ``*`` or
    ``{"AWS": "*"}`` that has no restricting condition; ``PutBucketAcl`` granting ``AllUsers`` or
    ``AuthenticatedUsers`` (body grants, ``x-amz-grant-*`` headers, or canned ``public-read``,
    ``public-read-write``, ``authenticated-read``). Decided, "restricting condition": a non-negated, non-IfExists
    operator on a key that names principals or networks (``aws:SourceVpce``, ``aws:SourceVpc``,
    ``aws:SourceIp`` other than a /0, ``aws:PrincipalOrgID``, ``aws:PrincipalAccount``, ``aws:SourceAccount``,
    ``aws:SourceArn``, ``aws:PrincipalArn``, ...) with a value other than ``*``. ``aws:SecureTransport`` and
    other transport conditions do not restrict who gets in.
    """
    if _failed(event) or _source(event) not in ("s3.amazonaws.com", "s3-control.amazonaws.com"):
        return None
    params = _params(event)
    bucket = params.get("bucketName")
    account = params.get("accountId") or _account(event)
    entity = str(bucket) if bucket else f"account:{account}"
    reason: str | None = None
    if event.type in ("DeletePublicAccessBlock", "DeleteAccountPublicAccessBlock"):
        reason = "public access block removed"
    elif event.type in ("PutPublicAccessBlock", "PutAccountPublicAccessBlock"):
        configuration = params.get("PublicAccessBlockConfiguration")
        configuration = configuration if isinstance(configuration, dict) else {}
        off = [flag for flag in PUBLIC_ACCESS_BLOCK_FLAGS if configuration.get(flag) is not True
               and str(configuration.get(flag)).lower() != "true"]
        reason = f"public access block weakened: {', '.join(off)} false" if off else None
    elif event.type == "PutBucketPolicy":
        statements = _statements(_policy_document(params.get("bucketPolicy") or params.get("policy")))
        public = [statement.get("Sid") or f"Statement[{index}]" for index, statement in enumerate(statements)
                  if _public_statement(statement)]
        reason = f"bucket policy allows everyone ({', '.join(map(str, public))})" if public else None
    elif event.type == "PutBucketAcl":
        grantees = _public_acl(params)
        reason = f"ACL grants {', '.join(grantees)}" if grantees else None
    if reason is None:
        return None
    return Finding(
        detector="s3_public_access",
        severity="high",
        entity=entity,
        recommended_action=f"Restore the public access block on {entity} and remove the public grant unless the "
                           "bucket is meant to be public (then suppress it by entity with a reason).",
        context=_context(event, bucket=bucket, reason=reason),
    )


def _foreign_accounts(values: list[Any], event: Event, config: CloudTrailRules) -> list[str]:
    own = _account(event)
    return [str(value) for value in values
            if str(value).lower() == "all" or not config.may_receive_snapshots(str(value), own)]


def _permission_grantees(attribute: Any) -> list[str]:
    """EC2 ``{"add": {"items": [{"group": "all"} | {"userId": "..."}]}}`` -> ``["all", "<account>", ...]``."""
    added = attribute.get("add") if isinstance(attribute, dict) else None
    grantees: list[str] = []
    for item in _items(added):
        if isinstance(item, dict):
            if item.get("group"):
                grantees.append(str(item["group"]))
            if item.get("userId"):
                grantees.append(str(item["userId"]))
    return grantees


def snapshot_shared_externally(event: Event, config: CloudTrailRules) -> Finding | None:
    """A snapshot or image made public or shared with an account not on the allowlist. Critical: this is how
    backups are stolen (share, then restore in the thief's account).

    Rule: ``ModifyDBSnapshotAttribute`` / ``ModifyDBClusterSnapshotAttribute`` with ``attributeName`` ``restore``
    and ``valuesToAdd`` holding ``all`` or an account that is neither ours (``recipientAccountId``) nor on
    ``snapshot_share_allowlist``; ``ModifySnapshotAttribute`` (EBS) adding ``createVolumePermission`` for group
    ``all`` or such an account; ``ModifyImageAttribute`` adding ``launchPermission`` likewise. Decided: AMI
    shares to an organization or OU ARN are not judged (they name no account); removals never alert.
    """
    if _failed(event):
        return None
    params = _params(event)
    if event.type in ("ModifyDBSnapshotAttribute", "ModifyDBClusterSnapshotAttribute"):
        if _source(event) != "rds.amazonaws.com" or str(params.get("attributeName", "")).lower() != "restore":
            return None
        resource = params.get("dBSnapshotIdentifier") or params.get("dBClusterSnapshotIdentifier")
        grantees = [str(value) for value in _as_list(params.get("valuesToAdd"))]
        kind = "RDS snapshot"
    elif event.type == "ModifySnapshotAttribute" and _source(event) == "ec2.amazonaws.com":
        resource = params.get("snapshotId")
        grantees = _permission_grantees(params.get("createVolumePermission"))
        kind = "EBS snapshot"
    elif event.type == "ModifyImageAttribute" and _source(event) == "ec2.amazonaws.com":
        resource = params.get("imageId")
        grantees = _permission_grantees(params.get("launchPermission"))
        kind = "AMI"
    else:
        return None
    foreign = _foreign_accounts(grantees, event, config)
    if not foreign:
        return None
    public = any(value.lower() == "all" for value in foreign)
    return Finding(
        detector="snapshot_shared_externally",
        severity="critical",
        entity=str(resource),
        recommended_action=(
            f"Remove the share of {kind} {resource} now (valuesToRemove / remove the permission), then find out "
            "whether the other account already copied or restored it, and revoke the actor's credentials."),
        context=_context(event, resource=resource, resource_kind=kind, shared_with=foreign, public=public),
    )


def _role_arn(event: Event) -> str | None:
    identity = _identity(event)
    if identity.get("type") != "AssumedRole":
        return None
    issuer = identity.get("sessionIssuerArn")
    return str(issuer) if issuer else None


def _snapshot_name(identifier: Any) -> str:
    """``arn:aws:rds:<region>:<account>:snapshot:<name>`` or ``<name>`` -> ``<name>``."""
    text = str(identifier or "")
    return text.rsplit(":", 1)[-1] if text.startswith("arn:") else text


def backup_tampering(event: Event, config: CloudTrailRules) -> Finding | None:
    """Something that quietly destroys the backups: a KMS key disabled or scheduled for deletion; versioning
    suspended, replication or default encryption removed on a protected bucket; one of our snapshots deleted by
    anyone but our backup role. Critical.

    Rule: KMS ``DisableKey`` / ``ScheduleKeyDeletion`` on any key (the snapshots and buckets are encrypted with
    keys we cannot tell apart from a record); S3 ``PutBucketVersioning`` with ``Status`` ``Suspended``,
    ``DeleteBucketReplication``, ``DeleteBucketEncryption`` on a bucket in ``protected_buckets``; RDS
    ``DeleteDBSnapshot`` / ``DeleteDBClusterSnapshot`` of an identifier starting with ``snapshot_prefix`` unless
    the caller is an assumed role whose role ARN matches ``backup_role_arn_patterns``. Decided: the drill's and
    retention's roles must be listed there too, or their routine deletes alert; a service acting for a user
    (``invokedBy``) is judged as that user.
    """
    if _failed(event):
        return None
    params = _params(event)
    source = _source(event)
    resource: str | None = None
    reason: str | None = None
    if source == "kms.amazonaws.com" and event.type in ("DisableKey", "ScheduleKeyDeletion"):
        arns = [r.get("ARN") for r in _as_list(event.details.get("resources")) if isinstance(r, dict)]
        resource = str(params.get("keyId") or next((arn for arn in arns if arn), "unknown-key"))
        reason = "key disabled" if event.type == "DisableKey" else (
            f"key scheduled for deletion in {params.get('pendingWindowInDays', 30)} days")
    elif source == "s3.amazonaws.com" and event.type in (
            "PutBucketVersioning", "DeleteBucketReplication", "DeleteBucketEncryption"):
        bucket = params.get("bucketName")
        if not config.is_protected_bucket(bucket):
            return None
        resource = str(bucket)
        if event.type == "PutBucketVersioning":
            versioning = params.get("VersioningConfiguration")
            status = versioning.get("Status") if isinstance(versioning, dict) else None
            reason = "versioning suspended" if status in ("Suspended", "Disabled") else None
        else:
            reason = "replication removed" if event.type == "DeleteBucketReplication" else "default encryption removed"
    elif source == "rds.amazonaws.com" and event.type in ("DeleteDBSnapshot", "DeleteDBClusterSnapshot"):
        name = _snapshot_name(params.get("dBSnapshotIdentifier") or params.get("dBClusterSnapshotIdentifier"))
        if not name.startswith(config.snapshot_prefix):
            return None
        role = _role_arn(event)
        if role and any(fnmatchcase(role, pattern) for pattern in config.backup_role_arn_patterns):
            return None
        resource = name
        reason = f"our snapshot deleted by {event.user_id or 'an unknown principal'}, not the backup role"
    if resource is None or reason is None:
        return None
    return Finding(
        detector="backup_tampering",
        severity="critical",
        entity=resource,
        recommended_action=(
            "Undo it now (EnableKey / CancelKeyDeletion, re-enable versioning, replication or encryption; for a "
            "deleted snapshot, take a fresh backup and check the DR copies), then revoke the actor's credentials."),
        context=_context(event, resource=resource, reason=reason),
    )


#: The predicates by detector name (``console_login_failed`` feeds the engine's ``console_brute_force``).
PREDICATES: Mapping[str, Callable[[Event, CloudTrailRules], Finding | None]] = {
    "root_activity": root_activity,
    "admin_policy_attached": admin_policy_attached,
    "cloudtrail_tampering": cloudtrail_tampering,
    "security_group_open_to_world": security_group_open_to_world,
    "s3_public_access": s3_public_access,
    "snapshot_shared_externally": snapshot_shared_externally,
    "backup_tampering": backup_tampering,
}
