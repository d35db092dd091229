"""A realistic cost report built by hand, for the renderers' tests and the browser test.

A dozen EC2 instances, three RDS instances and six EBS volumes, each with its conclusion (recommended, no
action, insufficient data, vetoed, a note); the services they bill under; 35 days of daily costs with one
anomaly (a data transfer spike); recommendations whose maths redo with a calculator (us-east-1 on-demand
prices, some from the Pricing API, some from the bundled table); a three-phase plan; our own footprint and the
run's API usage. Totals are summed from the parts, so they agree with them.

``sample_report(hostile=...)`` puts a hostile string into every free-text field a renderer shows.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from churnguard_ops.cost.model import (
    HOURS_PER_MONTH,
    Anomaly,
    ApiUsage,
    Category,
    CostReport,
    DailyCost,
    EbsVolume,
    Ec2Instance,
    Effort,
    Evidence,
    Inventory,
    Maths,
    Phase,
    Price,
    RdsInstance,
    Recommendation,
    ResourceKind,
    ResourceResult,
    ResourceStatus,
    ServiceCost,
    Totals,
)

GENERATED_AT = datetime(2026, 11, 5, 6, 0, tzinfo=timezone.utc)
API_DAY = date(2026, 11, 5)  # the Pricing API answered on the day of the run
TABLE_DAY = date(2026, 6, 1)  # the bundled table's date
PERIOD_START, PERIOD_END = date(2026, 10, 1), date(2026, 11, 1)
DAILY_START = date(2026, 10, 1)
DAYS = 35
ANOMALY_DAY = date(2026, 10, 28)
ANOMALY_SERVICE = "AWS Data Transfer"
SPIKE_USD = 174.60  # 1.9 TB out to the internet at $0.09 per GB, on a service that costs about $3 a day
LOOKBACK_DAYS = 14

HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)> | **bold** [x](javascript:alert(3)) $1 `tick`'

EC2_SERVICE = "Amazon Elastic Compute Cloud - Compute"
RDS_SERVICE = "Amazon Relational Database Service"
EBS_SERVICE = "EC2 - Other"


def hourly(usd: float, what: str, api: bool = True) -> Price:
    return Price(usd=usd, unit="hour", source="pricing_api" if api else "bundled_table",
                 as_of=API_DAY if api else TABLE_DAY, description=what)


def per_gb(usd: float, what: str, api: bool = False) -> Price:
    return Price(usd=usd, unit="GB-month", source="pricing_api" if api else "bundled_table",
                 as_of=API_DAY if api else TABLE_DAY, description=what)


EC2_PRICES = {t: hourly(p, f"EC2 {t} Linux on-demand, us-east-1", api=t not in {"m4.xlarge", "t3.large"})
              for t, p in {"m5.xlarge": 0.192, "m5.large": 0.096, "m5.2xlarge": 0.384, "c5.2xlarge": 0.34,
                           "c5.xlarge": 0.17, "c5.large": 0.085, "r5.xlarge": 0.252, "r5.large": 0.126,
                           "t3.medium": 0.0416, "t3.large": 0.0832, "m4.xlarge": 0.20}.items()}
RDS_PRICES = {
    ("db.r5.xlarge", True): hourly(1.00, "RDS db.r5.xlarge PostgreSQL Multi-AZ, us-east-1"),
    ("db.r5.large", True): hourly(0.50, "RDS db.r5.large PostgreSQL Multi-AZ, us-east-1"),
    ("db.r5.large", False): hourly(0.25, "RDS db.r5.large PostgreSQL Single-AZ, us-east-1"),
    ("db.m5.xlarge", False): hourly(0.356, "RDS db.m5.xlarge PostgreSQL Single-AZ, us-east-1", api=False),
    ("db.m5.large", False): hourly(0.178, "RDS db.m5.large PostgreSQL Single-AZ, us-east-1", api=False),
}
GP2 = per_gb(0.10, "EBS gp2 storage, us-east-1")
GP3 = per_gb(0.08, "EBS gp3 storage, us-east-1")
IO1 = per_gb(0.125, "EBS io1 storage, us-east-1")
IO1_IOPS = Price(usd=0.065, unit="IOPS-month", source="bundled_table", as_of=TABLE_DAY,
                 description="EBS io1 provisioned IOPS, us-east-1")
RDS_GP2 = per_gb(0.115, "RDS gp2 storage, us-east-1")


def cpu(average: float, p95: float, maximum: float, points: int = 336, namespace: str = "AWS/EC2") -> Evidence:
    return Evidence(metric="cpu", namespace=namespace, name="CPUUtilization", statistic="Average", average=average,
                    p95=p95, maximum=maximum, points=points, window_days=LOOKBACK_DAYS, unit="Percent")


def network(average_mb: float, p95_mb: float, maximum_mb: float) -> Evidence:
    return Evidence(metric="network_out", namespace="AWS/EC2", name="NetworkOut", statistic="Sum",
                    average=average_mb, p95=p95_mb, maximum=maximum_mb, points=336, window_days=LOOKBACK_DAYS,
                    unit="Megabytes")


def hourly_change(rid: str, kind: ResourceKind, category: Category, rule: str, action: str, reason: str,
                  current: Price, proposed: Price | None, evidence: list[Evidence], effort: Effort = "low",
                  ) -> Recommendation:
    """A change of an hourly price: (current - proposed) $/h x 730 h, or the whole price when it stops."""
    new = proposed.usd if proposed else 0.0
    saving = round((current.usd - new) * HOURS_PER_MONTH, 2)
    formula = (f"({current.usd:.4f} - {new:.4f}) $/h x {HOURS_PER_MONTH} h = ${saving:,.2f}" if proposed
               else f"{current.usd:.4f} $/h x {HOURS_PER_MONTH} h = ${saving:,.2f}")
    maths = Maths(current=[current], proposed=[proposed] if proposed else [], formula=formula,
                  current_monthly_usd=round(current.monthly(), 2), proposed_monthly_usd=round(new * HOURS_PER_MONTH, 2))
    return Recommendation(resource_id=rid, resource_kind=kind, category=category, rule=rule, action=action,
                          reason=reason, monthly_saving_usd=saving, maths=maths, evidence=evidence,
                          effort=effort)


def _ec2_results(hostile: str) -> tuple[list[Ec2Instance], list[ResourceResult]]:
    rows: list[tuple[str, str, str, ResourceStatus, str, str | None, list[Evidence]]] = [
        # id, type, name, status, reason, proposed type (or "stop"), evidence
        ("i-0a1b2c3d4e5f60001", "m5.xlarge", "web-1", "recommended", "", "m5.large",
         [cpu(6.2, 14.1, 22.5), network(310, 720, 1_450)]),
        ("i-0a1b2c3d4e5f60002", "m5.xlarge", "web-2", "recommended", "", "m5.large",
         [cpu(5.8, 13.2, 19.7), network(290, 690, 1_380)]),
        ("i-0a1b2c3d4e5f60003", "m5.xlarge", "web-3", "no_action",
         "p95 CPU 68.4 % is above the 40 % downsizing threshold.", None, [cpu(41.3, 68.4, 91.0)]),
        ("i-0a1b2c3d4e5f60004", "c5.2xlarge", "api-1", "recommended", "", "c5.xlarge",
         [cpu(4.1, 9.3, 17.8)]),
        ("i-0a1b2c3d4e5f60005", "c5.2xlarge", "api-2", "no_action",
         "p95 CPU 81.2 % is above the 40 % downsizing threshold.", None, [cpu(55.0, 81.2, 99.1)]),
        ("i-0a1b2c3d4e5f60006", "r5.xlarge", "worker-1", "insufficient_data",
         "No memory metric (the CloudWatch agent is not installed): CPU alone cannot size a memory-optimised "
         "instance.", None, [cpu(3.4, 7.9, 12.0),
                             Evidence(metric="memory", namespace="CWAgent", name="mem_used_percent",
                                      statistic="Average", points=0, window_days=LOOKBACK_DAYS, unit="Percent")]),
        ("i-0a1b2c3d4e5f60007", "r5.large", "worker-2", "insufficient_data",
         "Launched 3 days ago: 70 hourly points of the 168 (7 days) a recommendation needs.", None,
         [cpu(12.5, 30.2, 44.0, points=70)]),
        ("i-0a1b2c3d4e5f60008", "m5.2xlarge", "batch-legacy", "recommended", "", "stop",
         [cpu(0.4, 0.9, 2.1), network(0.2, 0.5, 1.1)]),
        ("i-0a1b2c3d4e5f60009", "t3.medium", "bastion", "no_action",
         "Already the smallest size the rules propose for a burstable instance.", None, [cpu(2.0, 4.5, 9.8)]),
        ("i-0a1b2c3d4e5f6000a", "m4.xlarge", "legacy-reporting", "recommended", "", "m5.xlarge",
         [cpu(28.0, 52.0, 77.0)]),
        ("i-0a1b2c3d4e5f6000b", "c5.xlarge", "ci-runner", "vetoed",
         f"Tagged churnguard:cost-keep=true by its owner ({hostile or 'build spikes at release time'}).",
         "c5.large", [cpu(7.0, 18.0, 96.0)]),
        ("i-0a1b2c3d4e5f6000c", "t3.large", f"ml-notebook{hostile}", "recommended", "", "t3.medium",
         [cpu(2.2, 5.1, 31.0)]),
    ]
    instances, results = [], []
    for rid, itype, name, status, reason, proposed, evidence in rows:
        instances.append(Ec2Instance(instance_id=rid, instance_type=itype, availability_zone="us-east-1a",
                                     tags={"Name": name}))
        current = EC2_PRICES[itype]
        candidate: Recommendation | None = None
        c = evidence[0]
        if proposed == "stop":
            candidate = hourly_change(rid, "ec2", "compute", "idle_instance", "Stop the idle instance",
                                      f"Idle for {LOOKBACK_DAYS} days: CPU average {c.average} %, p95 {c.p95} %, "
                                      f"network out under 1 MB an hour.", current, None, evidence, effort="medium")
        elif proposed == "m5.xlarge":
            candidate = hourly_change(rid, "ec2", "compute", "previous_generation",
                                      f"Move {itype} -> {proposed}", "Previous generation: the current one is "
                                      "cheaper for the same vCPUs and memory.", current, EC2_PRICES[proposed],
                                      evidence, effort="medium")
        elif proposed:
            candidate = hourly_change(rid, "ec2", "compute", "rightsize_ec2", f"Downsize {itype} -> {proposed}",
                                      f"CPU average {c.average} %, p95 {c.p95} %, max {c.maximum} % over "
                                      f"{LOOKBACK_DAYS} days: half the size keeps p95 under 40 %.", current,
                                      EC2_PRICES[proposed], evidence)
        results.append(ResourceResult(
            resource_id=rid, resource_kind="ec2", category="compute", description=f"{itype} ({name})",
            monthly_cost_usd=round(current.monthly(), 2), status=status, reason=reason,
            chosen=candidate if status == "recommended" else None, candidates=[candidate] if candidate else [],
            evidence=evidence))
    return instances, results


def _rds_results() -> tuple[list[RdsInstance], list[ResourceResult]]:
    instances = [
        RdsInstance(db_instance_id="churnguard-prod", instance_class="db.r5.xlarge", multi_az=True,
                    backup_retention_days=35, allocated_storage_gb=500, tags={"env": "prod"}),
        RdsInstance(db_instance_id="churnguard-staging", instance_class="db.r5.large", multi_az=True,
                    backup_retention_days=7, allocated_storage_gb=200, tags={"env": "staging"}),
        RdsInstance(db_instance_id="analytics-replica", instance_class="db.m5.xlarge", multi_az=False,
                    backup_retention_days=1, allocated_storage_gb=300, tags={"env": "prod"}),
    ]
    prod_cpu = cpu(35.2, 58.0, 74.5, namespace="AWS/RDS")
    connections = Evidence(metric="connections", namespace="AWS/RDS", name="DatabaseConnections",
                           statistic="Average", average=41.0, p95=88.0, maximum=120.0, points=336,
                           window_days=LOOKBACK_DAYS, unit="Count")
    retention = Recommendation(resource_id="churnguard-prod", resource_kind="rds", category="database",
                               rule="backup_retention", action="Review the 35-day backup retention",
                               reason="35 days of automated backups; compliance may need them, so no saving is "
                                      "claimed.", monthly_saving_usd=0, note=True, effort="low")
    staging_cpu = cpu(9.0, 21.0, 35.0, namespace="AWS/RDS")
    multi_az = hourly_change("churnguard-staging", "rds", "database", "staging_multi_az",
                             "Turn off Multi-AZ on staging", "Tagged env=staging: a standby doubles the price of "
                             "an environment that does not need failover.",
                             RDS_PRICES[("db.r5.large", True)], RDS_PRICES[("db.r5.large", False)], [staging_cpu])
    replica_cpu = cpu(8.1, 15.2, 29.0, namespace="AWS/RDS")
    downsize = hourly_change("analytics-replica", "rds", "database", "rightsize_rds",
                             "Downsize db.m5.xlarge -> db.m5.large", "CPU average 8.1 %, p95 15.2 % over 14 days; "
                             "freeable memory never under 9 GB.", RDS_PRICES[("db.m5.xlarge", False)],
                             RDS_PRICES[("db.m5.large", False)], [replica_cpu], effort="medium")

    def cost(i: RdsInstance) -> float:
        return round(RDS_PRICES[(i.instance_class, i.multi_az)].monthly()
                     + RDS_GP2.monthly(i.allocated_storage_gb) * (2 if i.multi_az else 1), 2)

    results = [
        ResourceResult(resource_id="churnguard-prod", resource_kind="rds", category="database",
                       description="db.r5.xlarge PostgreSQL Multi-AZ", monthly_cost_usd=cost(instances[0]),
                       status="note", reason="CPU p95 58 % and 88 connections at p95: sized right.",
                       notes=[retention], evidence=[prod_cpu, connections]),
        ResourceResult(resource_id="churnguard-staging", resource_kind="rds", category="database",
                       description="db.r5.large PostgreSQL Multi-AZ", monthly_cost_usd=cost(instances[1]),
                       status="recommended", chosen=multi_az, candidates=[multi_az], evidence=[staging_cpu]),
        ResourceResult(resource_id="analytics-replica", resource_kind="rds", category="database",
                       description="db.m5.xlarge PostgreSQL", monthly_cost_usd=cost(instances[2]),
                       status="recommended", chosen=downsize, candidates=[downsize], evidence=[replica_cpu]),
    ]
    return instances, results


def _storage_change(volume: EbsVolume, rule: str, action: str, reason: str, current: list[Price],
                    proposed: list[Price], quantities: list[float], effort: Effort = "low") -> Recommendation:
    now = round(sum(p.monthly(q) for p, q in zip(current, quantities, strict=True)), 2)
    then = round(sum(p.monthly(q) for p, q in zip(proposed, quantities[: len(proposed)], strict=True)), 2)
    terms = " + ".join(f"{q:g} {p.unit.split('-')[0]} x {p.usd:.4f} $/{p.unit}"
                       for p, q in zip(current, quantities, strict=True))
    if proposed:
        formula = (f"{volume.size_gb} GB x ({current[0].usd:.4f} - {proposed[0].usd:.4f}) $/GB-month "
                   f"= ${now - then:,.2f}")
    else:
        formula = f"{terms} = ${now:,.2f}"
    return Recommendation(resource_id=volume.volume_id, resource_kind="ebs", category="storage", rule=rule,
                          action=action, reason=reason, monthly_saving_usd=round(now - then, 2),
                          maths=Maths(current=current, proposed=proposed, formula=formula, current_monthly_usd=now,
                                      proposed_monthly_usd=then),
                          effort=effort)


def _ebs_results() -> tuple[list[EbsVolume], list[ResourceResult]]:
    orphan = EbsVolume(volume_id="vol-0f1e2d3c4b5a60001", volume_type="gp2", size_gb=500, state="available")
    orphan_io1 = EbsVolume(volume_id="vol-0f1e2d3c4b5a60002", volume_type="io1", size_gb=200, iops=4000,
                           state="available")
    root = EbsVolume(volume_id="vol-0f1e2d3c4b5a60003", volume_type="gp2", size_gb=100,
                     attached_to=["i-0a1b2c3d4e5f60001"])
    data = EbsVolume(volume_id="vol-0f1e2d3c4b5a60004", volume_type="gp2", size_gb=1000,
                     attached_to=["i-0a1b2c3d4e5f60004"])
    scratch = EbsVolume(volume_id="vol-0f1e2d3c4b5a60005", volume_type="gp3", size_gb=200,
                        attached_to=["i-0a1b2c3d4e5f60008"])
    fresh = EbsVolume(volume_id="vol-0f1e2d3c4b5a60006", volume_type="io1", size_gb=100, iops=3000,
                      attached_to=["i-0a1b2c3d4e5f60007"])
    delete = _storage_change(orphan, "unattached_volume", "Snapshot, then delete the unattached volume",
                             "Unattached (state available) for the whole 14-day window.", [GP2], [], [500])
    delete_io1 = _storage_change(orphan_io1, "unattached_volume", "Snapshot, then delete the unattached volume",
                                 "Unattached for the whole window; its 4,000 provisioned IOPS bill all the same.",
                                 [IO1, IO1_IOPS], [], [200, 4000])
    gp3_root = _storage_change(root, "gp2_to_gp3", "Migrate gp2 -> gp3", "gp3 is 20 % cheaper per GB with a "
                               "3,000 IOPS baseline at least as good as this volume's.", [GP2], [GP3], [100])
    gp3_data = _storage_change(data, "gp2_to_gp3", "Migrate gp2 -> gp3", "gp3 is 20 % cheaper per GB; its "
                               "3,000 IOPS baseline covers this volume's p95 of 1,150 IOPS.", [GP2], [GP3], [1000])
    iops = Evidence(metric="iops", namespace="AWS/EBS", name="VolumeWriteOps", statistic="Sum", points=0,
                    window_days=LOOKBACK_DAYS, unit="Count")

    def result(v: EbsVolume, cost: float, status: ResourceStatus, chosen: Recommendation | None = None,
               reason: str = "", evidence: list[Evidence] | None = None) -> ResourceResult:
        detail = f"{v.volume_type} {v.size_gb} GB" + (f", {v.iops} IOPS" if v.iops else "")
        detail += f", attached to {', '.join(v.attached_to)}" if v.attached_to else ", unattached"
        return ResourceResult(resource_id=v.volume_id, resource_kind="ebs", category="storage", description=detail,
                              monthly_cost_usd=cost, status=status, reason=reason, chosen=chosen,
                              candidates=[chosen] if chosen else [], evidence=evidence or [])

    results = [
        result(orphan, delete.maths.current_monthly_usd if delete.maths else 0, "recommended", delete),
        result(orphan_io1, delete_io1.maths.current_monthly_usd if delete_io1.maths else 0, "recommended",
               delete_io1),
        result(root, 10.0, "recommended", gp3_root),
        result(data, 100.0, "recommended", gp3_data),
        result(scratch, 16.0, "no_action", reason="Already gp3, and 71 % full."),
        result(fresh, round(IO1.monthly(100) + IO1_IOPS.monthly(3000), 2), "insufficient_data",
               reason="VolumeWriteOps returned no datapoint in 14 days (attached 2 days ago): the IOPS it needs "
                      "are unknown.", evidence=[iops]),
    ]
    return [orphan, orphan_io1, root, data, scratch, fresh], results


def _daily(services: list[ServiceCost]) -> tuple[list[DailyCost], Anomaly]:
    """35 days per service around its monthly cost / 30.4, a weekday rhythm, and one spike."""
    daily: list[DailyCost] = []
    for s in services:
        base = s.monthly_usd / 30.4
        for n in range(DAYS):
            day = DAILY_START + timedelta(days=n)
            weekday = 1.0 if day.weekday() < 5 else 0.82
            wobble = 1 + 0.03 * ((n * 7 + len(s.service)) % 5 - 2)
            usd = base * weekday * wobble
            if s.service == ANOMALY_SERVICE and day == ANOMALY_DAY:
                usd = SPIKE_USD
            daily.append(DailyCost(day=day, service=s.service, usd=round(usd, 2)))
    base = next(s.monthly_usd for s in services if s.service == ANOMALY_SERVICE) / 30.4
    spike = SPIKE_USD
    anomaly = Anomaly(service=ANOMALY_SERVICE, day=ANOMALY_DAY, usd=spike, baseline_7d_usd=round(base * 0.95, 2),
                      baseline_28d_usd=round(base * 0.96, 2), ratio_7d=round(spike / (base * 0.95), 2),
                      ratio_28d=round(spike / (base * 0.96), 2),
                      reason="Over 3x both baselines: 1.9 TB out to the internet from api-1 "
                             "(usage type DataTransfer-Out-Bytes).")
    return daily, anomaly


def sample_report(hostile: str = "") -> CostReport:
    ec2_results = _ec2_results(hostile)[1]
    rds_results = _rds_results()[1]
    ebs_results = _ebs_results()[1]
    resources = ec2_results + rds_results + ebs_results
    chosen = [r.chosen for r in resources if r.chosen is not None]

    ec2_cost = round(sum(r.monthly_cost_usd for r in ec2_results), 2)
    rds_cost = round(sum(r.monthly_cost_usd for r in rds_results) + 48.20, 2)  # + backup storage, I/O
    ebs_cost = round(sum(r.monthly_cost_usd for r in ebs_results) + 61.35, 2)  # + snapshots
    services = [
        ServiceCost(service=EC2_SERVICE, monthly_usd=ec2_cost, category="compute"),
        ServiceCost(service=RDS_SERVICE, monthly_usd=rds_cost, category="database"),
        ServiceCost(service=EBS_SERVICE, monthly_usd=ebs_cost, category="storage"),
        ServiceCost(service="Amazon Simple Storage Service", monthly_usd=212.40, category="storage"),
        ServiceCost(service="AWS Lambda", monthly_usd=38.75, category="compute"),
        ServiceCost(service=ANOMALY_SERVICE, monthly_usd=96.30, category="other"),
        ServiceCost(service="Amazon CloudWatch", monthly_usd=54.10, category="other"),
        ServiceCost(service="Elastic Load Balancing", monthly_usd=44.60, category="other"),
        ServiceCost(service="AWS Key Management Service", monthly_usd=6.00, category="other"),
        ServiceCost(service=f"Amazon Route 53{hostile}", monthly_usd=3.50, category="other"),
    ]
    daily, anomaly = _daily(services)
    total = round(sum(s.monthly_usd for s in services), 2)
    saving = round(sum(r.monthly_saving_usd for r in chosen), 2)
    by_category: dict[str, dict[str, float]] = {}
    for category in ("compute", "database", "storage"):
        by_category[category] = {
            "cost": round(sum(s.monthly_usd for s in services if s.category == category), 2),
            "saving": round(sum(r.monthly_saving_usd for r in chosen if r.category == category), 2)}

    def phase(number: int, name: str, description: str, rules: set[str]) -> Phase:
        recs = [r for r in chosen if r.rule in rules]
        return Phase(number=number, name=name, description=description,
                     recommendations=[r.resource_id for r in recs],
                     monthly_saving_usd=round(sum(r.monthly_saving_usd for r in recs), 2))

    plan = [
        phase(1, "Quick wins", "No downtime, no risk: storage that nobody uses or that costs more than it should.",
              {"unattached_volume", "gp2_to_gp3"}),
        phase(2, "Rightsizing", f"One maintenance window per service: smaller sizes and idle instances.{hostile}",
              {"rightsize_ec2", "rightsize_rds", "idle_instance"}),
        phase(3, "Architecture", "Environment-level changes: staging without Multi-AZ, current generations.",
              {"staging_multi_az", "previous_generation"}),
    ]
    footprint = [
        ServiceCost(service="AWS Lambda", monthly_usd=0.42, category="compute"),
        ServiceCost(service="AWS Cost Explorer", monthly_usd=0.12, category="other"),
        ServiceCost(service="Amazon CloudWatch", monthly_usd=1.85, category="other"),
        ServiceCost(service="Amazon Simple Storage Service", monthly_usd=0.06, category="storage"),
    ]
    usage = ApiUsage(cost_explorer_requests=3, cost_explorer_usd=0.03, cloudwatch_metrics=74, cloudwatch_calls=1,
                     calls={"ce:GetCostAndUsage": 3, "ec2:DescribeInstances": 1, "ec2:DescribeVolumes": 1,
                            "rds:DescribeDBInstances": 1, "cloudwatch:GetMetricData": 1, "pricing:GetProducts": 9})
    prices: list[Price] = []
    for r in chosen:
        for p in (r.maths.current + r.maths.proposed) if r.maths else []:
            if p not in prices:
                prices.append(p)
    for p in (EC2_PRICES["m5.xlarge"], EC2_PRICES["c5.2xlarge"], EC2_PRICES["r5.xlarge"], RDS_GP2):
        if p not in prices:
            prices.append(p)
    notes = ["Prices are us-east-1 on-demand; reserved instances and savings plans are not applied.",
             "Cost Explorer's last day is an estimate until it closes."]
    if hostile:
        notes.append(hostile)
    return CostReport(
        generated_at=GENERATED_AT, period_start=PERIOD_START, period_end=PERIOD_END, lookback_days=LOOKBACK_DAYS,
        totals=Totals(monthly_cost_usd=total, potential_monthly_saving_usd=saving,
                      saving_pct=round(100 * saving / total, 1), by_category=by_category),
        services=services, daily=daily, anomalies=[anomaly], resources=resources,
        top_recommendations=sorted(chosen, key=lambda r: -r.monthly_saving_usd)[:8], plan=plan,
        footprint=footprint, footprint_monthly_usd=round(sum(s.monthly_usd for s in footprint), 2),
        api_usage=usage, prices=prices, notes=notes)


def sample_inventory() -> Inventory:
    """The resources the sample report concludes about."""
    return Inventory(ec2=_ec2_results("")[0], rds=_rds_results()[0], ebs=_ebs_results()[0])
