"""The cohorts of a flag rollout: users the rollout let in (``on``) against users it kept out (``off``).

The judge is reused unchanged: the ``on`` cohort plays the canary and ``off`` the baseline. Both come from
the flags library's EMF metrics (namespace ``ChurnGuard/Flags``, dimensions exactly {Flag, FlagVariant}) in
ONE GetMetricData request with the query ids :func:`metrics.parse_results` reads: ``FlagRequests`` (Sum) as
invocations, ``FlagErrors`` (Sum), ``FlagLatency`` (p99) and the business metric by its variant dimension.

Before the judge, a sample-ratio check: the share of ``on`` requests must match the configured percentage
(chi-square goodness of fit, 1 degree of freedom), or the bucketing or the exposure logging is broken and
no comparison of the cohorts means anything.
"""
from __future__ import annotations

import math
from typing import Any

from churnguard_ops.canary.metrics import MAX_QUERIES, metric_query
from churnguard_ops.canary.model import BusinessMetric
from churnguard_ops.core import contracts

#: p-value below which the observed split is a mismatch (1 in 1,000 healthy steps would fail by chance).
SRM_P_VALUE = 0.001
_FLAG_METRICS = (("invocations", contracts.FLAG_REQUESTS_METRIC, "Sum"),
                 ("errors", contracts.FLAG_ERRORS_METRIC, "Sum"),
                 ("p99_ms", contracts.FLAG_LATENCY_METRIC, "p99"))
COHORTS = (("canary", contracts.FLAG_VARIANT_ON), ("baseline", contracts.FLAG_VARIANT_OFF))


def build_queries(flag_key: str, business: BusinessMetric | None, period: int) -> list[dict[str, Any]]:
    """``MetricDataQueries`` of both cohorts; ids ``<field>_<role>`` as for a Lambda alias."""
    queries: list[dict[str, Any]] = []
    for role, variant in COHORTS:
        dimensions = {contracts.FLAG_DIMENSION: flag_key, contracts.FLAG_VARIANT_DIMENSION: variant}
        for field, name, stat in _FLAG_METRICS:
            queries.append(metric_query(f"{field}_{role}", contracts.FLAGS_METRICS_NAMESPACE, name, dimensions,
                                        stat, period))
        if business is not None:
            queries.append(metric_query(f"business_{role}", business.namespace, business.name,
                                        {**business.dimensions, business.version_dimension: variant},
                                        business.statistic, period))
    if len(queries) > MAX_QUERIES:
        raise ValueError(f"{len(queries)} metric queries, GetMetricData takes at most {MAX_QUERIES}")
    return queries


def chi_square_p_value(observed_on: float, observed_off: float, percentage: float) -> float:
    """Goodness of fit of the on/off split to ``percentage`` (0 < percentage < 100), 1 degree of freedom:
    the p-value of the statistic x is ``erfc(sqrt(x / 2))``."""
    total = observed_on + observed_off
    expected_on = total * percentage / 100
    expected_off = total - expected_on
    statistic = ((observed_on - expected_on) ** 2 / expected_on + (observed_off - expected_off) ** 2 / expected_off)
    return math.erfc(math.sqrt(statistic / 2))


def sample_ratio_check(on: float, off: float, percentage: float,
                       min_requests: int) -> tuple[str | None, str]:
    """``(breach, note)``: a breach is the FAIL reason; the note says what was checked or why not."""
    if percentage <= 0 or percentage >= 100:
        return None, f"sample-ratio check skipped at {percentage:g} % (one cohort is empty by design)"
    total = on + off
    if total < min_requests:
        return None, (f"sample-ratio check waits: {total:.0f} requests in the on and off cohorts, "
                      f"need {min_requests}")
    observed = on / total * 100
    p_value = chi_square_p_value(on, off, percentage)
    if p_value < SRM_P_VALUE:
        return (f"sample ratio mismatch: observed {observed:.2f} % of {total:.0f} requests vs configured "
                f"{percentage:g} %: the bucketing or the exposure logging is broken"), f"SRM p = {p_value:.3g}"
    return None, f"sample ratio ok: observed {observed:.2f} % of {total:.0f} requests vs configured {percentage:g} % " \
                 f"(p = {p_value:.3g})"
