"""The pretend account a cost report runs against on the embedded default.

``seed_cost_world(aws)`` creates in the embedded AWS what a real account would already have, with numbers a
reader can redo by hand (EC2, RDS instance and EBS prices are the bundled table's, ``churnguard_ops/cost/data``):

- **12 EC2 instances** (Name and Environment tags; a gp3 root volume of 20 GB each), 10 running and 2 stopped,
  each running one with a known CPU profile (and two with the CloudWatch agent's memory);
- **3 RDS PostgreSQL instances**: ``orders-db`` (db.m5.xlarge, production, Single-AZ, 14-day backups),
  ``reporting-db`` (db.t3.medium, staging, little freeable memory), ``sessions-db`` (db.r5.large, Multi-AZ);
- **8 more EBS volumes**: gp2 data volumes of 1000, 2000, 100 and 5 GB attached, an io1 volume (500 GB, 3,000
  IOPS) whose filesystem the agent reports 14 % full at most, and three volumes attached to nothing;
- **CloudWatch metrics** with known distributions: one point per hour (hourly periods, one sample each, so a
  period's average and p95 are that sample) following a daily profile, ``base`` outside and ``peak`` inside
  the profile's peak hours (UTC); e.g. web-1 is 11 % for 18 hours and 15 % for 6: average 12 %, p95 15 %;
- **Cost Explorer results** queued through moto's API (``POST /moto-api/static/ce/cost-and-usage-results``)
  for the three requests ``churnguard_ops.cost.explorer.CostExplorerSource`` makes, in its order (moto gives
  the n-th distinct request the n-th queued result, and the same result to the same request again).

The bill (Cost Explorer's last complete month) is the seeded resources at those list prices for a 730-hour
month (AWS's "month", the one the report's per-resource costs use), so the report's figures reconcile with
its resources: EC2 instance-hours, EBS volumes under "EC2 - Other", RDS instance-hours plus storage and
backup storage (list prices below; the price book has none for them), and a few services without resources
here (S3, Lambda, CloudWatch, ...). ``worker-1`` was launched 20 hours ago: it has 20 hourly points and no
cost last month. The daily series is flat (each service's month x 24 / 730 per day) except one day, when a
load test ran 2 c5.4xlarge for 24 hours: EC2 compute goes from $41.27 to $73.91 (x 1.79). That day is placed
four days before the daily window's end where the window has a week of history before it.

Two limits of the embedded AWS shape what is seeded:

- moto has no Pricing API: the cost function falls back to the bundled price table (the report says so);
- moto's GetMetricData scans every datapoint of the window once per query and period (O(queries x periods x
  points)): 97 queries over 14 days of hourly points of 23 series take over a minute a call. So each series holds
  ``HISTORY_HOURS`` (48) hourly points, the last two days, which keep every profile's average and p95 exactly
  (each UTC hour appears twice); a faster GetMetricData in ``opsctl/local`` would allow 336.
"""
from __future__ import annotations

import json
import urllib.request
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from churnguard_ops.cost.explorer import EC2_COMPUTE_SERVICE, EC2_OTHER_SERVICE
from churnguard_ops.cost.model import HOURS_PER_MONTH
from churnguard_ops.cost.queries import DISK_PATH_TAG
from churnguard_ops.cost.service import DAILY_DAYS, last_complete_month

#: Hourly points per full series (see the module's docstring); a multiple of 24 keeps the profiles exact.
HISTORY_HOURS = 48
#: moto's Ubuntu image: its Windows images would make every instance "windows" (no Linux price).
LINUX_AMI = "ami-1e749f67"
ZONE = "us-east-1a"
ROOT_VOLUME_GB = 20
#: PutMetricData takes at most 1,000 datums per request.
PUT_METRIC_BATCH = 1000
RDS = "Amazon Relational Database Service"

#: List prices (us-east-1) of what the price book does not price, used only for the seeded bill.
RDS_GP2_STORAGE_GB_MONTH = 0.115  # Single-AZ gp2 storage; Multi-AZ is twice that
RDS_BACKUP_GB_MONTH = 0.095  # backup storage beyond the free allowance (the database's size)
NAT_GATEWAY_HOUR = 0.045
DATA_TRANSFER_OUT_GB = 0.09
LOAD_TEST = ("c5.4xlarge", 2, 24)  # type, instances, hours: the anomaly day's extra compute


@dataclass(frozen=True)
class Daily:
    """One value per hour: ``peak`` during ``peak_hours`` (UTC hours, ``range(14, 20)``), else ``base``."""

    base: float
    peak: float | None = None
    peak_hours: tuple[int, ...] = ()

    def at(self, moment: datetime) -> float:
        return self.peak if self.peak is not None and moment.hour in self.peak_hours else self.base

    @property
    def average(self) -> float:
        peak = self.peak if self.peak is not None else self.base
        return (peak * len(self.peak_hours) + self.base * (24 - len(self.peak_hours))) / 24


BUSINESS_HOURS = tuple(range(14, 20))  # 6 hours
HALF_DAY = tuple(range(12, 24))  # 12 hours
NIGHTLY = (2, 3)  # 2 hours


@dataclass(frozen=True)
class Instance:
    name: str
    instance_type: str
    environment: str
    cpu: Daily | None = None
    memory: Daily | None = None  # CloudWatch agent mem_used_percent
    running: bool = True
    hours: int = HISTORY_HOURS  # hours of metrics
    new: bool = False  # launched after the billed month (worker-1: 20 hours ago): not on its bill


@dataclass(frozen=True)
class Database:
    db_id: str
    instance_class: str
    environment: str
    cpu: Daily
    freeable_memory_bytes: float
    connections: float
    multi_az: bool = False
    backup_retention_days: int = 7
    storage_gb: int = 100
    charged_backup_gb: int = 0  # backup storage billed beyond the free allowance


@dataclass(frozen=True)
class Volume:
    name: str
    volume_type: str
    size_gb: int
    attach_to: str | None = None  # an Instance's name
    iops: int | None = None
    disk_used: Daily | None = None  # CloudWatch agent disk_used_percent of its mount (/data)
    read_ops: float | None = None  # VolumeReadOps per hour
    write_ops: float | None = None


GIB = 2 ** 30
MIB = 2 ** 20

INSTANCES = (
    Instance("web-1", "m5.2xlarge", "production", Daily(11, 15, BUSINESS_HOURS), memory=Daily(14, 18, HALF_DAY)),
    Instance("web-2", "m5.xlarge", "production", Daily(25, 45, BUSINESS_HOURS)),
    Instance("web-3", "m5.large", "production", Daily(30, 40, HALF_DAY)),
    Instance("api-1", "c5.xlarge", "production", Daily(55, 75, HALF_DAY)),
    Instance("api-2", "t3.large", "production", Daily(20, 30, HALF_DAY), memory=Daily(55, 65, HALF_DAY)),
    Instance("batch-1", "c5.2xlarge", "production", Daily(8, 92, NIGHTLY)),
    Instance("worker-1", "r5.large", "staging", Daily(10), hours=20, new=True),
    Instance("worker-2", "m5.xlarge", "production", Daily(40, 60, HALF_DAY)),
    Instance("analytics-1", "r5.xlarge", "production", Daily(6, 10, HALF_DAY)),
    Instance("bastion", "t3.micro", "production", Daily(3)),
    Instance("dev-1", "t3.medium", "development", running=False),
    Instance("dev-2", "m5.large", "development", running=False),
)

DATABASES = (
    Database("orders-db", "db.m5.xlarge", "production", Daily(14, 22, HALF_DAY), 6 * GIB, 40,
             backup_retention_days=14, storage_gb=500, charged_backup_gb=300),
    Database("reporting-db", "db.t3.medium", "staging", Daily(15, 25, HALF_DAY), 800 * MIB, 8),
    Database("sessions-db", "db.r5.large", "production", Daily(40, 50, HALF_DAY), 10 * GIB, 120, multi_az=True,
             storage_gb=200),
)

VOLUMES = (
    Volume("web-1-data", "gp2", 1000, "web-1", read_ops=360_000, write_ops=720_000),
    Volume("worker-2-data", "gp2", 2000, "worker-2"),
    Volume("api-1-data", "gp2", 100, "api-1"),
    Volume("batch-1-scratch", "gp2", 5, "batch-1"),
    Volume("analytics-1-data", "io1", 500, "analytics-1", iops=3000, disk_used=Daily(12, 14, HALF_DAY)),
    Volume("old-export", "gp2", 500),
    Volume("pre-migration-copy", "gp3", 200),
    Volume("orphan-dev-3", "gp2", 100),
)

#: Services billed without resources here (monthly USD), and ChurnGuard Ops' own share of them (its tag).
OTHER_SERVICES = {
    "Amazon Simple Storage Service": ("TimedStorage-ByteHrs", 46.00),  # 2,000 GB x $0.023
    "AmazonCloudWatch": ("CW:MetricMonitorUsage", 24.00),  # 80 custom metrics x $0.30
    "AWS Lambda": ("Lambda-GB-Second", 12.40),
    "Amazon DynamoDB": ("TimedStorage-ByteHrs", 6.25),
    "AWS Key Management Service": ("KMS-Keys", 4.00),
    "Amazon Simple Queue Service": ("Requests-Tier1", 0.40),
    "AWS Step Functions": ("StateTransition", 0.35),
}
FOOTPRINT = {"AmazonCloudWatch": 3.10, "AWS Lambda": 1.84, "AWS Key Management Service": 1.00,
             "Amazon DynamoDB": 0.75, "Amazon Simple Storage Service": 0.62, "AWS Step Functions": 0.35,
             "Amazon Simple Queue Service": 0.02}


@dataclass
class CostWorld:
    """What was seeded: ids by name, and the bill Cost Explorer will answer with."""

    now: datetime
    instances: dict[str, str] = field(default_factory=dict)  # Name -> instance id
    volumes: dict[str, str] = field(default_factory=dict)  # name -> volume id (roots: "<instance>-root")
    databases: list[str] = field(default_factory=list)
    period: tuple[date, date] = (date.min, date.min)  # [start, end) of the billed month
    daily_window: tuple[date, date] = (date.min, date.min)  # [start, end) of the daily series requested
    anomaly_day: date | None = None
    monthly: dict[str, dict[str, float]] = field(default_factory=dict)  # service -> usage type -> USD
    footprint: dict[str, float] = field(default_factory=dict)
    datapoints: int = 0
    put_metric_calls: int = 0

    @property
    def monthly_total(self) -> float:
        return round(sum(sum(u.values()) for u in self.monthly.values()), 2)

    def resource_ids(self) -> set[str]:
        return {*self.instances.values(), *self.volumes.values(), *self.databases}


# --- Cost Explorer's side ---------------------------------------------------------------------------


def hourly_price(kind: str, name: str) -> float:
    """The bundled table's price of an EC2 type or RDS class (Single-AZ)."""
    from churnguard_ops.cost.pricing import BundledPriceTable

    table = BundledPriceTable()
    price = table.ec2_hourly(name) if kind == "ec2" else table.rds_hourly(name, "postgres", False)
    assert price is not None, f"no bundled price for {name}"
    return price.usd


def gb_month(volume_type: str) -> float:
    from churnguard_ops.cost.pricing import BundledPriceTable

    price = BundledPriceTable().ebs_gb_month(volume_type)
    assert price is not None
    return price.usd


def iops_month(volume_type: str) -> float:
    from churnguard_ops.cost.pricing import BundledPriceTable

    price = BundledPriceTable().ebs_iops_month(volume_type)
    assert price is not None
    return price.usd


def daily_window(now: datetime) -> tuple[date, date]:
    """The daily series the cost report asks for: the ``DAILY_DAYS`` days before today (service.py)."""
    return now.date() - timedelta(days=DAILY_DAYS), now.date()


def anomaly_day(window: tuple[date, date]) -> date | None:
    """Four days before the window's end, or as late as a week of history allows; None if the window is
    too short for any day to be judged (anomalies need 7 days before the day)."""
    days = (window[1] - window[0]).days
    if days < 8:
        return None
    return window[0] + timedelta(days=max(7, days - 4))


def monthly_bill(period: tuple[date, date], anomaly: date | None) -> dict[str, dict[str, float]]:
    """Cost Explorer's month by service and usage type, from the seeded resources (see the docstring)."""
    bill: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    hours = HOURS_PER_MONTH
    for inst in INSTANCES:
        if inst.running and not inst.new:  # a stopped instance bills no instance-hours
            usd = hourly_price("ec2", inst.instance_type) * hours
            bill[EC2_COMPUTE_SERVICE][f"BoxUsage:{inst.instance_type}"] += usd
    if anomaly is not None and period[0] <= anomaly < period[1]:
        kind, count, load_hours = LOAD_TEST
        bill[EC2_COMPUTE_SERVICE][f"BoxUsage:{kind}"] += hourly_price("ec2", kind) * count * load_hours
    for inst in INSTANCES:
        if not inst.new:  # a stopped instance's root volume still bills
            bill[EC2_OTHER_SERVICE]["EBS:VolumeUsage.gp3"] += ROOT_VOLUME_GB * gb_month("gp3")
    for vol in VOLUMES:
        usage = "EBS:VolumeUsage.piops" if vol.volume_type == "io1" else f"EBS:VolumeUsage.{vol.volume_type}"
        bill[EC2_OTHER_SERVICE][usage] += vol.size_gb * gb_month(vol.volume_type)
        if vol.volume_type == "io1" and vol.iops:
            bill[EC2_OTHER_SERVICE]["EBS:VolumeP-IOPS.piops"] += vol.iops * iops_month("io1")
    bill[EC2_OTHER_SERVICE]["NatGateway-Hours"] += NAT_GATEWAY_HOUR * hours
    bill[EC2_OTHER_SERVICE]["DataTransfer-Out-Bytes"] += 500 * DATA_TRANSFER_OUT_GB
    for db in DATABASES:
        price = hourly_price("rds", db.instance_class) * (2 if db.multi_az else 1) * hours
        usage = "Multi-AZUsage" if db.multi_az else "InstanceUsage"
        bill[RDS][f"{usage}:{db.instance_class}"] += price
        storage = "RDS:Multi-AZ-GP2-Storage" if db.multi_az else "RDS:GP2-Storage"
        bill[RDS][storage] += db.storage_gb * RDS_GP2_STORAGE_GB_MONTH * (2 if db.multi_az else 1)
        if db.charged_backup_gb:
            bill[RDS]["RDS:ChargedBackupUsage"] += db.charged_backup_gb * RDS_BACKUP_GB_MONTH
    for service, (usage, usd) in OTHER_SERVICES.items():
        bill[service][usage] += usd
    return {service: {usage: round(usd, 6) for usage, usd in usages.items()} for service, usages in bill.items()}


def _amount(usd: float, metric: str) -> dict[str, dict[str, str]]:
    return {metric: {"Amount": f"{usd:.6f}".rstrip("0").rstrip("."), "Unit": "USD"}}


def cost_explorer_results(world: CostWorld, metric: str) -> list[dict[str, Any]]:
    """The three GetCostAndUsage answers, in the order CostExplorerSource asks (see explorer.py)."""
    start, end = (d.isoformat() for d in world.period)
    monthly = {"ResultsByTime": [{
        "TimePeriod": {"Start": start, "End": end}, "Total": {}, "Estimated": False,
        "Groups": [{"Keys": [service, usage], "Metrics": _amount(usd, metric)}
                   for service, usages in sorted(world.monthly.items()) for usage, usd in sorted(usages.items())]}],
        "GroupDefinitions": [{"Type": "DIMENSION", "Key": "SERVICE"}, {"Type": "DIMENSION", "Key": "USAGE_TYPE"}],
        "DimensionValueAttributes": []}
    base = {service: sum(usages.values()) for service, usages in world.monthly.items()}
    if world.anomaly_day is not None and world.period[0] <= world.anomaly_day < world.period[1]:
        kind, count, hours = LOAD_TEST
        base[EC2_COMPUTE_SERVICE] -= hourly_price("ec2", kind) * count * hours  # the flat days exclude it
    day_usd = {service: round(usd * 24 / HOURS_PER_MONTH, 2) for service, usd in base.items()}
    by_day = []
    day = world.daily_window[0]
    while day < world.daily_window[1]:
        usd = dict(day_usd)
        if day == world.anomaly_day:
            kind, count, hours = LOAD_TEST
            usd[EC2_COMPUTE_SERVICE] = round(usd[EC2_COMPUTE_SERVICE] + hourly_price("ec2", kind) * count * hours, 2)
        by_day.append({"TimePeriod": {"Start": day.isoformat(), "End": (day + timedelta(days=1)).isoformat()},
                       "Total": {}, "Estimated": False,
                       "Groups": [{"Keys": [s], "Metrics": _amount(v, metric)} for s, v in sorted(usd.items())]})
        day += timedelta(days=1)
    daily = {"ResultsByTime": by_day, "GroupDefinitions": [{"Type": "DIMENSION", "Key": "SERVICE"}],
             "DimensionValueAttributes": []}
    own = {"ResultsByTime": [{
        "TimePeriod": {"Start": start, "End": end}, "Total": {}, "Estimated": False,
        "Groups": [{"Keys": [s], "Metrics": _amount(v, metric)} for s, v in sorted(world.footprint.items())]}],
        "GroupDefinitions": [{"Type": "DIMENSION", "Key": "SERVICE"}], "DimensionValueAttributes": []}
    return [monthly, daily, own]


def queue_cost_explorer_results(endpoint_url: str, results: list[dict[str, Any]]) -> None:
    request = urllib.request.Request(f"{endpoint_url}/moto-api/static/ce/cost-and-usage-results",
                                     data=json.dumps({"results": results}).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        if response.status != 201:
            raise RuntimeError(f"moto refused the Cost Explorer results: HTTP {response.status}")


# --- the resources and their metrics ---------------------------------------------------------------------


def _tags(name: str, environment: str | None = None) -> list[dict[str, str]]:
    tags = [{"Key": "Name", "Value": name}, {"Key": "Application", "Value": "churnguard"}]
    return tags + ([{"Key": "Environment", "Value": environment}] if environment else [])


def _hours(now: datetime, count: int) -> Iterable[datetime]:
    """``count`` consecutive half-past-the-hour moments before ``now``: one per hourly period, whatever
    minute the report's window starts at."""
    for k in range(count):
        yield now - timedelta(hours=k + 0.5)


def _series(namespace: str, name: str, dimensions: dict[str, str], profile: Daily, now: datetime, hours: int,
            unit: str) -> Iterable[tuple[str, dict[str, Any]]]:
    dims = [{"Name": k, "Value": v} for k, v in sorted(dimensions.items())]
    for moment in _hours(now, hours):
        yield namespace, {"MetricName": name, "Dimensions": dims, "Timestamp": moment, "Value": profile.at(moment),
                          "Unit": unit}


def _put_metrics(cloudwatch: Any, data: Iterable[tuple[str, dict[str, Any]]], world: CostWorld) -> None:
    by_namespace: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for namespace, datum in data:
        by_namespace[namespace].append(datum)
    for namespace, datums in sorted(by_namespace.items()):
        for first in range(0, len(datums), PUT_METRIC_BATCH):
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=datums[first:first + PUT_METRIC_BATCH])
            world.put_metric_calls += 1
        world.datapoints += len(datums)


def _create_instances(ec2: Any, world: CostWorld) -> None:
    for inst in INSTANCES:
        reservation = ec2.run_instances(
            ImageId=LINUX_AMI, InstanceType=inst.instance_type, MinCount=1, MaxCount=1,
            Placement={"AvailabilityZone": ZONE},
            BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": ROOT_VOLUME_GB,
                                                                     "VolumeType": "gp3",
                                                                     "DeleteOnTermination": True}}],
            TagSpecifications=[{"ResourceType": "instance", "Tags": _tags(inst.name, inst.environment)},
                               {"ResourceType": "volume", "Tags": _tags(f"{inst.name}-root", inst.environment)}])
        instance = reservation["Instances"][0]
        world.instances[inst.name] = instance["InstanceId"]
        root = next(m["Ebs"]["VolumeId"] for m in instance.get("BlockDeviceMappings", []))
        world.volumes[f"{inst.name}-root"] = root
    stopped = [world.instances[i.name] for i in INSTANCES if not i.running]
    if stopped:
        ec2.stop_instances(InstanceIds=stopped)


def _create_volumes(ec2: Any, world: CostWorld) -> None:
    for vol in VOLUMES:
        owner = next((i for i in INSTANCES if i.name == vol.attach_to), None)
        tags = _tags(vol.name, owner.environment if owner else None)
        if vol.disk_used is not None:
            tags.append({"Key": DISK_PATH_TAG, "Value": "/data"})
        kwargs: dict[str, Any] = {"Iops": vol.iops} if vol.iops else {}
        volume_id = ec2.create_volume(AvailabilityZone=ZONE, Size=vol.size_gb, VolumeType=vol.volume_type,
                                      TagSpecifications=[{"ResourceType": "volume", "Tags": tags}],
                                      **kwargs)["VolumeId"]
        world.volumes[vol.name] = volume_id
        if owner is not None:
            ec2.attach_volume(VolumeId=volume_id, InstanceId=world.instances[owner.name], Device="/dev/sdf")


def _create_databases(rds: Any, world: CostWorld) -> None:
    for db in DATABASES:
        rds.create_db_instance(
            DBInstanceIdentifier=db.db_id, DBInstanceClass=db.instance_class, Engine="postgres",
            EngineVersion="15.8", AllocatedStorage=db.storage_gb, StorageType="gp2", MasterUsername="churnguard",
            MasterUserPassword="local-only-pg-password", MultiAZ=db.multi_az,
            BackupRetentionPeriod=db.backup_retention_days, StorageEncrypted=True,
            Tags=_tags(db.db_id, db.environment))
        world.databases.append(db.db_id)


def _metrics(world: CostWorld, now: datetime) -> Iterable[tuple[str, dict[str, Any]]]:
    for inst in INSTANCES:
        dims = {"InstanceId": world.instances[inst.name]}
        if inst.running and inst.cpu is not None:
            yield from _series("AWS/EC2", "CPUUtilization", dims, inst.cpu, now, inst.hours, "Percent")
        if inst.running and inst.memory is not None:
            yield from _series("CWAgent", "mem_used_percent", dims, inst.memory, now, inst.hours, "Percent")
    for db in DATABASES:
        dims = {"DBInstanceIdentifier": db.db_id}
        yield from _series("AWS/RDS", "CPUUtilization", dims, db.cpu, now, HISTORY_HOURS, "Percent")
        yield from _series("AWS/RDS", "FreeableMemory", dims, Daily(db.freeable_memory_bytes), now, HISTORY_HOURS,
                           "Bytes")
        yield from _series("AWS/RDS", "DatabaseConnections", dims, Daily(db.connections), now, HISTORY_HOURS,
                           "Count")
    for vol in VOLUMES:
        dims = {"VolumeId": world.volumes[vol.name]}
        for name, ops in (("VolumeReadOps", vol.read_ops), ("VolumeWriteOps", vol.write_ops)):
            if ops is not None:
                yield from _series("AWS/EBS", name, dims, Daily(ops), now, HISTORY_HOURS, "Count")
        if vol.disk_used is not None and vol.attach_to:
            disk = {"InstanceId": world.instances[vol.attach_to], "path": "/data"}
            yield from _series("CWAgent", "disk_used_percent", disk, vol.disk_used, now, HISTORY_HOURS, "Percent")


def seed_cost_world(aws: Any, *, now: datetime | None = None, metric: str = "UnblendedCost",
                    region: str | None = None) -> CostWorld:
    """Seed the running embedded AWS (``aws``: an ``EmbeddedAws``, e.g. ``LocalEnvironment().aws``).

    ``metric`` is the cost metric the function reads (``cost.cost_metric`` of the context). Call it once per
    account: Cost Explorer's results are queued for the first three distinct requests.
    """
    world = cost_bill((now or datetime.now(timezone.utc)).astimezone(timezone.utc))
    ec2, rds, cloudwatch = (aws.client(s, region) for s in ("ec2", "rds", "cloudwatch"))
    _create_instances(ec2, world)
    _create_volumes(ec2, world)
    _create_databases(rds, world)
    _put_metrics(cloudwatch, _metrics(world, world.now), world)
    queue_cost_explorer_results(aws.endpoint_url, cost_explorer_results(world, metric))
    return world


def cost_bill(now: datetime) -> CostWorld:
    """The bill alone (no resources): the month, the daily window and its anomaly day, the footprint."""
    world = CostWorld(now=now, period=last_complete_month(now.date()), daily_window=daily_window(now))
    world.anomaly_day = anomaly_day(world.daily_window)
    world.monthly = monthly_bill(world.period, world.anomaly_day)
    world.footprint = dict(FOOTPRINT)
    return world

