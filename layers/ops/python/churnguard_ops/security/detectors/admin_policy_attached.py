"""admin_policy_attached: full admin given to an IAM user, group or role (managed or inline policy)."""
from __future__ import annotations

import re
from typing import Any, ClassVar

from churnguard_ops.core.registry import PluginParams
from churnguard_ops.security.cloudtrail import fields
from churnguard_ops.security.model import Event

from .base import DETECTORS, Finding
from .cloudtrail_base import CloudTrailDetector

ADMINISTRATOR_ACCESS = re.compile(r"^arn:aws[a-z-]*:iam::aws:policy/AdministratorAccess$")
_ATTACH = {"AttachUserPolicy": "user", "AttachGroupPolicy": "group", "AttachRolePolicy": "role"}
_INLINE = {"PutUserPolicy": "user", "PutGroupPolicy": "group", "PutRolePolicy": "role"}
_CREATE = frozenset({"CreatePolicy", "CreatePolicyVersion"})
_TARGET_KEY = {"user": "userName", "group": "groupName", "role": "roleName"}


def grants_everything(document: dict[str, Any] | None) -> bool:
    """An ``Allow`` statement whose ``Action`` includes ``*`` (or ``*:*``) and whose ``Resource`` includes ``*``."""
    for statement in fields.statements(document):
        actions = {str(action) for action in fields.as_list(statement.get("Action"))}
        resources = {str(resource) for resource in fields.as_list(statement.get("Resource"))}
        if fields.allows(statement) and actions & {"*", "*:*"} and "*" in resources:
            return True
    return False


@DETECTORS.register
class AdminPolicyAttached(CloudTrailDetector):
    """Full admin given to a user, group or role, managed or inline (CloudTrail). High.

    Rule: ``Attach{User,Group,Role}Policy`` of ``arn:aws:iam::aws:policy/AdministratorAccess`` (any partition);
    ``Put{User,Group,Role}Policy``, ``CreatePolicy`` or ``CreatePolicyVersion`` whose ``policyDocument`` has an
    ``Allow`` statement with ``Action`` ``*`` (or ``*:*``) on ``Resource`` ``*``. The document may be an object, a
    JSON string or URL-encoded JSON; ``Statement``, ``Action`` and ``Resource`` may be one value or a list.
    Decided: a ``Condition`` on that statement does not clear it (admin under a condition is still admin);
    ``NotAction`` statements are not judged; ``CreatePolicy`` alerts on creation, before any attachment,
    and ``CreatePolicyVersion`` whether or not ``setAsDefault`` is true (it can be made default later silently).

    Entity: the principal's ARN (``arn:aws:iam::<account>:role/<name>``), or the customer managed policy's ARN
    for ``CreatePolicy*``. Context: ``how`` (managed, inline, customer managed policy), ``policy`` /
    ``policy_arn``, ``target_type``, ``target``, ``reason``.

    Example::

        {"detector": "admin_policy_attached", "params": {}}
    """

    name = "admin_policy_attached"
    Params: ClassVar[type[PluginParams]] = PluginParams
    severity = "high"
    recommended_action = ("Confirm the change with its author; if unexpected, detach or delete the policy (for a "
                          "customer managed policy granting * on *, delete that version or the policy and find who "
                          "can attach it), then review what the principal did with admin rights.")
    event_names = frozenset(_ATTACH) | frozenset(_INLINE) | _CREATE
    event_sources = frozenset({"iam.amazonaws.com"})

    def predicate(self, event: Event) -> Finding | None:
        params = fields.request(event)
        account = fields.account(event)
        if event.type in _ATTACH:
            policy_arn = str(params.get("policyArn") or "")
            if not ADMINISTRATOR_ACCESS.match(policy_arn):
                return None
            kind, how = _ATTACH[event.type], "managed"
        elif event.type in _INLINE:
            if not grants_everything(fields.policy_document(params.get("policyDocument"))):
                return None
            kind, how = _INLINE[event.type], "inline"
            policy_arn = f"inline:{params.get('policyName')}"
        elif event.type in _CREATE:
            if not grants_everything(fields.policy_document(params.get("policyDocument"))):
                return None
            policy = fields.response(event).get("policy")
            policy_arn = str(params.get("policyArn")
                             or (policy.get("arn") if isinstance(policy, dict) else None)
                             or f"arn:aws:iam::{account}:policy/{params.get('policyName')}")
            return self.finding(event, policy_arn, policy_arn=policy_arn,
                                how="customer managed policy granting * on *",
                                set_as_default=params.get("setAsDefault"),
                                reason=f"customer managed policy {policy_arn} grants * on * ({event.type})")
        else:
            return None
        name = params.get(_TARGET_KEY[kind])
        entity = f"arn:aws:iam::{account}:{kind}/{name}" if account else f"{kind}/{name}"
        given = "AdministratorAccess attached" if how == "managed" else \
            f"inline policy {params.get('policyName')} granting * on * put"
        return self.finding(event, entity, target_type=kind, target=name, policy=policy_arn, how=how,
                            reason=f"{given} on {kind} {name}")
