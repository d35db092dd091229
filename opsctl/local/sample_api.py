"""A sample ChurnGuard API function for canary demos: ``churnguard-api`` with versions 1 and 2 and alias ``live``.

The handler answers a churn prediction request the way the product API would (a probability per
customer), and behaves as its own configuration says, read from its environment at every call,
so each published version keeps its behaviour:

- ``LATENCY_MS`` (± ``JITTER_MS``): how long a request takes (slept);
- ``ERROR_RATE``: the probability that a request fails (an unhandled ``PredictionBackendError``);
- one ``PredictionsServed`` (Count 1) per successful request, namespace ``ChurnGuard/Api``,
  dimensions {FunctionName, Version = the executed version} and {Service}, printed as an EMF record as
  Powertools would; the embedded AWS ingests EMF from function output (``opsctl.local.emf``);
- per request, the seed's API metrics the monitoring alarms and the application dashboard read
  (``infra_cdk.monitoring_settings.AppMetricsContext`` defaults): ``Count`` (1), ``5XXError`` (1 when it
  failed, else 0) and ``Latency`` (milliseconds), dimensions {Service = churnguard-api};
- a request with a ``user_id`` (and optionally ``subscription_tier``) also evaluates every feature flag through
  the flags library (``churnguard_ops.flags.wiring``: the ``FLAGS_*`` variables set on the function point its
  store at the AppConfig environment), and per evaluated flag records the request's outcome in the flag's
  cohort (``FlagRequests``/``FlagErrors``/``FlagLatency`` by {Flag, FlagVariant}) and, when it succeeded,
  ``PredictionsServed`` by {Flag, FlagVariant} (a flag rollout's business metric). ``FLAG_UNDER_TEST`` names
  a flag whose ``on`` cohort fails ``FLAG_ON_ERROR_RATE`` of its requests (the flag's code path is broken).
  A request without ``user_id`` (the alias canary's traffic) evaluates no flag;
- a ``{"action": "compliance_status", "scores": {org: score}, "gdpr_overdue": n}`` request answers what
  ChurnGuard's compliance job reports: ``ComplianceScore`` per {Organization} and ``GDPRRequestsOverdue``
  {Service} (the stand-in takes the figures from the request; the product computes them from its data).

``SampleApi.deploy(aws, error_rate=0.3, latency_ms=250)`` creates the function in the embedded
AWS's control plane and the in-process registry, publishes v1 (healthy: no errors, ~50 ms),
changes the configuration and publishes v2 (the candidate: the given error rate and latency), and
points ``live`` at v1. ``shift(0.1)`` sends 10% of ``live`` to v2, ``promote()`` and ``rollback()``
end the canary either way.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import time
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from churnguard_ops.core.contracts import FLAG_DIMENSION, FLAG_VARIANT_DIMENSION, FLAG_VARIANT_ON
from churnguard_ops.flags import wiring as flags_wiring
from churnguard_ops.flags.client import FlagClient
from churnguard_ops.flags.model import Evaluation
from churnguard_ops.flags.settings import FlagsSettings

from .lambda_runtime import DEFAULT_ACCOUNT_ID

if TYPE_CHECKING:
    from .aws import EmbeddedAws

__all__ = ["API_DIMENSIONS", "API_NAMESPACE", "FUNCTION_NAME", "PredictionBackendError", "SampleApi", "handler"]

FUNCTION_NAME = "churnguard-api"
API_NAMESPACE = "ChurnGuard/Api"
#: The API-wide series' dimensions (the monitoring context's default ``app.dimensions``).
API_DIMENSIONS = {"Service": "churnguard-api"}
HEALTHY = {"ERROR_RATE": "0", "LATENCY_MS": "50", "JITTER_MS": "10"}

_random = random.Random()
_flag_clients: dict[tuple[tuple[str, Any], ...], FlagClient] = {}


class PredictionBackendError(RuntimeError):
    """The model backend failed to answer (what ERROR_RATE simulates)."""


def handler(event: Any, context: Any) -> dict[str, Any]:
    # The business metric is dated when the request arrived, as AWS dates the invocation's own metrics:
    # a request straddling a period boundary then counts in the same period for both.
    received_ms = int(time.time() * 1000)
    request = event if isinstance(event, dict) else {}
    if request.get("action") == "compliance_status":
        return _compliance_status(request, received_ms)
    error_rate = float(os.environ.get("ERROR_RATE", "0"))
    latency_ms = float(os.environ.get("LATENCY_MS", "0"))
    jitter_ms = float(os.environ.get("JITTER_MS", "0"))
    delay = max(0.0, latency_ms + _random.uniform(-jitter_ms, jitter_ms)) / 1000
    if delay:
        time.sleep(delay)
    evaluations = _evaluate_flags(request)
    failed = _random.random() < error_rate or _flag_path_fails(evaluations)
    latency_ms = round(time.time() * 1000 - received_ms, 3)
    _emf(received_ms, {"Count": ("Count", 1), "5XXError": ("Count", 1 if failed else 0),
                       "Latency": ("Milliseconds", latency_ms)})
    if evaluations:
        client = _flag_client()
        for evaluation in evaluations:
            client.record_outcome(evaluation, failed, latency_ms)
    if failed:
        raise PredictionBackendError("model backend timed out")
    customer = str(request.get("customer_id", "anonymous"))
    digest = hashlib.sha256(customer.encode()).digest()
    probability = round(digest[0] / 255, 3)
    version = getattr(context, "function_version", os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"))
    print(json.dumps({  # EMF, as Powertools' single_metric prints it
        "_aws": {
            "Timestamp": received_ms,
            "CloudWatchMetrics": [{"Namespace": API_NAMESPACE,
                                   "Dimensions": [["FunctionName", "Version"], sorted(API_DIMENSIONS)],
                                   "Metrics": [{"Name": "PredictionsServed", "Unit": "Count"}]}],
        },
        "FunctionName": context.function_name,
        "Version": version,
        **API_DIMENSIONS,
        "PredictionsServed": 1,
    }))
    # The business metric per cohort, so a flag rollout can judge it; dated now, as the cohort's FlagRequests
    # (Powertools dates a record when it flushes): a request straddling a period boundary counts in one period.
    recorded_ms = int(time.time() * 1000)
    for evaluation in evaluations:
        _emf(recorded_ms, {"PredictionsServed": ("Count", 1)},
             {FLAG_DIMENSION: evaluation.flag, FLAG_VARIANT_DIMENSION: evaluation.variant})
    answer = {"customer_id": customer, "churn_probability": probability, "will_churn": probability >= 0.5,
              "served_by": version}
    if evaluations:
        answer["flags"] = {e.flag: {"value": e.value, "variant": e.variant} for e in evaluations}
    return answer


def _flag_client() -> FlagClient:
    """One flags client per execution environment and configuration (its cache lives between requests)."""
    settings = FlagsSettings()
    key = tuple(sorted(settings.model_dump().items()))
    if key not in _flag_clients:
        _flag_clients[key] = flags_wiring.build(settings)
    return _flag_clients[key]


def _evaluate_flags(request: dict[str, Any]) -> list[Evaluation]:
    user_id = request.get("user_id")
    if not isinstance(user_id, str) or not user_id:
        return []
    context = {"user_id": user_id}
    if isinstance(request.get("subscription_tier"), str):
        context["subscription_tier"] = request["subscription_tier"]
    return _flag_client().evaluate_all(context)


def _flag_path_fails(evaluations: list[Evaluation]) -> bool:
    """The flag under test's ``on`` cohort runs the broken code path: it fails FLAG_ON_ERROR_RATE of the time."""
    under_test = os.environ.get("FLAG_UNDER_TEST")
    rate = float(os.environ.get("FLAG_ON_ERROR_RATE", "0"))
    return bool(under_test and rate) and any(
        e.flag == under_test and e.variant == FLAG_VARIANT_ON for e in evaluations) and _random.random() < rate


def _emf(timestamp_ms: int, values: dict[str, tuple[str, float]],
         dimensions: dict[str, str] | None = None) -> None:
    """One EMF record of ``values`` (name -> (unit, value)) under one dimension set (default: the API's)."""
    dims = API_DIMENSIONS if dimensions is None else dimensions
    print(json.dumps({
        "_aws": {"Timestamp": timestamp_ms,
                 "CloudWatchMetrics": [{"Namespace": API_NAMESPACE, "Dimensions": [sorted(dims)],
                                        "Metrics": [{"Name": n, "Unit": u} for n, (u, _) in values.items()]}]},
        **dims,
        **{n: v for n, (_, v) in values.items()},
    }))


def _compliance_status(request: dict[str, Any], received_ms: int) -> dict[str, Any]:
    scores = request.get("scores") or {}
    overdue = request.get("gdpr_overdue", 0)
    if not isinstance(scores, dict) or not all(
            isinstance(v, (int, float)) and 0 <= v <= 100 for v in scores.values()):
        raise ValueError("scores maps each organization to a compliance score between 0 and 100")
    if not isinstance(overdue, int) or overdue < 0:
        raise ValueError("gdpr_overdue is a count of requests (>= 0)")
    for org, score in scores.items():
        _emf(received_ms, {"ComplianceScore": ("None", float(score))}, {"Organization": str(org)})
    _emf(received_ms, {"GDPRRequestsOverdue": ("Count", overdue)})
    return {"organizations": len(scores), "gdpr_overdue": overdue}


def _tiny_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("README.txt", "code runs in-process via opsctl.local.sample_api\n")
    return buf.getvalue()


@dataclass
class SampleApi:
    aws: EmbeddedAws
    name: str
    region: str
    stable: str  # "1"
    candidate: str  # "2"
    alias: str = "live"

    @classmethod
    def deploy(
        cls,
        aws: EmbeddedAws,
        *,
        error_rate: float = 0.0,
        latency_ms: float = 50.0,
        jitter_ms: float = 10.0,
        name: str = FUNCTION_NAME,
        alias: str = "live",
        region: str | None = None,
        seed: int | None = None,
        environment: dict[str, str] | None = None,
    ) -> SampleApi:
        """Create the function, publish v1 (healthy) and v2 (``error_rate``, ``latency_ms``), alias -> v1.

        ``environment`` is added to both versions' (the ``FLAGS_*`` and ``FLAG_*`` variables of a flag demo)."""
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError("error_rate is a probability between 0 and 1")
        if seed is not None:
            _random.seed(seed)
        region = region or aws.region
        iam = aws.client("iam", "us-east-1")
        role_name = f"{name}-role"
        try:
            role_arn = iam.get_role(RoleName=role_name)["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            trust = {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
            role_arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        lam = aws.client("lambda", region)
        healthy = {**HEALTHY, **(environment or {})}
        lam.create_function(
            FunctionName=name, Runtime="python3.13", Role=role_arn, Handler="sample_api.handler",
            Code={"ZipFile": _tiny_zip()}, Environment={"Variables": healthy}, MemorySize=256, Timeout=10,
            Description="ChurnGuard prediction API (sample for canary demos)",
        )
        aws.register(name, handler, environment=healthy, region=region, memory_mb=256, timeout_seconds=10)
        stable = lam.publish_version(FunctionName=name, Description="v1: healthy")["Version"]
        candidate_env = {**(environment or {}), "ERROR_RATE": str(error_rate), "LATENCY_MS": str(latency_ms),
                         "JITTER_MS": str(jitter_ms)}
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": candidate_env})
        candidate = lam.publish_version(FunctionName=name, Description="v2: candidate")["Version"]
        lam.create_alias(FunctionName=name, Name=alias, FunctionVersion=stable)
        return cls(aws, name, region, stable, candidate, alias)

    @property
    def qualified_name(self) -> str:
        return f"{self.name}:{self.alias}"

    @property
    def alias_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{DEFAULT_ACCOUNT_ID}:function:{self.name}:{self.alias}"

    def shift(self, candidate_weight: float) -> None:
        """Route ``candidate_weight`` (0..1, exclusive of 1) of the alias's traffic to the candidate."""
        weights = {self.candidate: candidate_weight} if candidate_weight > 0 else {}
        self._update_alias(self.stable, weights)

    def promote(self) -> None:
        self._update_alias(self.candidate, {})

    def rollback(self) -> None:
        self._update_alias(self.stable, {})

    def _update_alias(self, version: str, weights: dict[str, float]) -> None:
        self.aws.clients("lambda", self.region).update_alias(
            FunctionName=self.name, Name=self.alias, FunctionVersion=version,
            RoutingConfig={"AdditionalVersionWeights": weights})

    def invoke(self, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """One request through the alias: {"version", "error", "payload"}."""
        response = self.aws.clients("lambda", self.region).invoke(
            FunctionName=self.qualified_name, Payload=json.dumps(payload or {"customer_id": "c-1"}).encode())
        return {"version": response.get("ExecutedVersion"), "error": response.get("FunctionError"),
                "payload": json.load(response["Payload"])}
