"""Cost Explorer (:class:`~churnguard_ops.cost.ports.CostSource`): three GetCostAndUsage requests per period
plus their pages, cached in the ops bucket so a second run in the same period makes none.

The requests (``metric`` is ``UnblendedCost`` unless configured):

1. ``MONTHLY`` over ``[period_start, period_end)`` grouped by ``SERVICE`` and ``USAGE_TYPE`` (the two GroupBy
   Cost Explorer allows): the per-service totals (summed over usage types) and the usage types.
2. ``DAILY`` over ``[daily_start, daily_end)`` (``daily_end``: the run's day; by default ``period_end``),
   grouped by ``SERVICE``: the series anomaly detection reads
   (ask for ~35 days so a 28-day baseline exists).
3. ``MONTHLY`` over the period grouped by ``SERVICE``, filtered on our own tag (``Project=churnguard-ops``
   by default): what ChurnGuard Ops itself costs.

``period_end`` is exclusive, as in Cost Explorer. Every page is a billed request ($0.01 each, AWS price list):
``usage.cost_explorer_requests`` counts the pages answered and ``usage.cost_explorer_usd`` their price
(throttled attempts are not answered and not counted). Cost Explorer has no boto3 paginator: the
``NextPageToken`` loops are ours.

Throttling: the client comes from ``core.aws`` (botocore adaptive retries). Cost Explorer answers a too-high
request rate with ``LimitExceededException``, which ``core.errors.translate`` would read as a *quota*
``Conflict``; here it, and the other throttling codes, are retried ``max_attempts`` times in all with
exponential back-off (``base_delay`` x 2^n seconds, at most ``max_delay``), then raised as ``Throttled``.

Categories (:func:`category_of`): a service maps to one category, except the EC2 services whose usage
types are read one by one: EBS bills under ``EC2 - Other`` (usage types ``EBS:VolumeUsage.gp3``,
``EBS:SnapshotUsage``, ``EBS:VolumeP-IOPS.piops``, ..., with a region prefix such as ``USE2-`` outside
us-east-1), next to NAT gateways, public IPv4 addresses and data transfer. ``ServiceCost.category`` of a
service is the category carrying most of its cost in the period (``EC2 - Other`` is usually storage); the
exact split by category is :func:`category_totals`.
"""
from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any, Literal

from pydantic import ValidationError

from churnguard_ops.core import aws, contracts
from churnguard_ops.core.errors import OpsError, Throttled, raise_translated
from churnguard_ops.core.ports import Documents
from churnguard_ops.cost.model import ApiUsage, Category, CostData, DailyCost, ServiceCost

logger = logging.getLogger(__name__)

#: Where Cost Explorer results are cached in the ops bucket (a contract with the CDK grants).
CACHE_PREFIX = contracts.COST_CACHE_PREFIX
#: Price of one GetCostAndUsage request (each page is one), per the AWS price list.
CE_REQUEST_USD = 0.01
#: Version of the cached document; a different one is a cache miss.
CACHE_VERSION = 1

CostCategory = Category | Literal["other"]

EC2_COMPUTE_SERVICE = "Amazon Elastic Compute Cloud - Compute"
EC2_OTHER_SERVICE = "EC2 - Other"

#: Cost Explorer SERVICE values -> category; anything not listed is "other".
SERVICE_CATEGORIES: dict[str, CostCategory] = {
    EC2_COMPUTE_SERVICE: "compute",
    EC2_OTHER_SERVICE: "storage",  # without usage types: mostly EBS volumes and snapshots
    "AWS Lambda": "compute",
    "Amazon Elastic Container Service": "compute",
    "Amazon EC2 Container Service": "compute",
    "Amazon Elastic Container Service for Kubernetes": "compute",
    "Amazon Elastic Kubernetes Service": "compute",
    "AWS Fargate": "compute",
    "Amazon Lightsail": "compute",
    "AWS Batch": "compute",
    "Amazon Relational Database Service": "database",
    "Amazon DynamoDB": "database",
    "Amazon ElastiCache": "database",
    "Amazon MemoryDB": "database",
    "Amazon Redshift": "database",
    "Amazon DocumentDB (with MongoDB compatibility)": "database",
    "Amazon Neptune": "database",
    "Amazon Keyspaces (for Apache Cassandra)": "database",
    "Amazon Timestream": "database",
    "Amazon OpenSearch Service": "database",
    "Amazon Simple Storage Service": "storage",
    "Amazon Elastic Block Store": "storage",
    "Amazon Elastic File System": "storage",
    "Amazon FSx": "storage",
    "Amazon Glacier": "storage",
    "Amazon S3 Glacier Deep Archive": "storage",
    "AWS Backup": "storage",
    "AWS Storage Gateway": "storage",
}

#: Usage-type markers of the EC2 services (matched anywhere in the usage type, so region prefixes do not
#: matter), first match wins; an EC2 usage type matching none is "other".
EC2_USAGE_TYPE_CATEGORIES: tuple[tuple[str, CostCategory], ...] = (
    ("EBS:", "storage"),  # volumes, snapshots, provisioned IOPS and throughput, fast snapshot restore
    ("EBSOptimized", "compute"),
    ("BoxUsage", "compute"),
    ("SpotUsage", "compute"),
    ("DedicatedUsage", "compute"),
    ("HostUsage", "compute"),
    ("UnusedBox", "compute"),  # unused capacity reservations
    ("Reservation", "compute"),
    ("CPUCredits", "compute"),  # T-instance unlimited surplus credits
    ("NatGateway", "other"),
    ("DataTransfer", "other"),
    ("ElasticIP", "other"),
    ("PublicIPv4", "other"),
    ("VpcEndpoint", "other"),
    ("LoadBalancer", "other"),
)


def category_of(service: str, usage_type: str | None = None) -> CostCategory:
    """The category of a service's cost, read per usage type for the EC2 services when one is given."""
    if usage_type and service in (EC2_COMPUTE_SERVICE, EC2_OTHER_SERVICE):
        for marker, category in EC2_USAGE_TYPE_CATEGORIES:
            if marker in usage_type:
                return category
        return "compute" if service == EC2_COMPUTE_SERVICE else "other"
    return SERVICE_CATEGORIES.get(service, "other")


def category_totals(data: CostData) -> dict[str, float]:
    """USD of the period per category, split by usage type where that is known (EBS under EC2 - Other)."""
    totals: dict[str, float] = defaultdict(float)
    split = set(data.by_usage_type)
    for service, usage_types in data.by_usage_type.items():
        for usage_type, usd in usage_types.items():
            totals[category_of(service, usage_type)] += usd
    for row in data.by_service:
        if row.service not in split:
            totals[row.category] += row.monthly_usd
    return {category: round(usd, 6) for category, usd in totals.items()}


def cache_key(period_start: date, period_end: date, daily_start: date, daily_end: date | None = None) -> str:
    """One document per billed month and daily window (a re-run the same day hits it)."""
    daily = f"{daily_start.isoformat()}_{(daily_end or period_end).isoformat()}"
    return f"{CACHE_PREFIX}{period_start.isoformat()}_{period_end.isoformat()}_{daily}.json"


_THROTTLING_CODES = {"LimitExceededException", "ThrottlingException", "Throttling", "TooManyRequestsException",
                     "RequestLimitExceeded", "RequestThrottled", "RequestThrottledException"}
_MAX_PAGES = 1000  # per request; a runaway token loop is a bug, not a bill


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return response.get("Error", {}).get("Code", "") if isinstance(response, dict) else ""


class CostExplorerSource:
    """Cost Explorer through ``core.aws``, cached in ``cache`` (the ops bucket's documents)."""

    def __init__(self, cache: Documents, region: str = "us-east-1", *, metric: str = "UnblendedCost",
                 own_tag: tuple[str, str] = ("Project", "churnguard-ops"), max_attempts: int = 5,
                 sleep: Callable[[float], None] = time.sleep, base_delay: float = 1.0,
                 max_delay: float = 16.0) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.cache = cache
        self.region = region
        self.metric = metric
        self.own_tag = own_tag
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._sleep = sleep

    # -- CostSource -------------------------------------------------------------------------------------

    def costs(self, period_start: date, period_end: date, daily_start: date, usage: ApiUsage, *,
              daily_end: date | None = None) -> CostData:
        if period_end <= period_start:
            raise ValueError(f"period {period_start}..{period_end}: the end (exclusive) must follow the start")
        daily_end = daily_end or period_end
        key = cache_key(period_start, period_end, daily_start, daily_end)
        cached = self._cached(key, period_start, period_end)
        if cached is not None:
            usage.cost_explorer_cached = True
            return cached
        data = self._fetch(period_start, period_end, daily_start, daily_end, usage)
        try:
            self.cache.save(key, self._cache_document(data))
        except OpsError as exc:  # the data is paid for: report it; the next run pays again
            logger.warning("could not cache Cost Explorer results at %s: %s", self.cache.location(key), exc)
        return data

    # -- the cache --------------------------------------------------------------------------------------

    def _cache_document(self, data: CostData) -> dict[str, Any]:
        return {"version": CACHE_VERSION, "metric": self.metric,
                "own_tag": {"key": self.own_tag[0], "value": self.own_tag[1]},
                "data": data.model_dump(mode="json")}

    def _cached(self, key: str, period_start: date, period_end: date) -> CostData | None:
        try:
            document = self.cache.load(key)
        except OpsError as exc:  # unreadable cache: ask Cost Explorer (and overwrite it)
            logger.warning("could not read the Cost Explorer cache at %s: %s", self.cache.location(key), exc)
            return None
        if not document:
            return None
        wanted = {"version": CACHE_VERSION, "metric": self.metric,
                  "own_tag": {"key": self.own_tag[0], "value": self.own_tag[1]}}
        if any(document.get(field) != value for field, value in wanted.items()):
            return None  # cached for another metric or tag: not this question's answer
        try:
            data = CostData.model_validate(document.get("data"))
        except ValidationError:
            logger.warning("ignoring an unreadable Cost Explorer cache document at %s", self.cache.location(key))
            return None
        if (data.period_start, data.period_end) != (period_start, period_end):
            return None
        return data

    # -- the three requests -----------------------------------------------------------------------------

    def _fetch(self, period_start: date, period_end: date, daily_start: date, daily_end: date,
               usage: ApiUsage) -> CostData:
        period = {"Start": period_start.isoformat(), "End": period_end.isoformat()}
        metric = self.metric
        estimated = False

        by_usage_type: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for result in self._pages("read monthly costs by service and usage type", usage, TimePeriod=period,
                                  Granularity="MONTHLY", Metrics=[metric],
                                  GroupBy=[{"Type": "DIMENSION", "Key": "SERVICE"},
                                           {"Type": "DIMENSION", "Key": "USAGE_TYPE"}]):
            estimated |= bool(result.get("Estimated"))
            for service_usage_type, usd in _groups(result, metric):
                service, usage_type = (list(service_usage_type) + ["", ""])[:2]
                by_usage_type[service][usage_type] += usd

        daily: dict[tuple[date, str], float] = defaultdict(float)
        if daily_start < daily_end:
            for result in self._pages("read daily costs by service", usage,
                                      TimePeriod={"Start": daily_start.isoformat(), "End": daily_end.isoformat()},
                                      Granularity="DAILY", Metrics=[metric],
                                      GroupBy=[{"Type": "DIMENSION", "Key": "SERVICE"}]):
                day = date.fromisoformat(result["TimePeriod"]["Start"])
                for keys, usd in _groups(result, metric):
                    daily[(day, keys[0])] += usd

        tag_key, tag_value = self.own_tag
        own: dict[str, float] = defaultdict(float)
        for result in self._pages(f"read monthly costs of resources tagged {tag_key}={tag_value}", usage,
                                  TimePeriod=period, Granularity="MONTHLY", Metrics=[metric],
                                  GroupBy=[{"Type": "DIMENSION", "Key": "SERVICE"}],
                                  Filter={"Tags": {"Key": tag_key, "Values": [tag_value],
                                                   "MatchOptions": ["EQUALS"]}}):
            for keys, usd in _groups(result, metric):
                own[keys[0]] += usd

        categories = {service: _dominant_category(service, usage_types)
                      for service, usage_types in by_usage_type.items()}
        return CostData(
            period_start=period_start,
            period_end=period_end,
            by_service=sorted(
                (ServiceCost(service=service, monthly_usd=round(sum(usage_types.values()), 6),
                             category=categories[service])
                 for service, usage_types in by_usage_type.items()),
                key=lambda row: (-row.monthly_usd, row.service)),
            by_usage_type={service: {usage_type: round(usd, 6) for usage_type, usd in sorted(usage_types.items())}
                           for service, usage_types in sorted(by_usage_type.items())},
            daily=[DailyCost(day=day, service=service, usd=round(usd, 6))
                   for (day, service), usd in sorted(daily.items())],
            own_by_service=sorted(
                (ServiceCost(service=service, monthly_usd=round(usd, 6),
                             category=categories.get(service) or category_of(service))
                 for service, usd in own.items()),
                key=lambda row: (-row.monthly_usd, row.service)),
            estimated=estimated,
        )

    def _pages(self, what: str, usage: ApiUsage, **request: Any) -> Iterable[dict[str, Any]]:
        """Every ResultsByTime entry of one request, following NextPageToken; each page is counted and priced."""
        token: str | None = None
        for _ in range(_MAX_PAGES):
            kwargs = {**request, "NextPageToken": token} if token else request
            page = self._call(what, kwargs)
            usage.cost_explorer_requests += 1
            usage.cost_explorer_usd = round(usage.cost_explorer_usd + CE_REQUEST_USD, 4)
            yield from page.get("ResultsByTime", [])
            token = page.get("NextPageToken")
            if not token:
                return
        raise OpsError(f"{what}: more than {_MAX_PAGES} pages; stopped following NextPageToken")

    def _call(self, what: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        client = aws.client("ce", self.region)
        for attempt in range(1, self.max_attempts + 1):
            try:
                response: dict[str, Any] = client.get_cost_and_usage(**kwargs)
                return response
            except Exception as exc:
                code = _code(exc)
                if code not in _THROTTLING_CODES:
                    raise_translated(exc, f"Cost Explorer: {what}")
                if attempt == self.max_attempts:
                    raise Throttled(f"Cost Explorer: {what}: {code} after {attempt} attempts") from exc
                delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
                logger.info("Cost Explorer throttled (%s), attempt %d of %d; retrying in %.1f s",
                            code, attempt, self.max_attempts, delay)
                self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover


def _groups(result: dict[str, Any], metric: str) -> Iterable[tuple[list[str], float]]:
    for group in result.get("Groups", []):
        amount = group.get("Metrics", {}).get(metric, {}).get("Amount")
        if amount is not None:
            yield list(group.get("Keys", [])) or [""], float(amount)


def _dominant_category(service: str, usage_types: dict[str, float]) -> CostCategory:
    shares: dict[CostCategory, float] = defaultdict(float)
    for usage_type, usd in usage_types.items():
        shares[category_of(service, usage_type)] += usd
    if not shares or max(shares.values()) <= 0:
        return category_of(service)
    return max(shares.items(), key=lambda item: item[1])[0]
