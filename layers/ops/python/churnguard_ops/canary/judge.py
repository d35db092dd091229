"""The verdict on one step. Pure: samples, rules and elapsed time in; verdict and reasons out.

Order of the rules:

1. A provider error (CloudWatch could not be read) is PROVIDER_ERROR: never a pass.
2. Breaches are looked for as soon as the canary has ``min_invocations``: enough evidence of a breach
   FAILs at once, even before ``min_seconds`` (a broken version should not bake for five more minutes).
3. PASS needs both ``min_invocations`` of the new version and ``min_seconds`` elapsed, and every rule
   with its data. Zero invocations can never pass (``min_invocations`` >= 1, and it is checked again).
4. Not ready by ``max_wait_seconds``: NO_DATA. Before that the step keeps baking (verdict None).

Thresholds are "greater than fails": a value exactly at its threshold passes.
"""
from __future__ import annotations

from churnguard_ops.canary.model import (
    BakeRules,
    BusinessMetric,
    Judgement,
    Thresholds,
    Verdict,
    VersionSamples,
    WindowSamples,
)


def judge(samples: WindowSamples | None, thresholds: Thresholds, bake: BakeRules, elapsed_seconds: float, *,
          max_wait_seconds: float | None = None, compare_baseline: bool = True,
          provider_error: str | None = None) -> Judgement:
    """``max_wait_seconds`` overrides ``bake.max_wait_seconds`` (an extended step); ``compare_baseline``
    is False at 100 %, where the stable version has no traffic left to compare with."""
    if provider_error is not None or samples is None:
        return Judgement(verdict=Verdict.PROVIDER_ERROR, ready=False,
                         reasons=[f"metrics could not be read: {provider_error or 'no samples returned'}"])
    canary = samples.canary
    deadline = bake.max_wait_seconds if max_wait_seconds is None else max_wait_seconds
    enough_samples = canary.invocations >= bake.min_invocations and canary.invocations > 0
    enough_time = elapsed_seconds >= bake.min_seconds
    missing = _missing_data(canary, thresholds.business) if enough_samples else []
    breaches: list[str] = []
    notes: list[str] = []
    if enough_samples:
        breaches += _absolute(canary, thresholds)
        if compare_baseline:
            breaches += _relative(canary, samples.baseline, thresholds, bake, notes)
        else:
            notes.append("baseline comparison skipped: the stable version has no traffic at 100 %")
    ready = enough_samples and enough_time and not missing
    if breaches:
        return Judgement(verdict=Verdict.FAIL, ready=enough_samples, reasons=breaches, notes=notes)
    if ready:
        return Judgement(verdict=Verdict.PASS, ready=True, reasons=[_pass_reason(canary, elapsed_seconds)],
                         notes=notes)
    waiting = _waiting(canary, bake, elapsed_seconds, enough_samples, enough_time) + missing
    if elapsed_seconds >= deadline:
        return Judgement(verdict=Verdict.NO_DATA, ready=False, notes=notes,
                         reasons=[f"not enough evidence after {elapsed_seconds:.0f} s (limit {deadline:.0f} s): "
                                  + "; ".join(waiting)])
    return Judgement(verdict=None, ready=False, reasons=waiting, notes=notes)


def _missing_data(canary: VersionSamples, business: BusinessMetric | None) -> list[str]:
    missing = []
    if canary.p99_ms is None:
        missing.append(f"no Duration p99 datapoint for version {canary.version} yet")
    if business is not None and canary.business_value(business) is None:
        missing.append(f"no {business.name} {business.statistic} datapoint for version {canary.version} yet")
    return missing


def _waiting(canary: VersionSamples, bake: BakeRules, elapsed: float, enough_samples: bool,
             enough_time: bool) -> list[str]:
    waiting = []
    if not enough_samples:
        waiting.append(f"{canary.invocations:.0f} invocations of version {canary.version}, "
                       f"need {bake.min_invocations}")
    if not enough_time:
        waiting.append(f"{elapsed:.0f} s baked, need {bake.min_seconds} s")
    return waiting


def _absolute(canary: VersionSamples, thresholds: Thresholds) -> list[str]:
    breaches = []
    rate = canary.error_rate_pct or 0.0
    if rate > thresholds.max_error_rate_pct:
        breaches.append(f"error rate of version {canary.version} is {rate:.2f} % ({canary.errors:.0f} of "
                        f"{canary.invocations:.0f}), above the maximum {thresholds.max_error_rate_pct:g} %")
    if canary.p99_ms is not None and canary.p99_ms > thresholds.max_p99_ms:
        breaches.append(f"p99 duration of version {canary.version} is {canary.p99_ms:.0f} ms, above the maximum "
                        f"{thresholds.max_p99_ms:g} ms")
    return breaches


def _relative(canary: VersionSamples, baseline: VersionSamples, thresholds: Thresholds, bake: BakeRules,
              notes: list[str]) -> list[str]:
    if baseline.invocations < bake.min_invocations:
        notes.append(f"baseline comparison skipped: {baseline.invocations:.0f} invocations of the stable version "
                     f"{baseline.version}, need {bake.min_invocations}")
        return []
    breaches = []
    tolerance = thresholds.relative_tolerance_pct / 100
    canary_rate, baseline_rate = canary.error_rate_pct or 0.0, baseline.error_rate_pct or 0.0
    allowed_rate = max(baseline_rate * (1 + tolerance), baseline_rate + thresholds.relative_floor_error_rate_pct)
    if canary_rate > allowed_rate:
        breaches.append(f"error rate of version {canary.version} is {canary_rate:.2f} % against {baseline_rate:.2f} "
                        f"% on the stable version {baseline.version}, above the allowed {allowed_rate:.2f} %")
    if canary.p99_ms is not None and baseline.p99_ms is not None:
        allowed_p99 = max(baseline.p99_ms * (1 + tolerance), baseline.p99_ms + thresholds.relative_floor_p99_ms)
        if canary.p99_ms > allowed_p99:
            breaches.append(f"p99 duration of version {canary.version} is {canary.p99_ms:.0f} ms against "
                            f"{baseline.p99_ms:.0f} ms on the stable version {baseline.version}, above the "
                            f"allowed {allowed_p99:.0f} ms")
    elif canary.p99_ms is not None:
        notes.append(f"p99 comparison skipped: no Duration p99 for the stable version {baseline.version}")
    metric = thresholds.business
    if metric is not None:
        breach = _business(canary, baseline, metric, notes)
        if breach:
            breaches.append(breach)
    return breaches


def _business(canary: VersionSamples, baseline: VersionSamples, metric: BusinessMetric,
              notes: list[str]) -> str | None:
    ours, theirs = canary.business_value(metric), baseline.business_value(metric)
    if ours is None or theirs is None:
        notes.append(f"{metric.name} comparison skipped: no value for "
                     f"{'version ' + canary.version if ours is None else 'the stable version ' + baseline.version}")
        return None
    unit = " per invocation" if metric.per_invocation else ""
    if theirs == 0:
        worse = ours > 0 if metric.direction == "lower_is_better" else False
        if not worse:
            return None
        return (f"{metric.name} of version {canary.version} is {ours:.4g}{unit} against 0 on the stable version "
                f"{baseline.version} (lower is better): degraded without bound, above the maximum "
                f"{metric.max_degradation_pct:g} %")
    change = (theirs - ours) if metric.direction == "higher_is_better" else (ours - theirs)
    degradation = change / abs(theirs) * 100
    if degradation > metric.max_degradation_pct:
        return (f"{metric.name} of version {canary.version} is {ours:.4g}{unit} against {theirs:.4g} on the stable "
                f"version {baseline.version}: {degradation:.1f} % worse ({metric.direction.replace('_', ' ')}), "
                f"above the maximum {metric.max_degradation_pct:g} %")
    return None


def business_change_pct(samples: WindowSamples | None, metric: BusinessMetric | None) -> float | None:
    """The canary's business value against the stable version's, in percent (signed: +2.0 = 2 % higher)."""
    if samples is None or metric is None:
        return None
    ours, theirs = samples.canary.business_value(metric), samples.baseline.business_value(metric)
    if ours is None or theirs is None or theirs == 0:
        return None
    return (ours - theirs) / abs(theirs) * 100


def _pass_reason(canary: VersionSamples, elapsed: float) -> str:
    p99 = f", p99 {canary.p99_ms:.0f} ms" if canary.p99_ms is not None else ""
    return (f"version {canary.version} passed every rule over {canary.invocations:.0f} invocations in "
            f"{elapsed:.0f} s: error rate {canary.error_rate_pct or 0.0:.2f} %{p99}")
