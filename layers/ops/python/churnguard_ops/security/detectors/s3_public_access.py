"""s3_public_access: a public access block removed or weakened, or a bucket made public by policy or ACL."""
from __future__ import annotations

from typing import Any, ClassVar

from churnguard_ops.core.registry import PluginParams
from churnguard_ops.security.cloudtrail import fields
from churnguard_ops.security.model import Event

from .base import DETECTORS, Finding
from .cloudtrail_base import CloudTrailDetector

ALL_USERS_URI = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS_URI = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
PUBLIC_CANNED_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})
PUBLIC_ACCESS_BLOCK_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
#: Condition keys that tie a bucket-policy grant to known principals or networks.
RESTRICTING_CONDITION_KEYS = frozenset({
    "aws:principalaccount", "aws:principalarn", "aws:principalorgid", "aws:principalorgpaths", "aws:sourceaccount",
    "aws:sourcearn", "aws:sourceip", "aws:sourceorgid", "aws:sourceorgpaths", "aws:sourcevpc", "aws:sourcevpce",
    "aws:userid", "aws:username", "aws:principalservicename", "s3:dataaccesspointaccount", "s3:dataaccesspointarn",
})
_BLOCK_REMOVED = frozenset({"DeletePublicAccessBlock", "DeleteAccountPublicAccessBlock"})
_BLOCK_PUT = frozenset({"PutPublicAccessBlock", "PutAccountPublicAccessBlock"})


def public_statement(statement: dict[str, Any]) -> bool:
    """``Allow`` to principal ``*`` (``"*"``, ``{"AWS": "*"}``) with no condition that restricts who or where."""
    if not fields.allows(statement):
        return False
    principal = statement.get("Principal")
    if principal == "*":
        everyone = True
    elif isinstance(principal, dict):
        everyone = "*" in [str(value) for value in fields.as_list(principal.get("AWS"))]
    else:
        everyone = False
    return everyone and not restricting_condition(statement.get("Condition"))


def restricting_condition(condition: Any) -> bool:
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
            listed = [str(value) for value in fields.as_list(values)]
            if not listed or any(value == "*" for value in listed):
                continue
            if str(key).lower() == "aws:sourceip" and any(fields.world(value) for value in listed):
                continue
            return True
    return False


def public_acl(params: dict[str, Any]) -> list[str]:
    """Public grantees of an ACL request: a canned ``x-amz-acl`` or any grant/header naming AllUsers or
    AuthenticatedUsers, wherever CloudTrail put it (body ``AccessControlPolicy`` or ``x-amz-grant-*`` headers)."""
    found: list[str] = []
    for canned in fields.as_list(params.get("x-amz-acl")):
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


@DETECTORS.register
class S3PublicAccess(CloudTrailDetector):
    """A public-access block removed or weakened, or a bucket made public by policy or ACL (CloudTrail). High.

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

    Entity: the bucket, or ``account:<id>`` for the account-wide block; context: ``bucket``, ``reason``.

    Example::

        {"detector": "s3_public_access", "params": {}}
    """

    name = "s3_public_access"
    Params: ClassVar[type[PluginParams]] = PluginParams
    severity = "high"
    recommended_action = ("Restore the public access block and remove the public grant unless the bucket is meant "
                          "to be public (then suppress it by entity with a reason).")
    event_names = _BLOCK_REMOVED | _BLOCK_PUT | frozenset({"PutBucketPolicy", "PutBucketAcl"})
    event_sources = frozenset({"s3.amazonaws.com", "s3-control.amazonaws.com"})

    def predicate(self, event: Event) -> Finding | None:
        params = fields.request(event)
        bucket = params.get("bucketName")
        entity = str(bucket) if bucket else f"account:{params.get('accountId') or fields.account(event)}"
        reason = _reason(event.type, params)
        return None if reason is None else self.finding(event, entity, bucket=bucket, reason=reason)


def _reason(event_name: str, params: dict[str, Any]) -> str | None:
    if event_name in _BLOCK_REMOVED:
        return "public access block removed"
    if event_name in _BLOCK_PUT:
        configuration = params.get("PublicAccessBlockConfiguration")
        configuration = configuration if isinstance(configuration, dict) else {}
        off = [flag for flag in PUBLIC_ACCESS_BLOCK_FLAGS if configuration.get(flag) is not True
               and str(configuration.get(flag)).lower() != "true"]
        return f"public access block weakened: {', '.join(off)} false" if off else None
    if event_name == "PutBucketPolicy":
        document = fields.policy_document(params.get("bucketPolicy") or params.get("policy"))
        public = [statement.get("Sid") or f"Statement[{index}]"
                  for index, statement in enumerate(fields.statements(document)) if public_statement(statement)]
        return f"bucket policy allows everyone ({', '.join(map(str, public))})" if public else None
    if event_name == "PutBucketAcl":
        grantees = public_acl(params)
        return f"ACL grants {', '.join(grantees)}" if grantees else None
    return None
