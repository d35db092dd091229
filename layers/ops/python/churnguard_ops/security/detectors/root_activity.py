"""root_activity: the AWS account's root user signed in or called an API."""
from __future__ import annotations

from typing import ClassVar

from churnguard_ops.core.registry import PluginParams
from churnguard_ops.security.cloudtrail import fields
from churnguard_ops.security.model import Event

from .base import DETECTORS, Finding
from .cloudtrail_base import CloudTrailDetector


@DETECTORS.register
class RootActivity(CloudTrailDetector):
    """The root user signed in or called an API (CloudTrail). Critical.

    Rule (CIS AWS Foundations "root account usage" filter): ``userIdentity.type == "Root"``, no
    ``userIdentity.invokedBy`` (an AWS service acting with the root's credentials, e.g. CloudFormation running
    a stack root created, is not the root acting), and ``eventType != "AwsServiceEvent"``. Read-only calls
    count too: root should not be used at all. A failed call is not activity; neither is a failed root
    console sign-in (``responseElements.ConsoleLogin == "Failure"``, no ``errorCode``): that one is an input of
    ``console_brute_force``. Entity: ``root:<account>``; context: ``action`` (signed in / called an API),
    ``mfa_used``.

    Example::

        {"detector": "root_activity", "params": {}}
    """

    name = "root_activity"
    Params: ClassVar[type[PluginParams]] = PluginParams
    severity = "critical"
    recommended_action = ("Confirm with the account owner that root was used on purpose; if not, reset the root "
                          "password, rotate or delete root access keys, check root MFA, and review everything root "
                          "did since.")

    def applies(self, event: Event) -> bool:
        return super().applies(event) and fields.identity(event).get("type") == "Root"

    def predicate(self, event: Event) -> Finding | None:
        identity = fields.identity(event)
        if identity.get("type") != "Root" or identity.get("invokedBy"):
            return None
        if event.details.get("eventType") == "AwsServiceEvent" or fields.console_login_failed(event):
            return None
        account = fields.account(event) or identity.get("accountId")
        signed_in = event.type == "ConsoleLogin"
        extra = event.details.get("additionalEventData")
        mfa = extra.get("MFAUsed") if isinstance(extra, dict) else None
        action = "signed in to the console" if signed_in else "called an API"
        return self.finding(event, event.user_id or f"root:{account}", action=action, mfa_used=mfa,
                            reason=f"root {action}" + (f" (MFA used: {mfa})" if mfa else ""))
