"""Unit prices (:class:`~churnguard_ops.cost.ports.PriceBook`): the AWS Pricing API where it answers, else a
bundled, dated table.

:class:`BundledPriceTable` reads ``data/prices-<region>.json`` shipped in the package (and so in the Lambda
layer): on-demand Linux EC2, RDS PostgreSQL Single-AZ (Multi-AZ = ``multi_az_factor`` x), and EBS storage,
IOPS and throughput. Each :class:`Price` it gives says ``source="bundled_table"`` and the table's ``as_of``.

:class:`PricingApiPriceBook` asks ``pricing:GetProducts`` first and takes its answer only when it is
unambiguous (every matching product has the same on-demand USD price). Otherwise, or when the API fails, it
answers from the table. The first failure (an error, a 404 from an endpoint without the Pricing API such as
moto, a timeout) marks the API unavailable for the rest of the run, so local runs get the table after one
quick call. Answers are remembered per lookup: one call per distinct instance type / volume type per run.
"""
from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from datetime import date, datetime
from importlib import resources
from typing import Any, Literal

from churnguard_ops.core import aws
from churnguard_ops.core.clock import utcnow
from churnguard_ops.core.errors import guarded
from churnguard_ops.cost.model import Price

logger = logging.getLogger(__name__)

#: What a gp3 volume includes before its IOPS and throughput are billed (also in the table's ``included``).
GP3_INCLUDED_IOPS = 3000
GP3_INCLUDED_THROUGHPUT_MBPS = 125

#: The region whose table ships with the package.
TABLE_REGION = "us-east-1"
#: The Pricing API is served from us-east-1 (also ap-south-1 and eu-central-1); it prices every region.
PRICING_API_REGION = "us-east-1"

_Unit = Literal["hour", "GB-month", "IOPS-month", "MBps-month"]


def table_resource(region: str = TABLE_REGION) -> Any:
    """The packaged JSON table of ``region`` (an ``importlib.resources`` Traversable)."""
    return resources.files("churnguard_ops.cost").joinpath("data", f"prices-{region}.json")


@functools.cache
def _packaged_table(region: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(table_resource(region).read_text(encoding="utf-8"))
    return document


class BundledPriceTable:
    """The dated price table shipped with the package: a :class:`PriceBook` that never calls AWS."""

    def __init__(self, document: dict[str, Any] | None = None, *, region: str = TABLE_REGION) -> None:
        self.document = document if document is not None else _packaged_table(region)
        self.region: str = self.document["region"]
        self.as_of: date = date.fromisoformat(self.document["as_of"])
        self.source_note: str = self.document.get("source", "")

    def _price(self, usd: float, unit: _Unit, what: str) -> Price:
        return Price(usd=usd, unit=unit, source="bundled_table", as_of=self.as_of,
                     description=f"{what}, {self.region} (bundled table of {self.as_of.isoformat()})")

    def ec2_hourly(self, instance_type: str, platform: str = "linux") -> Price | None:
        usd = self.document.get("ec2", {}).get(platform.lower(), {}).get(instance_type.lower())
        if usd is None:
            return None
        return self._price(usd, "hour", f"EC2 {instance_type} {_platform_label(platform)} on-demand")

    def rds_hourly(self, instance_class: str, engine: str, multi_az: bool) -> Price | None:
        rds = self.document.get("rds", {})
        usd = rds.get(engine.lower(), {}).get(instance_class.lower())
        if usd is None:
            return None
        factor = rds.get("multi_az_factor", 2) if multi_az else 1
        deployment = f"Multi-AZ ({factor} x Single-AZ)" if multi_az else "Single-AZ"
        return self._price(round(usd * factor, 6), "hour",
                           f"RDS {instance_class} {_engine_label(engine)} {deployment} on-demand")

    def ebs_gb_month(self, volume_type: str) -> Price | None:
        usd = self.document.get("ebs", {}).get("gb_month", {}).get(volume_type.lower())
        if usd is None:
            return None
        return self._price(usd, "GB-month", f"EBS {volume_type} storage")

    def ebs_iops_month(self, volume_type: str) -> Price | None:
        entry = self.document.get("ebs", {}).get("iops_month", {}).get(volume_type.lower())
        if entry is None:
            return None
        included = f" above {entry['included']:,} included" if entry.get("included") else ""
        return self._price(entry["usd"], "IOPS-month", f"EBS {volume_type} provisioned IOPS{included}")

    def ebs_throughput_month(self, volume_type: str) -> Price | None:
        entry = self.document.get("ebs", {}).get("throughput_month", {}).get(volume_type.lower())
        if entry is None:
            return None
        included = f" above {entry['included']:,} MB/s included" if entry.get("included") else ""
        return self._price(entry["usd"], "MBps-month", f"EBS {volume_type} provisioned throughput{included}")

    def included_iops(self, volume_type: str) -> int:
        """IOPS a volume type includes before ``ebs_iops_month`` applies (gp3: 3,000)."""
        entry = self.document.get("ebs", {}).get("iops_month", {}).get(volume_type.lower()) or {}
        return int(entry.get("included", 0))

    def included_throughput_mbps(self, volume_type: str) -> int:
        """MB/s a volume type includes before ``ebs_throughput_month`` applies (gp3: 125)."""
        entry = self.document.get("ebs", {}).get("throughput_month", {}).get(volume_type.lower()) or {}
        return int(entry.get("included", 0))


# --- the Pricing API -------------------------------------------------------------------------------------

#: Our platform names (``Ec2Instance.platform``) -> the price list's ``operatingSystem``.
_OPERATING_SYSTEMS = {"linux": "Linux", "windows": "Windows", "rhel": "RHEL", "suse": "SUSE"}
#: RDS engine names (``DescribeDBInstances`` Engine) -> the price list's ``databaseEngine``.
_DATABASE_ENGINES = {"postgres": "PostgreSQL", "mysql": "MySQL", "mariadb": "MariaDB",
                     "aurora-postgresql": "Aurora PostgreSQL", "aurora-mysql": "Aurora MySQL"}
_MAX_PAGES = 5  # a lookup matches one product; a handful of pages means the filters are too loose


class PricingApiPriceBook:
    """The Pricing API for ``region_of_prices``, falling back to ``fallback`` (see the module docstring)."""

    def __init__(self, region_of_prices: str, fallback: BundledPriceTable, *,
                 api_region: str = PRICING_API_REGION, enabled: bool = True,
                 today: Callable[[], date] | None = None) -> None:
        self.region = region_of_prices
        self.fallback = fallback
        self.api_region = api_region
        self.available = enabled
        self.api_calls = 0
        self._today = today or (lambda: utcnow().date())
        self._answers: dict[tuple[str, ...], Price | None] = {}

    # -- PriceBook --------------------------------------------------------------------------------------

    def ec2_hourly(self, instance_type: str, platform: str = "linux") -> Price | None:
        os_name = _OPERATING_SYSTEMS.get(platform.lower())
        api = None
        if os_name is not None:
            api = self._lookup(
                ("ec2", instance_type, platform), "AmazonEC2", "hour",
                f"EC2 {instance_type} {_platform_label(platform)} on-demand",
                instanceType=instance_type, operatingSystem=os_name, tenancy="Shared", preInstalledSw="NA",
                capacitystatus="Used", licenseModel="No License required")
        return api or self.fallback.ec2_hourly(instance_type, platform)

    def rds_hourly(self, instance_class: str, engine: str, multi_az: bool) -> Price | None:
        engine_name = _DATABASE_ENGINES.get(engine.lower())
        api = None
        if engine_name is not None:
            deployment = "Multi-AZ" if multi_az else "Single-AZ"
            api = self._lookup(
                ("rds", instance_class, engine, deployment), "AmazonRDS", "hour",
                f"RDS {instance_class} {engine_name} {deployment} on-demand",
                instanceType=instance_class, databaseEngine=engine_name, deploymentOption=deployment)
        return api or self.fallback.rds_hourly(instance_class, engine, multi_az)

    def ebs_gb_month(self, volume_type: str) -> Price | None:
        api = self._lookup(("ebs", volume_type), "AmazonEC2", "GB-month", f"EBS {volume_type} storage",
                           productFamily="Storage", volumeApiName=volume_type)
        return api or self.fallback.ebs_gb_month(volume_type)

    def ebs_iops_month(self, volume_type: str) -> Price | None:
        included = self.fallback.included_iops(volume_type)
        suffix = f" above {included:,} included" if included else ""
        api = self._lookup(("ebs-iops", volume_type), "AmazonEC2", "IOPS-month",
                           f"EBS {volume_type} provisioned IOPS{suffix}",
                           productFamily="System Operation", volumeApiName=volume_type, group="EBS IOPS")
        return api or self.fallback.ebs_iops_month(volume_type)

    def ebs_throughput_month(self, volume_type: str) -> Price | None:
        included = self.fallback.included_throughput_mbps(volume_type)
        suffix = f" above {included:,} MB/s included" if included else ""
        api = self._lookup(("ebs-throughput", volume_type), "AmazonEC2", "MBps-month",
                           f"EBS {volume_type} provisioned throughput{suffix}",
                           productFamily="Provisioned Throughput", volumeApiName=volume_type)
        return api or self.fallback.ebs_throughput_month(volume_type)

    # -- the API ------------------------------------------------------------------------------------------

    def _lookup(self, key: tuple[str, ...], service_code: str, unit: _Unit, what: str,
                **attributes: str) -> Price | None:
        if not self.available:
            return None
        if key in self._answers:
            return self._answers[key]
        filters = [{"Type": "TERM_MATCH", "Field": field, "Value": value}
                   for field, value in {**attributes, "regionCode": self.region}.items()]
        try:
            products = self._products(service_code, filters, what)
        except Exception as exc:  # any failure: the API is not there for this run (moto, no route, no right)
            self.available = False
            logger.warning("Pricing API unavailable (%s); using the bundled table of %s for the rest of the run",
                           exc, self.fallback.as_of.isoformat())
            return None
        answer = _unambiguous_price(products)
        price = None
        if answer is not None:
            usd, published = answer
            as_of = published or self._today()
            price = Price(usd=usd, unit=unit, source="pricing_api", as_of=as_of,
                          description=f"{what}, {self.region} (AWS Pricing API, {as_of.isoformat()})")
        self._answers[key] = price
        return price

    def _products(self, service_code: str, filters: list[dict[str, str]], what: str) -> list[dict[str, Any]]:
        client = aws.client("pricing", self.api_region)
        kwargs: dict[str, Any] = {"ServiceCode": service_code, "Filters": filters, "FormatVersion": "aws_v1",
                                  "MaxResults": 100}
        products: list[dict[str, Any]] = []
        for _ in range(_MAX_PAGES):
            self.api_calls += 1
            page = guarded(f"price {what} in {self.region}", client.get_products, **kwargs)
            products.extend(json.loads(item) if isinstance(item, str) else item for item in page.get("PriceList", []))
            token = page.get("NextToken")
            if not token:
                return products
            kwargs["NextToken"] = token
        return []  # too many matches to be one price: no answer (the table decides)


def _unambiguous_price(products: list[dict[str, Any]]) -> tuple[float, date | None] | None:
    """The one on-demand USD price every product agrees on, and the newest publication date; else None.

    Zero-priced dimensions (free tiers, included quantities) are ignored; a product whose terms cannot be
    read makes the answer ambiguous rather than wrong.
    """
    prices: set[float] = set()
    published: list[date] = []
    try:
        for product in products:
            for term in product.get("terms", {}).get("OnDemand", {}).values():
                for dimension in term.get("priceDimensions", {}).values():
                    usd = float(dimension["pricePerUnit"]["USD"])
                    if usd > 0:
                        prices.add(round(usd, 10))
            if product.get("publicationDate"):
                published.append(_to_date(product["publicationDate"]))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    if len(prices) != 1:
        return None
    return prices.pop(), max(published) if published else None


def _to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).date()


def _platform_label(platform: str) -> str:
    return {"linux": "Linux", "windows": "Windows", "rhel": "RHEL", "suse": "SUSE"}.get(platform.lower(), platform)


def _engine_label(engine: str) -> str:
    return _DATABASE_ENGINES.get(engine.lower(), engine)
