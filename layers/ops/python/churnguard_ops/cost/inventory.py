"""The region's inventory (:class:`~churnguard_ops.cost.ports.InventorySource`): EC2 instances (running and
stopped), RDS instances (class, Multi-AZ, backup retention, storage, tags from ``TagList``) and EBS volumes
(type, size, IOPS, throughput, attachments), every page of each through boto3's paginators.

Each page is one call, counted in ``usage.calls`` as ``ec2:DescribeInstances``, ``rds:DescribeDBInstances``
and ``ec2:DescribeVolumes``. ``page_size`` (tests) sets MaxResults / MaxRecords, brought within each API's
bounds (DescribeInstances 5..1000, DescribeVolumes 5..500, DescribeDBInstances 20..100) so that one setting is
valid for all three; without it each API pages at its own default.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from churnguard_ops.core import aws
from churnguard_ops.core.errors import raise_translated
from churnguard_ops.cost.model import ApiUsage, EbsVolume, Ec2Instance, Inventory, RdsInstance

#: Instance states whose costs matter: a running instance bills hours, a stopped one its volumes.
EC2_STATES = ("running", "stopped")
#: (smallest, largest) page size of each listing.
_PAGE_BOUNDS = {"describe_instances": (5, 1000), "describe_volumes": (5, 500), "describe_db_instances": (20, 100)}


class AwsInventorySource:
    def __init__(self, region: str | None = None, *, page_size: int | None = None) -> None:
        self.region = region
        self.page_size = page_size

    def inventory(self, usage: ApiUsage) -> Inventory:
        return Inventory(ec2=self.instances(usage), rds=self.databases(usage), ebs=self.volumes(usage))

    def instances(self, usage: ApiUsage) -> list[Ec2Instance]:
        found: list[Ec2Instance] = []
        for page in self._pages("ec2", "describe_instances", "ec2:DescribeInstances", usage,
                                Filters=[{"Name": "instance-state-name", "Values": list(EC2_STATES)}]):
            for reservation in page.get("Reservations", []):
                found.extend(_instance(raw) for raw in reservation.get("Instances", []))
        return found

    def databases(self, usage: ApiUsage) -> list[RdsInstance]:
        return [_database(raw)
                for page in self._pages("rds", "describe_db_instances", "rds:DescribeDBInstances", usage)
                for raw in page.get("DBInstances", [])]

    def volumes(self, usage: ApiUsage) -> list[EbsVolume]:
        return [_volume(raw)
                for page in self._pages("ec2", "describe_volumes", "ec2:DescribeVolumes", usage)
                for raw in page.get("Volumes", [])]

    def _pages(self, service: str, operation: str, call: str, usage: ApiUsage,
               **kwargs: Any) -> Iterator[dict[str, Any]]:
        paginator = aws.client(service, self.region).get_paginator(operation)
        config = {}
        if self.page_size:
            smallest, largest = _PAGE_BOUNDS[operation]
            config["PageSize"] = max(smallest, min(largest, self.page_size))
        pages = iter(paginator.paginate(**kwargs, PaginationConfig=config))
        while True:
            try:
                page = next(pages)
            except StopIteration:
                return
            except Exception as exc:
                raise_translated(exc, f"{call} in {self.region or 'the default region'}")
            usage.count(call)
            yield page


def _tags(raw: list[dict[str, str]] | None) -> dict[str, str]:
    return {tag["Key"]: tag.get("Value", "") for tag in raw or [] if "Key" in tag}


def _platform(raw: dict[str, Any]) -> str:
    """Our platform name: linux, windows, rhel, suse (the price list's operating systems), else as AWS says."""
    if str(raw.get("Platform", "")).lower() == "windows":
        return "windows"
    details = str(raw.get("PlatformDetails") or "Linux/UNIX")
    if details.startswith("Windows"):
        return "windows"
    if details == "Linux/UNIX":
        return "linux"
    if details.startswith("Red Hat Enterprise Linux"):
        return "rhel"
    if details.startswith("SUSE Linux"):
        return "suse"
    return details.lower()


def _instance(raw: dict[str, Any]) -> Ec2Instance:
    return Ec2Instance(
        instance_id=raw["InstanceId"],
        instance_type=raw["InstanceType"],
        state=raw.get("State", {}).get("Name", "running"),
        platform=_platform(raw),
        availability_zone=raw.get("Placement", {}).get("AvailabilityZone"),
        tags=_tags(raw.get("Tags")),
    )


def _database(raw: dict[str, Any]) -> RdsInstance:
    return RdsInstance(
        db_instance_id=raw["DBInstanceIdentifier"],
        instance_class=raw["DBInstanceClass"],
        engine=raw.get("Engine", "postgres"),
        multi_az=bool(raw.get("MultiAZ", False)),
        backup_retention_days=int(raw.get("BackupRetentionPeriod", 0) or 0),
        allocated_storage_gb=int(raw.get("AllocatedStorage", 0) or 0),
        storage_type=raw.get("StorageType") or "gp2",
        tags=_tags(raw.get("TagList")),
    )


def _volume(raw: dict[str, Any]) -> EbsVolume:
    return EbsVolume(
        volume_id=raw["VolumeId"],
        volume_type=raw["VolumeType"],
        size_gb=int(raw["Size"]),
        iops=raw.get("Iops"),
        throughput_mbps=raw.get("Throughput"),
        state=raw.get("State", "in-use"),
        attached_to=[a["InstanceId"] for a in raw.get("Attachments", []) if a.get("InstanceId")],
        tags=_tags(raw.get("Tags")),
    )
