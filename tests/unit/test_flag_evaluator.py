"""Evaluation order and Powertools' condition semantics: kill switch, rules, rollout, default, each with its reason."""
from __future__ import annotations

from typing import Any

import pytest

from churnguard_ops.core.flag_document import FlagDocument
from churnguard_ops.flags.bucketing import bucket
from churnguard_ops.flags.evaluator import evaluate
from tests.unit.flags_fakes import SEED_DOCUMENT

SEED = FlagDocument.from_data(SEED_DOCUMENT)


def _flag(**definition: Any) -> FlagDocument:
    return FlagDocument.from_data({"f": {"default": False, **definition}})


def _rule(when_match: Any, *conditions: tuple[str, str, Any]) -> dict[str, Any]:
    return {"when_match": when_match, "conditions": [{"action": a, "key": k, "value": v} for a, k, v in conditions]}


def _user_with_bucket(flag: str, salt: str, below: int | None = None, at_least: int | None = None) -> str:
    for n in range(100_000):
        b = bucket(flag, salt, f"user-{n}")
        if (below is None or b < below) and (at_least is None or b >= at_least):
            return f"user-{n}"
    raise AssertionError("no such user")


def test_a_flag_without_rules_or_rollout_is_its_default_with_reason_default() -> None:
    result = evaluate(_flag(), "f", {"user_id": "u-1"}, True)
    assert (result.value, result.reason, result.variant, result.bucket) == (False, "default", "default", None)


def test_a_flag_missing_from_the_document_is_the_callers_default() -> None:
    result = evaluate(SEED, "no_such_flag", {}, "caller")
    assert (result.value, result.reason) == ("caller", "flag_missing")


def test_the_seed_tiers_rule_matches_professional_and_enterprise_only() -> None:
    for tier, expected in [("professional", True), ("enterprise", True), ("free", False), ("starter", False)]:
        result = evaluate(SEED, "advanced_analytics", {"subscription_tier": tier}, False)
        assert result.value is expected, tier
    matched = evaluate(SEED, "advanced_analytics", {"subscription_tier": "enterprise"}, False)
    assert (matched.reason, matched.variant, matched.rule) == (
        "rule:professional and enterprise tiers", "rule", "professional and enterprise tiers")


def test_the_first_matching_rule_in_document_order_wins() -> None:
    doc = _flag(rules={"beta testers": _rule(True, ("EQUALS", "beta", True)),
                       "everyone in eu": _rule(False, ("EQUALS", "region", "eu"))})
    both = evaluate(doc, "f", {"beta": True, "region": "eu"}, None)
    assert (both.value, both.reason) == (True, "rule:beta testers")
    reordered = _flag(rules={"everyone in eu": _rule(False, ("EQUALS", "region", "eu")),
                             "beta testers": _rule(True, ("EQUALS", "beta", True))})
    assert evaluate(reordered, "f", {"beta": True, "region": "eu"}, None).reason == "rule:everyone in eu"


def test_a_rules_conditions_are_anded() -> None:
    doc = _flag(rules={"paying eu": _rule(True, ("EQUALS", "region", "eu"), ("IN", "tier", ["pro", "ent"]))})
    assert evaluate(doc, "f", {"region": "eu", "tier": "pro"}, None).value is True
    assert evaluate(doc, "f", {"region": "eu", "tier": "free"}, None).reason == "default"
    assert evaluate(doc, "f", {"region": "us", "tier": "pro"}, None).reason == "default"


def test_a_context_without_the_conditions_key_never_matches_not_even_not_in() -> None:
    doc = _flag(rules={"not banned": _rule(True, ("NOT_IN", "tier", ["banned"]))})
    assert evaluate(doc, "f", {}, None).reason == "default"
    assert evaluate(doc, "f", {"tier": "free"}, None).reason == "rule:not banned"


@pytest.mark.parametrize(("action", "value", "context_value", "matches"), [
    ("IN", ["a", "b"], "a", True), ("IN", ["a", "b"], "c", False),
    ("NOT_IN", ["a", "b"], "c", True), ("NOT_IN", ["a", "b"], "a", False),
    ("EQUALS", "a", "a", True), ("EQUALS", "a", "A", False), ("NOT_EQUALS", "a", "b", True),
    ("STARTSWITH", "churn", "churnguard", True), ("STARTSWITH", "churn", "guard", False),
    ("ENDSWITH", ".io", "x.io", True),
    ("KEY_GREATER_THAN_VALUE", 10, 11, True), ("KEY_GREATER_THAN_VALUE", 10, 10, False),
    ("KEY_GREATER_THAN_OR_EQUAL_VALUE", 10, 10, True), ("KEY_LESS_THAN_VALUE", 10, 9.5, True),
    ("KEY_LESS_THAN_OR_EQUAL_VALUE", 10, 11, False),
    ("ANY_IN_VALUE", ["a", "b"], ["b", "z"], True), ("ALL_IN_VALUE", ["a", "b"], ["a", "z"], False),
    ("VALUE_IN_KEY", "admin", ["admin", "ops"], True),
    ("STARTSWITH", "churn", 42, False),  # a comparison that raises is a non-match, as in Powertools
    ("KEY_GREATER_THAN_VALUE", 10, "eleven", False),
])
def test_condition_actions_compare_as_powertools_does(action: str, value: Any, context_value: Any,
                                                      matches: bool) -> None:
    doc = _flag(rules={"r": _rule(True, (action, "k", value))})
    assert (evaluate(doc, "f", {"k": context_value}, None).reason == "rule:r") is matches


def test_the_kill_switch_returns_the_default_before_rules_and_rollout() -> None:
    user = _user_with_bucket("f", "f", below=50_000)
    doc = _flag(kill_switch=True, rules={"all": _rule(True, ("EQUALS", "tier", "pro"))},
                rollout={"percentage": 100, "value": True})
    result = evaluate(doc, "f", {"user_id": user, "tier": "pro"}, True)
    assert (result.value, result.reason, result.variant) == (False, "kill_switch", "killed")


def test_a_matching_rule_decides_before_the_rollout() -> None:
    doc = _flag(rules={"staff": _rule(True, ("EQUALS", "staff", True))}, rollout={"percentage": 0, "value": True})
    result = evaluate(doc, "f", {"user_id": "u-1", "staff": True}, None)
    assert (result.value, result.variant, result.bucket) == (True, "rule", None)


def test_rollout_at_0_keeps_everyone_out_and_at_100_lets_everyone_in() -> None:
    for n in range(200):
        context = {"user_id": f"u-{n}"}
        off = evaluate(_flag(rollout={"percentage": 0, "value": True}), "f", context, None)
        on = evaluate(_flag(rollout={"percentage": 100, "value": True}), "f", context, None)
        assert (off.value, off.variant, off.threshold) == (False, "off", 0)
        assert (on.value, on.variant, on.threshold) == (True, "on", 100_000)


def test_rollout_at_0_125_percent_lets_in_exactly_the_buckets_below_125() -> None:
    doc = _flag(rollout={"percentage": 0.125, "value": True})
    inside, outside = _user_with_bucket("f", "f", below=125), _user_with_bucket("f", "f", at_least=125)
    result_in = evaluate(doc, "f", {"user_id": inside}, None)
    result_out = evaluate(doc, "f", {"user_id": outside}, None)
    assert (result_in.value, result_in.reason, result_in.variant, result_in.threshold) == (True, "rollout", "on", 125)
    assert result_in.bucket == bucket("f", "f", inside) < 125
    assert (result_out.value, result_out.variant) == (False, "off") and result_out.bucket >= 125


def test_the_rollout_reads_its_attribute_and_salt() -> None:
    doc = _flag(rollout={"percentage": 50, "value": True, "attribute": "account_id", "salt": "s1"})
    result = evaluate(doc, "f", {"account_id": "acct-9", "user_id": "ignored"}, None)
    assert result.bucket == bucket("f", "s1", "acct-9")
    assert evaluate(doc, "f", {"account_id": 1234}, None).bucket == bucket("f", "s1", "1234")


@pytest.mark.parametrize("context", [{}, {"user_id": None}, {"user_id": ""}, {"user_id": True}, {"user_id": ["u"]}])
def test_a_context_without_a_usable_rollout_attribute_gets_the_default(context: dict[str, Any]) -> None:
    result = evaluate(_flag(rollout={"percentage": 100, "value": True}), "f", context, None)
    assert (result.value, result.reason, result.variant, result.bucket) == (
        False, "rollout_attribute_missing", "default", None)


def test_the_seed_rollout_is_sticky_for_a_user_and_10_percent_of_users_get_it() -> None:
    first = evaluate(SEED, "new_dashboard_ui", {"user_id": "u-42"}, False)
    assert evaluate(SEED, "new_dashboard_ui", {"user_id": "u-42"}, False) == first
    share = sum(evaluate(SEED, "new_dashboard_ui", {"user_id": f"u-{n}"}, False).value for n in range(5000)) / 5000
    assert 0.08 < share < 0.12
