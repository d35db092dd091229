"""The ``incidents`` context: a typo fails synth; a partial escalation mapping merges over the defaults."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from churnguard_ops.incidents.settings import IncidentsSettings
from infra_cdk.incidents_settings import IncidentsContext

pytestmark = pytest.mark.infra


def test_a_partial_escalation_mapping_merges_over_the_defaults():
    context = IncidentsContext.model_validate({"escalate_after_minutes": {"warning": 60}})
    assert context.escalate_after_minutes == {"critical": 5, "warning": 60, "info": None}


@pytest.mark.parametrize(("context", "message"), [
    ({"escalate_after_minutes": {"urgent": 5}}, "unknown severities ['urgent']"),
    ({"escalate_after_minutes": {"critical": -1}}, "minutes must be >= 0 or null: ['critical']"),
    ({"group_window_minutes": -1}, "greater than or equal to 0"),
    ({"sweep_schedule": "every minute"}, "String should match pattern"),
    ({"auto_resolve": 10}, "Extra inputs are not permitted"),
])
def test_a_wrong_incidents_context_fails_naming_the_problem(context, message):
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        IncidentsContext.model_validate(context)


def test_the_function_reads_back_what_the_context_sets(monkeypatch):
    context = IncidentsContext(group_window_minutes=5, auto_resolve_minutes=0, retention_days=30,
                               escalate_after_minutes={"info": 120})
    for name, value in {**context.lambda_environment(), "INCIDENTS_TABLE": "t", "INCIDENTS_BUCKET": "b"}.items():
        monkeypatch.setenv(name, value)
    settings = IncidentsSettings()
    assert (settings.group_window_minutes, settings.auto_resolve_minutes, settings.retention_days) == (5, 0, 30)
    assert settings.escalate_after_minutes == {"critical": 5, "warning": 30, "info": 120}
    assert json.loads(context.lambda_environment()["INCIDENTS_ESCALATE_AFTER_MINUTES"])["info"] == 120
