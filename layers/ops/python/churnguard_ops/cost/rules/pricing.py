"""Prices of resources and the maths of a change, written so a reader can redo them.

Monthly costs (730 hours a month):

- EC2: the On-Demand hourly price x 730 while running; a stopped instance bills no instance-hours (its
  volumes are priced as volumes).
- RDS: the instance-hours (Single- or Multi-AZ price) x 730; storage and backup storage are not included
  (the PriceBook has no RDS storage prices): Cost Explorer's totals include them.
- EBS: GB-month x size, plus provisioned IOPS and throughput: gp3 above its free baseline (3,000 IOPS,
  125 MB/s), io1/io2 every provisioned IOPS (io2's cheaper tiers above 32,000 IOPS are ignored: an
  overestimate).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from churnguard_ops.cost.model import HOURS_PER_MONTH, EbsVolume, Ec2Instance, Maths, Price, RdsInstance
from churnguard_ops.cost.ports import PriceBook

from .base import MissingPrice, Resource

GP3_BASE_IOPS = 3000
GP3_BASE_THROUGHPUT = 125  # MB/s
PROVISIONED_IOPS_TYPES = ("io1", "io2")


def usd(amount: float) -> str:
    return f"${amount:,.2f}"


def ec2_price(prices: PriceBook, instance_type: str, platform: str = "linux") -> Price:
    price = prices.ec2_hourly(instance_type, platform)
    if price is None:
        raise MissingPrice(f"no price for EC2 {instance_type} ({platform})")
    return price


def rds_price(prices: PriceBook, instance_class: str, engine: str, multi_az: bool) -> Price:
    price = prices.rds_hourly(instance_class, engine, multi_az)
    if price is None:
        raise MissingPrice(f"no price for RDS {instance_class} {engine} ({'Multi-AZ' if multi_az else 'Single-AZ'})")
    return price


def hourly_change(current: Price, proposed: Price) -> Maths:
    """The maths of replacing one hourly price by another: ``(a - b) $/h x 730 h = $s``."""
    saving = (current.usd - proposed.usd) * HOURS_PER_MONTH
    return Maths(current=[current], proposed=[proposed], formula=(
        f"({current.usd:.4f} - {proposed.usd:.4f}) $/h x {HOURS_PER_MONTH} h = {usd(saving)}"),
        current_monthly_usd=round(current.monthly(), 2), proposed_monthly_usd=round(proposed.monthly(), 2))


@dataclass
class VolumeCost:
    """A volume configuration's monthly cost, its prices and its terms (``500 GB x $0.0800``)."""

    monthly: float = 0.0
    prices: list[Price] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)

    def add(self, price: Price, quantity: float, unit: str) -> None:
        self.monthly += price.monthly(quantity)
        self.prices.append(price)
        self.terms.append(f"{quantity:g} {unit} x ${price.usd:.4f}")

    def formula(self) -> str:
        return " + ".join(self.terms) + f" = {usd(self.monthly)}" if self.terms else "$0.00"


def volume_cost(prices: PriceBook, volume_type: str, size_gb: float, iops: int | None = None,
                throughput_mbps: int | None = None) -> VolumeCost:
    """The monthly cost of a volume of this type, size, IOPS and throughput (see the module's rules)."""
    cost = VolumeCost()
    gb = prices.ebs_gb_month(volume_type)
    if gb is None:
        raise MissingPrice(f"no GB-month price for EBS {volume_type}")
    cost.add(gb, size_gb, "GB")
    extra_iops = (max(0, (iops or 0) - GP3_BASE_IOPS) if volume_type == "gp3"
                  else (iops or 0) if volume_type in PROVISIONED_IOPS_TYPES else 0)
    if extra_iops:
        price = prices.ebs_iops_month(volume_type)
        if price is None:
            raise MissingPrice(f"no IOPS-month price for EBS {volume_type}")
        cost.add(price, extra_iops, "IOPS")
    extra_throughput = max(0, (throughput_mbps or 0) - GP3_BASE_THROUGHPUT) if volume_type == "gp3" else 0
    if extra_throughput:
        price = prices.ebs_throughput_month(volume_type)
        if price is None:
            raise MissingPrice(f"no MBps-month price for EBS {volume_type}")
        cost.add(price, extra_throughput, "MB/s")
    return cost


def volume_monthly(prices: PriceBook, volume: EbsVolume) -> VolumeCost:
    return volume_cost(prices, volume.volume_type, volume.size_gb, volume.iops, volume.throughput_mbps)


def volume_change(current: VolumeCost, proposed: VolumeCost) -> Maths:
    saving = current.monthly - proposed.monthly
    return Maths(current=current.prices, proposed=proposed.prices, formula=(
        f"now {current.formula()}; proposed {proposed.formula()}; saving {usd(saving)}"),
        current_monthly_usd=round(current.monthly, 2), proposed_monthly_usd=round(proposed.monthly, 2))


def monthly_cost(prices: PriceBook, resource: Resource) -> float:
    """What the resource costs a month by the price book (MissingPrice if a price is missing)."""
    if isinstance(resource, Ec2Instance):
        if resource.state != "running":
            return 0.0
        return ec2_price(prices, resource.instance_type, resource.platform).monthly()
    if isinstance(resource, RdsInstance):
        return rds_price(prices, resource.instance_class, resource.engine, resource.multi_az).monthly()
    return volume_monthly(prices, resource).monthly
