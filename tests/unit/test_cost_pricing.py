"""The bundled price table: shipped in the package, dated, complete for the families the rules price, and
Multi-AZ / gp3 arithmetic as AWS bills it. The Pricing API's failure path on a fake client (no sockets)."""
from __future__ import annotations

import itertools
import json
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import churnguard_ops
from churnguard_ops.cost import pricing
from churnguard_ops.cost.model import HOURS_PER_MONTH
from churnguard_ops.cost.pricing import (
    GP3_INCLUDED_IOPS,
    GP3_INCLUDED_THROUGHPUT_MBPS,
    BundledPriceTable,
    PricingApiPriceBook,
    table_resource,
)

EC2_FAMILIES = ["t3", "t4g", "m5", "m6i", "m6g", "m7g", "c5", "c6i", "c6g", "r5", "r6i", "r6g"]
RDS_FAMILIES = ["db.t3", "db.t4g", "db.m5", "db.m6g", "db.m6i", "db.r5", "db.r6g"]


def test_the_table_ships_inside_the_package_with_its_date_and_source() -> None:
    package_dir = Path(churnguard_ops.__file__).parent  # layers/ops/python/churnguard_ops: copied into the layer
    assert Path(str(table_resource())) == package_dir / "cost" / "data" / "prices-us-east-1.json"
    document = json.loads(table_resource().read_text(encoding="utf-8"))
    table = BundledPriceTable()
    assert table.as_of == date.fromisoformat(document["as_of"]) and table.region == "us-east-1"
    assert "Price List" in table.source_note


@pytest.mark.parametrize("family", EC2_FAMILIES)
def test_every_common_ec2_family_is_priced_from_large_to_4xlarge(family: str) -> None:
    table = BundledPriceTable()
    prices = [table.ec2_hourly(f"{family}.{size}") for size in ["large", "xlarge", "2xlarge"]]
    if not family.startswith("t"):
        prices.append(table.ec2_hourly(f"{family}.4xlarge"))
    assert all(p is not None and p.source == "bundled_table" and p.unit == "hour" for p in prices)
    usd = [p.usd for p in prices if p is not None]
    assert usd == sorted(usd) and all(b == pytest.approx(2 * a, rel=0.01) for a, b in itertools.pairwise(usd))


@pytest.mark.parametrize("family", RDS_FAMILIES)
def test_every_common_rds_postgres_class_is_priced_and_multi_az_is_twice_single_az(family: str) -> None:
    table = BundledPriceTable()
    single = table.rds_hourly(f"{family}.large", "postgres", multi_az=False)
    multi = table.rds_hourly(f"{family}.large", "postgres", multi_az=True)
    assert single is not None and multi is not None
    assert multi.usd == pytest.approx(2 * single.usd) and "Multi-AZ" in multi.description
    assert table.rds_hourly(f"{family}.xlarge", "postgres", multi_az=False) is not None


def test_known_list_prices_and_their_monthly_maths() -> None:
    table = BundledPriceTable()
    m5 = table.ec2_hourly("m5.xlarge")
    assert m5 is not None and m5.usd == 0.192 and m5.monthly() == pytest.approx(0.192 * HOURS_PER_MONTH)
    rds = table.rds_hourly("db.m5.large", "postgres", multi_az=False)
    assert rds is not None and rds.usd == 0.178
    volumes = {kind: table.ebs_gb_month(kind) for kind in ["gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"]}
    assert {kind: p.usd for kind, p in volumes.items() if p} == {
        "gp2": 0.10, "gp3": 0.08, "io1": 0.125, "io2": 0.125, "st1": 0.045, "sc1": 0.015, "standard": 0.05}
    iops, throughput = table.ebs_iops_month("gp3"), table.ebs_throughput_month("gp3")
    assert iops is not None and (iops.usd, iops.unit) == (0.005, "IOPS-month")
    assert throughput is not None and (throughput.usd, throughput.unit) == (0.04, "MBps-month")
    assert (table.included_iops("gp3"), table.included_throughput_mbps("gp3")) == \
        (GP3_INCLUDED_IOPS, GP3_INCLUDED_THROUGHPUT_MBPS) == (3000, 125)
    assert table.included_iops("io1") == 0 and table.ebs_iops_month("io1") is not None


def test_what_the_table_does_not_know_is_none_not_a_guess() -> None:
    table = BundledPriceTable()
    assert table.ec2_hourly("m5.large", platform="windows") is None
    assert table.ec2_hourly("x2iedn.32xlarge") is None
    assert table.rds_hourly("db.m5.large", "oracle-ee", multi_az=False) is None
    assert table.ebs_gb_month("gp9") is None and table.ebs_iops_month("gp2") is None
    assert table.ebs_throughput_month("st1") is None


class _FailingPricing:
    def __init__(self) -> None:
        self.calls = 0

    def get_products(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        raise ConnectionError("no route to the Pricing API")


def test_the_first_pricing_api_failure_switches_the_run_to_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _FailingPricing()
    monkeypatch.setattr(pricing, "aws", SimpleNamespace(client=lambda service, region=None: fake))
    book = PricingApiPriceBook("us-east-1", BundledPriceTable())
    prices = [book.ec2_hourly("m5.large"), book.ec2_hourly("c5.large"), book.ebs_gb_month("gp2"),
              book.rds_hourly("db.r5.large", "postgres", multi_az=False)]
    assert fake.calls == 1 and book.available is False
    assert [p.source for p in prices if p] == ["bundled_table"] * 4


def test_a_disabled_pricing_api_is_never_called(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _FailingPricing()
    monkeypatch.setattr(pricing, "aws", SimpleNamespace(client=lambda service, region=None: fake))
    book = PricingApiPriceBook("us-east-1", BundledPriceTable(), enabled=False)
    price = book.ebs_throughput_month("gp3")
    assert fake.calls == 0 and price is not None and price.source == "bundled_table"
