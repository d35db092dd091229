"""MetricsSink over Powertools EMF: one metric line per datapoint because dimensions differ."""
from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit, single_metric


class EmfMetrics:
    def __init__(self, namespace: str | None = None) -> None:
        self.namespace = namespace

    def put(self, name: str, value: float, unit: str, dimensions: dict[str, str]) -> None:
        with single_metric(name=name, unit=MetricUnit(unit), value=value, namespace=self.namespace,
                           default_dimensions=dimensions):
            pass  # the context manager flushes the EMF line on exit
