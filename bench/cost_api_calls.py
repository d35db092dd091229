"""Cost reports: API calls per run for 10, 100 and 1,000 resources, against one call per resource and metric.

Each size is a synthetic account in the embedded AWS (moto server, in this process, with the percentile
statistics GetMetricData needs): 40 % running EC2 instances (each with its root volume), 10 % RDS instances,
10 % unattached volumes, so that instances + databases + volumes = the size; no metric data (the calls, not
the values, are measured). The cost report runs as the function composes it (``wiring.reporter``), twice:
the second run in the same period is answered from the Cost Explorer cache.

Counted with a botocore ``before-call`` hook (once per API call, retries not included) on the clients the
use case gets from ``core.aws``. Printed per size: Cost Explorer requests (first and second run), inventory
calls, CloudWatch series and GetMetricData calls (expected: ceil(series / 500)), and what a per-resource
approach makes: Cloud Custodian's ``metrics`` filter issues one GetMetricStatistics per resource for each
metric it filters on, so the same evidence costs one call per resource and metric; with the ratios.
moto answers each inventory listing in one page; AWS's DescribeDBInstances returns 100 records a page by
default, so a real account makes one more call per 100 databases. No timing is asserted; exit 1 only if a
count differs from its expectation.
"""
from __future__ import annotations

import contextlib
import io
import math
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from opsctl.commands.cost import embedded_pricing_gap
from opsctl.cost_world import LINUX_AMI, ZONE, cost_bill, cost_explorer_results, queue_cost_explorer_results
from opsctl.local.aws import EmbeddedAws

SIZES = (10, 100, 1000)
REGION = "us-east-1"
BUCKET = "churnguard-ops-bench"
SERVICES = ("ce", "cloudwatch", "ec2", "rds", "s3", "pricing")
INVENTORY = ("ec2:DescribeInstances", "ec2:DescribeVolumes", "rds:DescribeDBInstances")


@dataclass
class Account:
    instances: int
    databases: int
    unattached: int

    @classmethod
    def of_size(cls, size: int) -> Account:
        instances, databases = round(size * 0.4), round(size * 0.1)
        return cls(instances, databases, size - 2 * instances - databases)  # each instance has a root volume

    @property
    def resources(self) -> int:
        return 2 * self.instances + self.databases + self.unattached

    @property
    def series(self) -> int:  # churnguard_ops.cost.queries: 5 per running instance, 4 per database, 2 per volume
        return 5 * self.instances + 4 * self.databases + 2 * self.instances

    @property
    def with_series(self) -> int:  # resources that have metrics at all (unattached volumes have none)
        return 2 * self.instances + self.databases


class CallCounter:
    """API calls made through core.aws's clients, by ``service:Operation``."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def attach(self) -> None:
        from churnguard_ops.core import aws

        for service in SERVICES:
            aws.client(service, REGION).meta.events.register("before-call", self._seen)

    def _seen(self, model: Any, **_: Any) -> None:
        self.calls[f"{model.service_model.endpoint_prefix}:{model.name}"] += 1

    def take(self) -> Counter[str]:
        taken, self.calls = self.calls, Counter()
        return taken


def seed(aws: EmbeddedAws, account: Account) -> None:
    ec2, rds, s3 = aws.client("ec2"), aws.client("rds"), aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    remaining = account.instances
    while remaining:
        batch = min(remaining, 200)
        ec2.run_instances(ImageId=LINUX_AMI, InstanceType="m5.large", MinCount=batch, MaxCount=batch,
                          Placement={"AvailabilityZone": ZONE})
        remaining -= batch
    for _ in range(account.unattached):
        ec2.create_volume(AvailabilityZone=ZONE, Size=100, VolumeType="gp2")
    for n in range(account.databases):
        rds.create_db_instance(DBInstanceIdentifier=f"db-{n:04d}", DBInstanceClass="db.m5.large", Engine="postgres",
                               AllocatedStorage=100, MasterUsername="bench", MasterUserPassword="bench-password")
    queue_cost_explorer_results(aws.endpoint_url, cost_explorer_results(cost_bill(datetime.now(timezone.utc)),
                                                                        "UnblendedCost"))


def run_report() -> Any:
    from churnguard_ops.cost import wiring
    from churnguard_ops.cost.settings import CostSettings

    # moto has no Pricing API: one refused lookup, then the bundled table. Its server prints a line per refused
    # attempt and logs a traceback: both kept off the table.
    with embedded_pricing_gap(), contextlib.redirect_stdout(io.StringIO()):
        return wiring.reporter(CostSettings(reports_bucket=BUCKET)).run()


def measure(aws: EmbeddedAws, size: int) -> dict[str, Any]:
    from churnguard_ops.core import aws as ops_aws

    aws.reset()
    ops_aws.reset_clients()
    account = Account.of_size(size)
    seed(aws, account)
    counter = CallCounter()
    counter.attach()
    first = run_report()
    first_calls = counter.take()
    second = run_report()
    second_calls = counter.take()
    usage = first.report.api_usage
    return {"size": size, "account": account, "ce": (first_calls["ce:GetCostAndUsage"],
                                                     second_calls["ce:GetCostAndUsage"]),
            "usage_ce": (usage.cost_explorer_requests, second.report.api_usage.cost_explorer_requests),
            "inventory": sum(first_calls[c] for c in INVENTORY), "series": usage.cloudwatch_metrics,
            "get_metric_data": first_calls["monitoring:GetMetricData"], "usage_calls": usage.cloudwatch_calls,
            "resources": len(first.report.resources), "total": sum(first_calls.values()),
            "total_cached": sum(second_calls.values())}


def main() -> int:
    rows = []
    with EmbeddedAws(region=REGION) as aws:
        for size in SIZES:
            print(f"seeding and reporting on {size} resources ...", file=sys.stderr, flush=True)
            rows.append(measure(aws, size))
    print("\nCost report: API calls per run (second run: the same period, Cost Explorer cached)")
    print(f"{'resources':>9} {'CE 1st/2nd':>10} {'inventory':>9} {'series':>7} {'GetMetricData':>13} "
          f"{'ceil(s/500)':>11} {'all calls':>9} | {'per resource':>12} {'ratio':>6} {'per resource+metric':>19} "
          f"{'ratio':>6}")
    failures = []
    for row in rows:
        account: Account = row["account"]
        expected_calls = math.ceil(row["series"] / 500)
        per_metric = row["series"]  # Cloud Custodian: one GetMetricStatistics per resource and metric
        calls = max(1, row["get_metric_data"])
        ce, total = f"{row['ce'][0]}/{row['ce'][1]}", f"{row['total']}/{row['total_cached']}"
        print(f"{row['resources']:>9} {ce:>10} {row['inventory']:>9} {row['series']:>7} "
              f"{row['get_metric_data']:>13} {expected_calls:>11} {total:>9} | {account.with_series:>12} "
              f"{account.with_series / calls:>5.0f}x {per_metric:>19} {per_metric / calls:>5.0f}x")
        checks = {"resources": (row["resources"], account.resources), "Cost Explorer": (row["ce"], (3, 0)),
                  "ApiUsage's CE count": (row["usage_ce"], (3, 0)), "series": (row["series"], account.series),
                  "GetMetricData calls": (row["get_metric_data"], expected_calls),
                  "ApiUsage's CloudWatch calls": (row["usage_calls"], expected_calls)}
        failures += [f"{row['size']} resources: {name} {got} != {want}" for name, (got, want) in checks.items()
                     if got != want]
    print("\nCost Explorer: 3 requests per period whatever the size (0 when cached); CloudWatch: ceil(series / 500)"
          " GetMetricData calls, against one call per resource and metric for a per-resource metrics filter."
          "\n'all calls' (1st/2nd run) also counts the inventory pages, S3 (the cache, 3 report objects; the presigned"
          " link is not a call) and one Pricing API lookup (refused by the embedded AWS, then the bundled table).")
    for failure in failures:
        print(f"MISMATCH: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
