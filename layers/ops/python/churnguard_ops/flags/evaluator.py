"""Evaluate one flag of a document for one context: pure, no I/O.

Order: kill switch -> rules (document order, conditions ANDed, first match wins) -> rollout -> default.
Conditions use Powertools' own comparison table (``RULE_ACTION_MAPPING``), so an action means here what it
means in Powertools. Same as Powertools: a key absent from the context never matches (not even NOT_IN), a
comparison that raises (``STARTSWITH`` on a number) does not match, and the schedule actions compare the
current time (the condition's key names which). Divergence: Powertools warns and may call a registered
exception handler on a raising comparison; here it is a plain non-match.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.utilities.feature_flags.feature_flags import RULE_ACTION_MAPPING
from aws_lambda_powertools.utilities.feature_flags.schema import RuleAction

from churnguard_ops.core.flag_document import Condition, FlagDefinition, FlagDocument
from churnguard_ops.flags import bucketing
from churnguard_ops.flags.model import (
    REASON_DEFAULT,
    REASON_FLAG_MISSING,
    REASON_KILL_SWITCH,
    REASON_ROLLOUT,
    REASON_ROLLOUT_ATTRIBUTE_MISSING,
    RULE_REASON_PREFIX,
    VARIANT_DEFAULT,
    VARIANT_KILLED,
    VARIANT_OFF,
    VARIANT_ON,
    VARIANT_RULE,
    Evaluation,
)

#: Time-based actions compare the clock, not the context: the condition's key (CURRENT_TIME, ...) is the operand.
_SCHEDULE_ACTIONS = {RuleAction.SCHEDULE_BETWEEN_TIME_RANGE.value, RuleAction.SCHEDULE_BETWEEN_DATETIME_RANGE.value,
                     RuleAction.SCHEDULE_BETWEEN_DAYS_OF_WEEK.value}


def evaluate(document: FlagDocument, key: str, context: Mapping[str, Any], default: Any) -> Evaluation:
    """The flag's value for this context and the reason; ``default`` only when the document lacks the flag."""
    flag = document.get(key)
    if flag is None:
        return Evaluation(key, default, REASON_FLAG_MISSING, VARIANT_DEFAULT)
    return evaluate_flag(key, flag, context)


def evaluate_flag(key: str, flag: FlagDefinition, context: Mapping[str, Any]) -> Evaluation:
    if flag.kill_switch:
        return Evaluation(key, flag.default, REASON_KILL_SWITCH, VARIANT_KILLED)
    for name, rule in flag.rules.items():
        if all(condition_matches(condition, context) for condition in rule.conditions):
            return Evaluation(key, rule.when_match, RULE_REASON_PREFIX + name, VARIANT_RULE, rule=name)
    rollout = flag.rollout
    if rollout is None:
        return Evaluation(key, flag.default, REASON_DEFAULT, VARIANT_DEFAULT)
    user_id = rollout_id(context.get(rollout.attribute))
    if user_id is None:
        return Evaluation(key, flag.default, REASON_ROLLOUT_ATTRIBUTE_MISSING, VARIANT_DEFAULT)
    user_bucket = bucketing.bucket(key, rollout.salt_for(key), user_id)
    inside = user_bucket < rollout.threshold
    return Evaluation(key, rollout.value if inside else flag.default, REASON_ROLLOUT,
                      VARIANT_ON if inside else VARIANT_OFF, bucket=user_bucket, threshold=rollout.threshold)


def condition_matches(condition: Condition, context: Mapping[str, Any]) -> bool:
    if condition.action in _SCHEDULE_ACTIONS:
        operand: Any = condition.key
    elif condition.key in context:
        operand = context[condition.key]
    else:
        return False
    try:
        return bool(RULE_ACTION_MAPPING[condition.action](operand, condition.value))
    except Exception:  # noqa: BLE001 -- Powertools' semantics: a comparison that cannot be made does not match
        return False


def rollout_id(value: Any) -> str | None:
    """The bucketing id: a non-empty string, or an integer as its decimal text; anything else is missing."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None
