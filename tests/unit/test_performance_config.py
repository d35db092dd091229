"""Configuration and triggers: typos fail, the environment's JSON parses, events parse into requests."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from churnguard_ops.performance.config import RecommendationRule, Targets
from churnguard_ops.performance.events import ReportRequest
from churnguard_ops.performance.settings import PerformanceSettings
from tests.events import load_event


def _env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    monkeypatch.setenv("PERFORMANCE_STATE_TABLE", "t")
    monkeypatch.setenv("PERFORMANCE_REPORTS_BUCKET", "b")
    for key, value in values.items():
        monkeypatch.setenv(f"PERFORMANCE_{key.upper()}", value)


def test_settings_merge_configured_thresholds_over_the_seed_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, thresholds=json.dumps({"rds_cpu": 70}),
         targets=json.dumps({"api": None, "functions": ["a"], "queues": [], "databases": []}))
    settings = PerformanceSettings()
    merged = settings.merged_thresholds()
    assert merged["rds_cpu"] == 70 and merged["rds_memory"] == 85 and merged["api_latency_p99"] == 2000
    assert merged["sqs_depth"] == 100
    assert settings.targets.api is None and settings.targets.functions == ["a"]
    assert len(settings.rule_set()) == 13


def test_an_unknown_threshold_kind_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, thresholds=json.dumps({"rds_cpuu": 70}))
    with pytest.raises(ValidationError, match=r"unknown metric kind\(s\) \['rds_cpuu'\]"):
        PerformanceSettings()


def test_a_rule_for_an_unknown_kind_or_statistic_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown metric kind"):
        RecommendationRule(kind="cpu", statistic="average", advice="x")
    with pytest.raises(ValidationError, match="statistic"):
        RecommendationRule.model_validate({"kind": "rds_cpu", "statistic": "median", "advice": "x"})


def test_targets_refuse_duplicates_and_unknown_keys() -> None:
    with pytest.raises(ValidationError, match="names must be unique"):
        Targets(functions=["a", "a"])
    with pytest.raises(ValidationError, match="Extra inputs"):
        Targets.model_validate({"function": ["a"]})


def test_the_scheduled_report_event_asks_for_the_configured_window() -> None:
    request = ReportRequest.model_validate(load_event("performance/scheduled-report.json"))
    assert (request.hours, request.end) == (None, None)


def test_a_manual_report_names_its_hours_and_end() -> None:
    request = ReportRequest.model_validate(load_event("performance/manual-report.json"))
    assert request.hours == 6 and request.end == datetime(2026, 11, 30, 10, tzinfo=timezone.utc)
    with pytest.raises(ValidationError, match="less than or equal to 744"):
        ReportRequest.model_validate({"hours": 745})
