"""What one flag evaluation decided, and why."""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from churnguard_ops.core.contracts import FLAG_VARIANT_OFF, FLAG_VARIANT_ON

#: Reasons (``rule:<name>`` for a matched rule).
REASON_KILL_SWITCH = "kill_switch"
REASON_ROLLOUT = "rollout"
REASON_ROLLOUT_ATTRIBUTE_MISSING = "rollout_attribute_missing"
REASON_DEFAULT = "default"
REASON_STORE_ERROR = "store_error"
REASON_FLAG_MISSING = "flag_missing"
RULE_REASON_PREFIX = "rule:"

#: Variants: on/off are the rollout cohorts; the others are neither.
VARIANT_ON = FLAG_VARIANT_ON
VARIANT_OFF = FLAG_VARIANT_OFF
VARIANT_RULE = "rule"
VARIANT_DEFAULT = "default"
VARIANT_KILLED = "killed"
VARIANT_ERROR = "error"


@dataclass(frozen=True)
class Evaluation:
    flag: str
    value: Any
    reason: str
    variant: str
    #: the user's rollout bucket and the rollout's threshold, when a rollout decided
    bucket: int | None = None
    threshold: int | None = None
    #: the matched rule's name
    rule: str | None = None
    #: the AppConfig version label of the document that decided (None: unknown or no document)
    version: str | None = None
    #: true when the document is a last good copy served while the store fails
    stale: bool = False

    def with_source(self, version: str | None, stale: bool) -> Evaluation:
        return replace(self, version=version, stale=stale)

    def to_dict(self) -> dict[str, Any]:
        """The evaluate function's answer for one flag (the rule name is in ``reason``)."""
        answer = asdict(self)
        del answer["rule"]
        return answer
