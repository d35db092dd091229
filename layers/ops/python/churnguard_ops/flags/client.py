"""The facade ChurnGuard's Lambdas use: evaluate flags with reasons, and record each request's outcome per cohort.

Per request and per flag it evaluated, an application calls ``record_outcome`` once: FlagRequests, FlagErrors
and FlagLatency with dimensions exactly {Flag, FlagVariant}, which is what a rollout is judged on (the ``on``
and ``off`` cohorts). FlagExposure is emitted at evaluation, sampled at ``exposure_sample_rate``.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from churnguard_ops.core.contracts import (
    FLAG_DIMENSION,
    FLAG_ERRORS_METRIC,
    FLAG_EXPOSURE_METRIC,
    FLAG_LATENCY_METRIC,
    FLAG_REQUESTS_METRIC,
    FLAG_VARIANT_DIMENSION,
)
from churnguard_ops.core.ports import MetricsSink
from churnguard_ops.flags.evaluator import evaluate
from churnguard_ops.flags.model import REASON_STORE_ERROR, VARIANT_ERROR, Evaluation
from churnguard_ops.flags.store import FlagStore

#: A source of uniform numbers in [0, 1) (``random.random``); injected so sampling is testable.
RandomSource = Callable[[], float]


class FlagClient:
    def __init__(self, store: FlagStore, metrics: MetricsSink, random: RandomSource, *,
                 exposure_sample_rate: float) -> None:
        self.store, self.metrics, self.random = store, metrics, random
        self.exposure_sample_rate = exposure_sample_rate

    def evaluate(self, key: str, context: Mapping[str, Any], default: Any) -> Evaluation:
        """The flag's value for this context, with reason and variant; ``default`` when the store has nothing."""
        snapshot = self.store.current()
        if snapshot.document is None:
            result = Evaluation(key, default, REASON_STORE_ERROR, VARIANT_ERROR)
        else:
            result = evaluate(snapshot.document, key, context, default).with_source(snapshot.version, snapshot.stale)
        self._expose(result)
        return result

    def evaluate_all(self, context: Mapping[str, Any]) -> list[Evaluation]:
        """Every flag of the document, in document order; empty when the store has no usable document."""
        snapshot = self.store.current()
        if snapshot.document is None:
            return []
        results = [evaluate(snapshot.document, key, context, None).with_source(snapshot.version, snapshot.stale)
                   for key in snapshot.document.flags]
        for result in results:
            self._expose(result)
        return results

    def record_outcome(self, evaluation: Evaluation, error: bool, latency_ms: float) -> None:
        """One request served under ``evaluation``: its cohort's request, error (1 or 0) and latency."""
        dimensions = self.cohort(evaluation)
        self.metrics.put(FLAG_REQUESTS_METRIC, 1, "Count", dimensions)
        self.metrics.put(FLAG_ERRORS_METRIC, 1 if error else 0, "Count", dimensions)
        self.metrics.put(FLAG_LATENCY_METRIC, latency_ms, "Milliseconds", dimensions)

    @staticmethod
    def cohort(evaluation: Evaluation) -> dict[str, str]:
        return {FLAG_DIMENSION: evaluation.flag, FLAG_VARIANT_DIMENSION: evaluation.variant}

    def _expose(self, evaluation: Evaluation) -> None:
        if self.random() < self.exposure_sample_rate:
            self.metrics.put(FLAG_EXPOSURE_METRIC, 1, "Count", self.cohort(evaluation))
