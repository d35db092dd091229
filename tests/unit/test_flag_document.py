"""The flag document: Powertools' rule schema plus our rollout and kill switch, each error naming its field."""
from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from churnguard_ops.core.flag_document import FlagDocument
from tests.unit.flags_fakes import SEED_DOCUMENT

SEED: dict[str, Any] = SEED_DOCUMENT  # the seed's two flags, as cdk.json has them
RULE = "professional and enterprise tiers"


def _with(change) -> bytes:
    doc = copy.deepcopy(SEED)
    change(doc)
    return json.dumps(doc).encode()


def test_the_seed_document_parses_and_round_trips_through_its_json() -> None:
    doc = FlagDocument.parse_json(json.dumps(SEED).encode())
    assert doc.get("new_dashboard_ui").rollout.threshold == 10_000
    assert list(doc.get("advanced_analytics").rules) == [RULE]
    assert FlagDocument.parse_json(doc.to_json()) == doc


def test_a_percentage_with_three_decimals_is_125_of_100000_buckets() -> None:
    doc = FlagDocument.parse_json(_with(lambda d: d["new_dashboard_ui"]["rollout"].update(percentage=0.125)))
    assert doc.get("new_dashboard_ui").rollout.threshold == 125


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d["new_dashboard_ui"]["rollout"].update(percentage=0.1234), "new_dashboard_ui.rollout.percentage: "),
    (lambda d: d["new_dashboard_ui"]["rollout"].update(percentage=100.5), "new_dashboard_ui.rollout.percentage: "),
    (lambda d: d["new_dashboard_ui"]["rollout"].update(percentage=-1), "new_dashboard_ui.rollout.percentage: "),
    (lambda d: d["new_dashboard_ui"]["rollout"].update(value="yes"), "new_dashboard_ui.rollout.value: "),
    (lambda d: d["new_dashboard_ui"].update(kill_switch="maybe"), "new_dashboard_ui.kill_switch: "),
    (lambda d: d["new_dashboard_ui"].update(kilswitch=True), "new_dashboard_ui.kilswitch: "),
    (lambda d: d["advanced_analytics"].update(default="on"), "advanced_analytics.default: "),
    (lambda d: d["advanced_analytics"]["rules"][RULE].update(when_match=1),
     f"advanced_analytics.rules.{RULE}.when_match: "),
    (lambda d: d["advanced_analytics"]["rules"][RULE]["conditions"][0].update(action="LIKE"),
     f"advanced_analytics.rules.{RULE}.conditions.0.action: "),
    (lambda d: d["advanced_analytics"]["rules"][RULE].update(conditions=[]),
     f"advanced_analytics.rules.{RULE}.conditions: "),
    (lambda d: d["advanced_analytics"]["rules"].update({" ": d["advanced_analytics"]["rules"][RULE]}),
     "advanced_analytics.rules: "),
    (lambda d: d.update({"NewFlag": {"default": False}}), "NewFlag: flag key must match"),
    (lambda d: d.update({"x" * 65: {"default": False}}), "x" * 65 + ": flag key must match"),
])
def test_an_invalid_document_is_refused_naming_the_field(change, field: str) -> None:
    with pytest.raises(ValueError, match="^" + field.replace(".", r"\.")):
        FlagDocument.parse_json(_with(change))


def test_powertools_validates_its_own_part_of_each_flag() -> None:
    schedule = {"action": "SCHEDULE_BETWEEN_TIME_RANGE", "key": "CURRENT_TIME", "value": {"START": "25:00", "END": "x"}}
    with pytest.raises(ValueError, match="^advanced_analytics: 'START' and 'END' must be a valid time format"):
        FlagDocument.parse_json(_with(lambda d: d["advanced_analytics"]["rules"][RULE].update(conditions=[schedule])))


def test_a_non_boolean_flag_needs_powertools_boolean_type_false_and_values_of_its_kind() -> None:
    flag = {"default": "classic", "boolean_type": False,
            "rollout": {"percentage": 50, "value": "modern"}}
    doc = FlagDocument.parse_json(json.dumps({"theme": flag}))
    assert doc.get("theme").rollout.value == "modern"
    with pytest.raises(ValueError, match="^theme.rollout.value: must be a string"):
        FlagDocument.parse_json(json.dumps({"theme": {**flag, "rollout": {"percentage": 5, "value": True}}}))


def test_bytes_that_are_not_a_json_object_are_refused() -> None:
    with pytest.raises(ValueError, match="not JSON"):
        FlagDocument.parse_json(b"{nope")
    with pytest.raises(ValueError, match="must be a JSON object of flags, got array"):
        FlagDocument.parse_json(b"[]")


def test_with_rollout_percentage_returns_a_copy_and_leaves_the_original() -> None:
    doc = FlagDocument.parse_json(json.dumps(SEED))
    ramped = doc.with_rollout_percentage("new_dashboard_ui", 50)
    assert ramped.get("new_dashboard_ui").rollout.percentage == 50
    assert doc.get("new_dashboard_ui").rollout.percentage == 10
    assert ramped.get("advanced_analytics") == doc.get("advanced_analytics")


def test_with_rollout_percentage_names_the_flag_that_cannot_take_it() -> None:
    doc = FlagDocument.parse_json(json.dumps(SEED))
    with pytest.raises(ValueError, match="^advanced_analytics: has no rollout"):
        doc.with_rollout_percentage("advanced_analytics", 5)
    with pytest.raises(ValueError, match="^missing: no such flag"):
        doc.with_rollout_percentage("missing", 5)
    with pytest.raises(ValueError, match=r"^new_dashboard_ui\.rollout\.percentage: "):
        doc.with_rollout_percentage("new_dashboard_ui", 100.0001)
