"""The evaluate handler: the sample events answered with reasons; a malformed event refused naming the field."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from churnguard_ops.core.errors import InvalidEvent
from churnguard_ops.core.fakes import RecordingMetrics
from churnguard_ops.flags import wiring
from churnguard_ops.flags.client import FlagClient
from churnguard_ops.flags.store import FlagStore
from tests.events import load_event
from tests.unit.flags_fakes import SEED_DOCUMENT, ManualClock, ScriptedSource

# Powertools' Tracer imports the X-Ray SDK, whose recorder makes a UDP socket object at import (it sends
# nothing with tracing disabled): import it at collection, before sockets are forbidden.
importlib.import_module("aws_xray_sdk.core")

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = SimpleNamespace(function_name="churnguard-ops-flags-evaluate", memory_limit_in_mb=256,
                          invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:flags",
                          aws_request_id="req-1")


@pytest.fixture(scope="module")
def app() -> ModuleType:
    spec = importlib.util.spec_from_file_location("flags_app", ROOT / "functions" / "flags" / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def source(monkeypatch: pytest.MonkeyPatch) -> ScriptedSource:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ChurnGuardOps")
    scripted = ScriptedSource(SEED_DOCUMENT)
    metrics = RecordingMetrics()
    store = FlagStore(scripted, ManualClock(), metrics, cache_seconds=45, max_stale_seconds=3600,
                      application="churnguard-ops-flags", environment="production")
    monkeypatch.setattr(wiring, "client", lambda: FlagClient(store, metrics, lambda: 1.0, exposure_sample_rate=0))
    return scripted


def _evaluate(app: ModuleType, event: Any) -> dict[str, Any]:
    return app.evaluate(event, CONTEXT)


def test_the_new_dashboard_sample_is_answered_with_its_bucket_and_reason(app: ModuleType, source: Any) -> None:
    [answer] = _evaluate(app, load_event("flags/evaluate-new-dashboard-ui.json"))["evaluations"]
    assert answer == {"flag": "new_dashboard_ui", "value": False, "reason": "rollout", "variant": "off",
                      "bucket": 62394, "threshold": 10_000, "version": "1", "stale": False}


def test_the_advanced_analytics_sample_matches_the_enterprise_rule(app: ModuleType, source: Any) -> None:
    [answer] = _evaluate(app, load_event("flags/evaluate-advanced-analytics.json"))["evaluations"]
    assert (answer["value"], answer["reason"], answer["variant"]) == (
        True, "rule:professional and enterprise tiers", "rule")


def test_the_evaluate_all_sample_answers_every_flag(app: ModuleType, source: Any) -> None:
    answers = _evaluate(app, load_event("flags/evaluate-all.json"))["evaluations"]
    assert [(a["flag"], a["variant"]) for a in answers] == [("new_dashboard_ui", "off"), ("advanced_analytics", "rule")]


def test_a_store_failure_answers_null_with_reason_store_error(app: ModuleType, source: ScriptedSource) -> None:
    source.fail()
    [answer] = _evaluate(app, load_event("flags/evaluate-new-dashboard-ui.json"))["evaluations"]
    assert (answer["value"], answer["reason"], answer["variant"]) == (None, "store_error", "error")


@pytest.mark.parametrize(("event", "field"), [
    ({"flags": ["New_Dashboard"], "context": {}}, "flags.0: "),
    ({"flags": [], "context": {}}, "flags: "),
    ({"flags": "new_dashboard_ui"}, "flags: "),
    ({"context": ["user_id"]}, "context: "),
    ({"context": {}, "flag": ["x"]}, "flag: "),
    (["new_dashboard_ui"], "event: "),
])
def test_a_malformed_event_is_refused_naming_the_field(app: ModuleType, source: ScriptedSource, event: Any,
                                                       field: str) -> None:
    with pytest.raises(InvalidEvent, match="^" + field):
        _evaluate(app, event)
    assert source.fetches == 0
