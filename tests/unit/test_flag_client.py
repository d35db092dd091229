"""The facade: cohort metrics per outcome with exactly {Flag, FlagVariant}, sampled exposure, all flags at once."""
from __future__ import annotations

import json

import pytest

from churnguard_ops.core.fakes import RecordingMetrics
from churnguard_ops.flags.adapters import FlagEmfMetrics
from churnguard_ops.flags.client import FlagClient
from churnguard_ops.flags.model import Evaluation
from churnguard_ops.flags.store import FlagStore
from tests.unit.flags_fakes import SEED_DOCUMENT, ManualClock, ScriptedSource


def _client(metrics, random=lambda: 0.5, rate: float = 0.1) -> FlagClient:
    store = FlagStore(ScriptedSource(SEED_DOCUMENT), ManualClock(), metrics, cache_seconds=45,
                      max_stale_seconds=3600, application="churnguard-ops-flags", environment="production")
    return FlagClient(store, metrics, random, exposure_sample_rate=rate)


def test_record_outcome_emits_requests_errors_and_latency_for_the_evaluations_cohort() -> None:
    metrics = RecordingMetrics()
    on = Evaluation("new_dashboard_ui", True, "rollout", "on", bucket=12, threshold=10_000)
    _client(metrics).record_outcome(on, error=True, latency_ms=42.5)
    _client(metrics).record_outcome(on, error=False, latency_ms=7.0)
    cohort = {"Flag": "new_dashboard_ui", "FlagVariant": "on"}
    assert metrics.points == [("FlagRequests", 1, cohort), ("FlagErrors", 1, cohort), ("FlagLatency", 42.5, cohort),
                              ("FlagRequests", 1, cohort), ("FlagErrors", 0, cohort), ("FlagLatency", 7.0, cohort)]


def test_exposure_is_emitted_when_the_random_draw_is_below_the_sample_rate() -> None:
    draws = iter([0.05, 0.5, 0.099])
    metrics = RecordingMetrics()
    client = _client(metrics, random=lambda: next(draws), rate=0.1)
    for _ in range(3):
        client.evaluate("advanced_analytics", {"subscription_tier": "enterprise"}, False)
    exposures = [dims for name, _, dims in metrics.points if name == "FlagExposure"]
    assert exposures == [{"Flag": "advanced_analytics", "FlagVariant": "rule"}] * 2


def test_exposure_at_rate_1_is_one_per_evaluation_and_at_rate_0_none() -> None:
    always, never = RecordingMetrics(), RecordingMetrics()
    _client(always, random=lambda: 0.999, rate=1.0).evaluate_all({"user_id": "u-42"})
    _client(never, random=lambda: 0.0, rate=0.0).evaluate_all({"user_id": "u-42"})
    assert sorted(d["Flag"] for n, _, d in always.points if n == "FlagExposure") == [
        "advanced_analytics", "new_dashboard_ui"]
    assert never.points == []


def test_evaluate_all_answers_every_flag_in_document_order_with_its_version() -> None:
    results = _client(RecordingMetrics()).evaluate_all({"user_id": "u-42", "subscription_tier": "free"})
    assert [r.flag for r in results] == ["new_dashboard_ui", "advanced_analytics"]
    assert all(r.version == "1" and not r.stale for r in results)
    assert results[1].reason == "default" and results[0].reason == "rollout"


def test_the_emf_line_carries_exactly_flag_and_flagvariant_even_with_a_powertools_service(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "churnguard-api")
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    client = _client(FlagEmfMetrics("ChurnGuard/Flags"))
    client.record_outcome(Evaluation("new_dashboard_ui", False, "rollout", "off"), error=False, latency_ms=3.25)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [next(iter(line["_aws"]["CloudWatchMetrics"][0]["Metrics"]))["Name"] for line in lines] == [
        "FlagRequests", "FlagErrors", "FlagLatency"]
    for line in lines:
        directive = line["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "ChurnGuard/Flags"
        assert directive["Dimensions"] == [["Flag", "FlagVariant"]]
        assert (line["Flag"], line["FlagVariant"]) == ("new_dashboard_ui", "off") and "service" not in line
    assert lines[2]["FlagLatency"] == [3.25] and lines[2]["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] == \
        "Milliseconds"
