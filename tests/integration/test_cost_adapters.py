"""Cost adapters on moto (in-process): inventories over several pages, GetMetricData in batches of 500,
Cost Explorer's three requests and their pages (moto's injected cost-and-usage results), the S3 cache that
makes a second run in the same period free, and the Pricing API falling back to the bundled table.

What moto 5.2 lacks, proven with botocore's Stubber on the adapters' own clients instead: DescribeVolumes
ignores MaxResults (one page), GetMetricData never pages nor computes percentiles (``p95``), Cost Explorer
never throttles, and there is no Pricing API at all (every call answers 404, which is the fallback test).
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
import requests
from botocore.stub import ANY, Stubber

from churnguard_ops.core import aws
from churnguard_ops.core.errors import AccessDenied, OpsError, Throttled
from churnguard_ops.core.stores import S3Documents
from churnguard_ops.cost.adapters import (
    CACHE_PREFIX,
    AwsInventorySource,
    BundledPriceTable,
    CloudWatchMetricSource,
    CostExplorerSource,
    PricingApiPriceBook,
)
from churnguard_ops.cost.cloudwatch import percentile
from churnguard_ops.cost.explorer import cache_key, category_of, category_totals
from churnguard_ops.cost.model import ApiUsage, MetricQuery
from tests.integration.conftest import REGION

pytestmark = pytest.mark.integration

LINUX_AMI = "ami-1e749f67"  # moto's Ubuntu image (its Windows images would make every instance "windows")
BUCKET = "churnguard-ops-bucket"
PERIOD_START, PERIOD_END, DAILY_START = date(2026, 10, 1), date(2026, 11, 1), date(2026, 9, 26)
EC2, EC2_OTHER, RDS, LAMBDA, S3 = ("Amazon Elastic Compute Cloud - Compute", "EC2 - Other",
                                  "Amazon Relational Database Service", "AWS Lambda", "Amazon Simple Storage Service")


def _calls(service: str, operation: str) -> list[dict[str, Any]]:
    """The parameters of every ``operation`` call made through our cached client (one entry per API call;
    botocore's own retries of a call are not calls)."""
    seen: list[dict[str, Any]] = []
    client = aws.client(service, REGION)
    event = f"before-parameter-build.{client.meta.service_model.service_id.hyphenize()}.{operation}"
    client.meta.events.register(event, lambda params, **_: seen.append(dict(params)))
    return seen


# --- inventories -----------------------------------------------------------------------------------------


def test_inventory_reads_every_page_of_instances_databases_and_volumes(moto_aws: None) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    ids = [ec2.run_instances(ImageId=LINUX_AMI, MinCount=1, MaxCount=1, InstanceType=kind,
                             TagSpecifications=[{"ResourceType": "instance",
                                                 "Tags": [{"Key": "Name", "Value": f"web-{n}"}]}])
           ["Instances"][0]["InstanceId"]
           for n, kind in enumerate(["m5.xlarge", "m5.large", "t3.micro", "c6i.large", "r5.large", "m6g.large",
                                     "t4g.small", "m5.2xlarge"])]
    ec2.stop_instances(InstanceIds=ids[:2])
    ec2.terminate_instances(InstanceIds=[ids[-1]])  # gone: costs nothing, never listed
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=100, VolumeType="gp3", Iops=4000,
                               Throughput=250, TagSpecifications=[{"ResourceType": "volume",
                                                                   "Tags": [{"Key": "Name", "Value": "data"}]}])
    ec2.attach_volume(VolumeId=volume["VolumeId"], InstanceId=ids[0], Device="/dev/sdf")
    spare = ec2.create_volume(AvailabilityZone="us-east-1a", Size=500, VolumeType="st1")
    rds = boto3.client("rds", region_name=REGION)
    for n in range(23):
        rds.create_db_instance(DBInstanceIdentifier=f"db-{n}", DBInstanceClass="db.m5.large", Engine="postgres",
                               MasterUsername="churn", MasterUserPassword="not-a-real-password",
                               AllocatedStorage=20 + n, MultiAZ=n == 0, BackupRetentionPeriod=35 if n == 0 else 7,
                               Tags=[{"Key": "Project", "Value": "churnguard"}])

    usage = ApiUsage()
    inventory = AwsInventorySource(REGION, page_size=5).inventory(usage)

    assert usage.calls["ec2:DescribeInstances"] == 2  # 7 instances, 5 per page (moto pages by reservation)
    instances = {i.instance_id: i for i in inventory.ec2}
    assert set(instances) == set(ids[:-1])
    first = instances[ids[0]]
    assert (first.instance_type, first.state, first.platform, first.availability_zone, first.tags) == \
        ("m5.xlarge", "stopped", "linux", "us-east-1a", {"Name": "web-0"})
    assert instances[ids[2]].state == "running"

    volumes = {v.volume_id: v for v in inventory.ebs}
    data = volumes[volume["VolumeId"]]
    assert (data.volume_type, data.size_gb, data.iops, data.throughput_mbps, data.attached_to, data.tags) == \
        ("gp3", 100, 4000, 250, [ids[0]], {"Name": "data"})
    assert (volumes[spare["VolumeId"]].attached_to, volumes[spare["VolumeId"]].state) == ([], "available")
    assert usage.calls["ec2:DescribeVolumes"] >= 1  # moto ignores MaxResults: pages proven with a Stubber below

    assert usage.calls["rds:DescribeDBInstances"] == 2  # 23 databases, 20 per page (RDS's smallest page)
    databases = {d.db_instance_id: d for d in inventory.rds}
    assert len(databases) == 23
    primary = databases["db-0"]
    assert (primary.instance_class, primary.engine, primary.multi_az, primary.backup_retention_days,
            primary.allocated_storage_gb, primary.tags) == \
        ("db.m5.large", "postgres", True, 35, 20, {"Project": "churnguard"})
    assert databases["db-22"].multi_az is False and databases["db-22"].allocated_storage_gb == 42


def test_volume_pages_are_followed_to_the_last_token(moto_aws: None) -> None:
    def volume(n: int) -> dict[str, Any]:
        return {"VolumeId": f"vol-{n:04d}", "VolumeType": "gp2", "Size": 8, "State": "available", "Attachments": []}

    client = aws.client("ec2", REGION)
    with Stubber(client) as stub:
        stub.add_response("describe_volumes", {"Volumes": [volume(n) for n in range(5)], "NextToken": "t1"},
                          {"MaxResults": 5})
        stub.add_response("describe_volumes", {"Volumes": [volume(n) for n in range(5, 10)], "NextToken": "t2"},
                          {"MaxResults": 5, "NextToken": "t1"})
        stub.add_response("describe_volumes", {"Volumes": [volume(10)]}, {"MaxResults": 5, "NextToken": "t2"})
        usage = ApiUsage()
        volumes = AwsInventorySource(REGION, page_size=5).volumes(usage)
        stub.assert_no_pending_responses()
    assert [v.volume_id for v in volumes] == [f"vol-{n:04d}" for n in range(11)]
    assert usage.calls == {"ec2:DescribeVolumes": 3}


def test_a_refused_listing_is_access_denied_naming_the_call(moto_aws: None) -> None:
    client = aws.client("ec2", REGION)
    with Stubber(client) as stub:
        stub.add_client_error("describe_instances", service_error_code="UnauthorizedOperation",
                              service_message="not allowed", http_status_code=403)
        with pytest.raises(AccessDenied, match="ec2:DescribeInstances"):
            AwsInventorySource(REGION).instances(ApiUsage())


# --- CloudWatch ------------------------------------------------------------------------------------------


def _query(n: int, instance: str, statistic: str = "Average", metric: str = "cpu",
           name: str = "CPUUtilization") -> MetricQuery:
    return MetricQuery(id=f"q{n}", resource_id=instance, metric=metric, namespace="AWS/EC2", name=name,
                       dimensions={"InstanceId": instance}, statistic=statistic, unit="Percent")


def test_1200_queries_take_3_calls_of_at_most_500_and_summarize_each_series(moto_aws: None) -> None:
    end = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=14)
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    cloudwatch.put_metric_data(Namespace="AWS/EC2", MetricData=[
        {"MetricName": "CPUUtilization", "Dimensions": [{"Name": "InstanceId", "Value": "i-busy"}], "Value": value,
         "Timestamp": end - timedelta(hours=hours, minutes=30)}
        for hours, value in [(1, 40.0), (2, 10.0), (3, 30.0), (4, 20.0)]])
    cloudwatch.put_metric_data(Namespace="AWS/EC2", MetricData=[
        {"MetricName": "NetworkIn", "Dimensions": [{"Name": "InstanceId", "Value": "i-busy"}], "Value": value,
         "Timestamp": end - timedelta(hours=2, minutes=minute)} for minute, value in [(10, 100.0), (40, 250.0)]])
    queries = [_query(0, "i-busy"), _query(1, "i-busy", "Maximum"),
               _query(2, "i-busy", "Sum", "network_in", "NetworkIn"),
               *(_query(n, f"i-{n:05d}") for n in range(3, 1200))]
    sent = _calls("cloudwatch", "GetMetricData")

    usage = ApiUsage()
    evidence = CloudWatchMetricSource(REGION).evidence(queries, start, end, 3600, usage)

    assert [len(call["MetricDataQueries"]) for call in sent] == [500, 500, 200]
    assert (usage.cloudwatch_calls, usage.cloudwatch_metrics) == (3, 1200)
    assert set(evidence) == {q.id for q in queries}
    cpu = evidence["q0"]
    assert (cpu.average, cpu.p95, cpu.maximum, cpu.points) == (25.0, 40.0, 40.0, 4)
    assert (cpu.metric, cpu.name, cpu.statistic, cpu.unit, cpu.window_days, cpu.period_seconds) == \
        ("cpu", "CPUUtilization", "Average", "Percent", 14, 3600)
    assert (evidence["q1"].maximum, evidence["q1"].points) == (40.0, 4)
    assert (evidence["q2"].average, evidence["q2"].points) == (350.0, 1)  # one hour's Sum of bytes
    idle = evidence["q1199"]
    assert (idle.points, idle.average, idle.p95, idle.maximum) == (0, None, None, None)
    stat = sent[0]["MetricDataQueries"][0]["MetricStat"]
    assert stat == {"Metric": {"Namespace": "AWS/EC2", "MetricName": "CPUUtilization",
                               "Dimensions": [{"Name": "InstanceId", "Value": "i-busy"}]},
                    "Period": 3600, "Stat": "Average"}  # no Unit filter: it would hide differently-unit data


def test_p95_queries_page_with_next_token_and_a_forbidden_series_gives_no_evidence(moto_aws: None) -> None:
    end = datetime(2026, 11, 29, tzinfo=timezone.utc)
    start = end - timedelta(days=14)
    hourly_p95 = [float(v) for v in range(1, 21)]  # 20 hours of per-hour p95s: 1..20
    client = aws.client("cloudwatch", REGION)
    with Stubber(client) as stub:
        stub.add_response("get_metric_data", {
            "MetricDataResults": [
                {"Id": "q0", "Timestamps": [start] * 12, "Values": hourly_p95[:12], "StatusCode": "PartialData"},
                {"Id": "q1", "Timestamps": [start], "Values": [3.0], "StatusCode": "Forbidden",
                 "Messages": [{"Code": "Forbidden", "Value": "no access to the namespace"}]}],
            "NextToken": "more"}, {"MetricDataQueries": ANY, "StartTime": start, "EndTime": end,
                                   "ScanBy": "TimestampAscending"})
        stub.add_response("get_metric_data", {
            "MetricDataResults": [{"Id": "q0", "Timestamps": [start] * 8, "Values": hourly_p95[12:],
                                   "StatusCode": "Complete"}]},
            {"MetricDataQueries": ANY, "StartTime": start, "EndTime": end, "ScanBy": "TimestampAscending",
             "NextToken": "more"})
        usage = ApiUsage()
        evidence = CloudWatchMetricSource(REGION).evidence(
            [_query(0, "i-1", "p95", "cpu_p95"), _query(1, "i-2", "p95", "cpu_p95")], start, end, 3600, usage)
        stub.assert_no_pending_responses()
    p95 = evidence["q0"]
    # the 95th percentile (nearest rank: 19th of 20) of the hourly p95s; the worst hour as maximum
    assert (p95.statistic, p95.p95, p95.maximum, p95.average, p95.points) == ("p95", 19.0, 20.0, 10.5, 20)
    assert evidence["q1"].points == 0 and evidence["q1"].maximum is None
    assert (usage.cloudwatch_calls, usage.cloudwatch_metrics) == (2, 2)


def test_metric_queries_must_have_unique_valid_ids(moto_aws: None) -> None:
    now = datetime(2026, 11, 29, tzinfo=timezone.utc)
    source = CloudWatchMetricSource(REGION)
    with pytest.raises(ValueError, match="twice"):
        source.evidence([_query(0, "i-1"), _query(0, "i-2")], now - timedelta(days=1), now, 3600, ApiUsage())
    with pytest.raises(ValueError, match="ids match"):
        source.evidence([_query(0, "i-1").model_copy(update={"id": "0bad"})], now - timedelta(days=1), now, 3600,
                        ApiUsage())
    assert percentile([5.0, 1.0, 3.0], 100) == 5.0 and percentile([], 95) is None


# --- Cost Explorer ---------------------------------------------------------------------------------------


def _group(keys: list[str], usd: float) -> dict[str, Any]:
    return {"Keys": keys, "Metrics": {"UnblendedCost": {"Amount": f"{usd:.10f}", "Unit": "USD"}}}


def _result(start: str, end: str, groups: list[dict[str, Any]], estimated: bool = False) -> dict[str, Any]:
    return {"TimePeriod": {"Start": start, "End": end}, "Total": {}, "Groups": groups, "Estimated": estimated}


MONTH = ("2026-10-01", "2026-11-01")
#: What Cost Explorer answers, in the order the adapter asks: request 1 in two pages, request 2 in two
#: pages, request 3 in one. moto hands queued results out one per distinct request body.
CE_ANSWERS: list[dict[str, Any]] = [
    {"ResultsByTime": [_result(*MONTH, [_group([EC2, "BoxUsage:m5.xlarge"], 140.16),
                                        _group([EC2, "BoxUsage:t3.micro"], 7.59),
                                        _group([EC2_OTHER, "EBS:VolumeUsage.gp3"], 40.0)])],
     "NextPageToken": "monthly-2"},
    {"ResultsByTime": [_result(*MONTH, [_group([EC2_OTHER, "EBS:SnapshotUsage"], 5.0),
                                        _group([EC2_OTHER, "NatGateway-Hours"], 32.85),
                                        _group([RDS, "InstanceUsage:db.m5.large"], 129.94),
                                        _group([RDS, "RDS:GP2-Storage"], 11.5),
                                        _group([LAMBDA, "Request"], 0.2)], estimated=True)]},
    {"ResultsByTime": [_result("2026-09-26", "2026-09-27", [_group([EC2], 4.8), _group([RDS], 4.2)]),
                       _result("2026-09-27", "2026-09-28", [_group([EC2], 4.9)])],
     "NextPageToken": "daily-2"},
    {"ResultsByTime": [_result("2026-09-27", "2026-09-28", [_group([RDS], 4.3)]),
                       _result("2026-10-31", "2026-11-01", [_group([EC2], 5.1), _group([LAMBDA], 0.01)])]},
    {"ResultsByTime": [_result(*MONTH, [_group([LAMBDA], 0.2), _group([S3], 0.35)])]},
]


def _queue_cost_explorer_answers(answers: list[dict[str, Any]]) -> None:
    response = requests.post("http://motoapi.amazonaws.com/moto-api/static/ce/cost-and-usage-results",
                             json={"results": answers}, timeout=10)
    assert response.status_code == 201


@pytest.fixture
def ops_documents(moto_aws: None) -> S3Documents:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    return S3Documents(BUCKET, REGION)


@pytest.fixture
def ce_requests(moto_aws: None) -> Iterator[list[dict[str, Any]]]:
    yield _calls("ce", "GetCostAndUsage")


def test_three_requests_plus_their_pages_give_services_usage_types_daily_series_and_our_footprint(
        ops_documents: S3Documents, ce_requests: list[dict[str, Any]]) -> None:
    _queue_cost_explorer_answers(CE_ANSWERS)
    usage = ApiUsage()

    data = CostExplorerSource(ops_documents).costs(PERIOD_START, PERIOD_END, DAILY_START, usage)

    assert len(ce_requests) == 5  # 3 requests, 2 of them with a second page
    assert (usage.cost_explorer_requests, usage.cost_explorer_usd, usage.cost_explorer_cached) == (5, 0.05, False)
    monthly, monthly_2, daily, daily_2, own = ce_requests
    assert monthly["Granularity"] == "MONTHLY" and monthly["TimePeriod"] == {"Start": "2026-10-01",
                                                                            "End": "2026-11-01"}
    assert [g["Key"] for g in monthly["GroupBy"]] == ["SERVICE", "USAGE_TYPE"]
    assert monthly_2 == {**monthly, "NextPageToken": "monthly-2"}
    assert daily["Granularity"] == "DAILY" and daily["TimePeriod"] == {"Start": "2026-09-26", "End": "2026-11-01"}
    assert [g["Key"] for g in daily["GroupBy"]] == ["SERVICE"] and daily_2["NextPageToken"] == "daily-2"
    assert own["Filter"] == {"Tags": {"Key": "Project", "Values": ["churnguard-ops"], "MatchOptions": ["EQUALS"]}}
    assert all(len(r["GroupBy"]) <= 2 and r["Metrics"] == ["UnblendedCost"] for r in ce_requests)

    services = {s.service: (s.monthly_usd, s.category) for s in data.by_service}
    assert services == {EC2: (147.75, "compute"), EC2_OTHER: (77.85, "storage"), RDS: (141.44, "database"),
                        LAMBDA: (0.2, "compute")}
    assert [s.service for s in data.by_service] == [EC2, RDS, EC2_OTHER, LAMBDA]  # most expensive first
    assert data.by_usage_type[EC2_OTHER] == {"EBS:SnapshotUsage": 5.0, "EBS:VolumeUsage.gp3": 40.0,
                                             "NatGateway-Hours": 32.85}
    assert category_totals(data) == {"compute": 147.95, "storage": 45.0, "other": 32.85, "database": 141.44}
    assert data.estimated is True
    daily_rows = {(d.day, d.service): d.usd for d in data.daily}
    assert daily_rows == {(date(2026, 9, 26), EC2): 4.8, (date(2026, 9, 26), RDS): 4.2,
                          (date(2026, 9, 27), EC2): 4.9, (date(2026, 9, 27), RDS): 4.3,
                          (date(2026, 10, 31), EC2): 5.1, (date(2026, 10, 31), LAMBDA): 0.01}
    assert {(s.service, s.monthly_usd, s.category) for s in data.own_by_service} == \
        {(LAMBDA, 0.2, "compute"), (S3, 0.35, "storage")}


def test_a_second_run_in_the_same_period_makes_no_cost_explorer_call(
        ops_documents: S3Documents, ce_requests: list[dict[str, Any]]) -> None:
    _queue_cost_explorer_answers(CE_ANSWERS)
    source = CostExplorerSource(ops_documents)
    first = source.costs(PERIOD_START, PERIOD_END, DAILY_START, ApiUsage())
    assert len(ce_requests) == 5
    key = cache_key(PERIOD_START, PERIOD_END, DAILY_START)
    # month, month end, daily start, daily end (defaulting to the month's end)
    assert key == f"{CACHE_PREFIX}2026-10-01_2026-11-01_2026-09-26_2026-11-01.json" and key.startswith("cost/cache/")
    stored = json.loads(boto3.client("s3", region_name=REGION).get_object(Bucket=BUCKET, Key=key)["Body"].read())
    assert (stored["metric"], stored["own_tag"]) == ("UnblendedCost", {"key": "Project", "value": "churnguard-ops"})

    usage = ApiUsage()
    again = CostExplorerSource(ops_documents).costs(PERIOD_START, PERIOD_END, DAILY_START, usage)

    assert len(ce_requests) == 5  # no new request
    assert (usage.cost_explorer_requests, usage.cost_explorer_usd, usage.cost_explorer_cached) == (0, 0.0, True)
    assert again == first

    other_metric = ApiUsage()  # the cache answers only the question it was filled for
    CostExplorerSource(ops_documents, metric="AmortizedCost").costs(PERIOD_START, PERIOD_END, DAILY_START,
                                                                    other_metric)
    assert (other_metric.cost_explorer_cached, other_metric.cost_explorer_requests) == (False, 3)


def test_limit_exceeded_is_retried_with_exponential_back_off(ops_documents: S3Documents) -> None:
    sleeps: list[float] = []
    client = aws.client("ce", REGION)
    empty = {"ResultsByTime": [_result(*MONTH, [])]}
    with Stubber(client) as stub:
        for _ in range(3):
            stub.add_client_error("get_cost_and_usage", service_error_code="LimitExceededException",
                                  service_message="Rate exceeded", http_status_code=400)
        stub.add_response("get_cost_and_usage", empty)
        stub.add_client_error("get_cost_and_usage", service_error_code="ThrottlingException", http_status_code=400)
        stub.add_response("get_cost_and_usage", empty)
        stub.add_response("get_cost_and_usage", empty)
        usage = ApiUsage()
        data = CostExplorerSource(ops_documents, sleep=sleeps.append).costs(PERIOD_START, PERIOD_END, DAILY_START,
                                                                            usage)
        stub.assert_no_pending_responses()
    assert sleeps == [1.0, 2.0, 4.0, 1.0]  # doubling per attempt, from 1 s again for the next request
    assert (usage.cost_explorer_requests, usage.cost_explorer_usd) == (3, 0.03)  # throttled attempts answer nothing
    assert data.by_service == []


def test_throttling_gives_up_after_max_attempts_as_throttled_and_caches_nothing(ops_documents: S3Documents) -> None:
    sleeps: list[float] = []
    client = aws.client("ce", REGION)
    with Stubber(client) as stub:
        for _ in range(5):
            stub.add_client_error("get_cost_and_usage", service_error_code="LimitExceededException",
                                  http_status_code=400)
        with pytest.raises(Throttled, match="LimitExceededException after 5 attempts"):
            CostExplorerSource(ops_documents, sleep=sleeps.append).costs(PERIOD_START, PERIOD_END, DAILY_START,
                                                                         ApiUsage())
        stub.assert_no_pending_responses()
    assert sleeps == [1.0, 2.0, 4.0, 8.0]
    assert ops_documents.load(cache_key(PERIOD_START, PERIOD_END, DAILY_START)) is None


def test_other_cost_explorer_errors_are_not_retried(ops_documents: S3Documents) -> None:
    sleeps: list[float] = []
    client = aws.client("ce", REGION)
    with Stubber(client) as stub:
        stub.add_client_error("get_cost_and_usage", service_error_code="DataUnavailableException",
                              service_message="Data is not available", http_status_code=400)
        with pytest.raises(OpsError, match="DataUnavailableException") as raised:
            CostExplorerSource(ops_documents, sleep=sleeps.append).costs(PERIOD_START, PERIOD_END, DAILY_START,
                                                                         ApiUsage())
    assert not isinstance(raised.value, Throttled) and sleeps == []


def test_categories_read_ec2_usage_types_and_fall_back_to_the_service() -> None:
    assert category_of(EC2) == "compute" and category_of(RDS) == "database" and category_of(S3) == "storage"
    assert category_of(EC2_OTHER, "USE2-EBS:VolumeUsage.gp3") == "storage"
    assert category_of(EC2_OTHER, "EBS:SnapshotUsage") == "storage"
    assert category_of(EC2_OTHER, "USE1-NatGateway-Bytes") == "other"
    assert category_of(EC2_OTHER, "CPUCredits:t3") == "compute"
    assert category_of(EC2, "BoxUsage:m5.large") == "compute"
    assert category_of(RDS, "RDS:GP2-Storage") == "database"  # RDS storage is the database's bill
    assert category_of("AWS Key Management Service") == "other"


# --- prices ----------------------------------------------------------------------------------------------


def test_without_a_pricing_api_every_price_comes_from_the_dated_table_after_one_call(moto_aws: None) -> None:
    calls = _calls("pricing", "GetProducts")
    table = BundledPriceTable()
    book = PricingApiPriceBook(REGION, table)

    m5 = book.ec2_hourly("m5.large")
    database = book.rds_hourly("db.m5.large", "postgres", multi_az=True)
    gp3 = book.ebs_gb_month("gp3")
    iops = book.ebs_iops_month("gp3")

    assert len(calls) == 1 and book.available is False  # moto answers 404: the API is off for this run
    assert m5 is not None and database is not None and gp3 is not None and iops is not None
    assert (m5.usd, m5.unit, m5.source, m5.as_of) == (0.096, "hour", "bundled_table", table.as_of)
    assert (database.usd, database.source) == (0.356, "bundled_table")  # Multi-AZ: twice Single-AZ
    assert (gp3.usd, gp3.unit, iops.usd, iops.unit) == (0.08, "GB-month", 0.005, "IOPS-month")
    assert "3,000 included" in iops.description and table.as_of.isoformat() in m5.description


def _product(usd: str, published: str = "2026-11-01T00:00:00Z") -> str:
    return json.dumps({
        "product": {"productFamily": "Compute Instance", "attributes": {"instanceType": "m5.large"}},
        "serviceCode": "AmazonEC2",
        "terms": {"OnDemand": {"SKU.JRTCKXETXF": {"effectiveDate": "2026-10-01T00:00:00Z", "priceDimensions": {
            "SKU.JRTCKXETXF.6YS6EN2CT7": {"unit": "Hrs", "pricePerUnit": {"USD": usd}, "beginRange": "0",
                                          "endRange": "Inf"}}}}},
        "publicationDate": published,
    })


def test_a_pricing_api_answer_is_used_once_per_lookup_with_its_publication_date(moto_aws: None) -> None:
    client = aws.client("pricing", REGION)
    table = BundledPriceTable()
    with Stubber(client) as stub:
        stub.add_response("get_products", {"PriceList": [_product("0.0960000000")], "FormatVersion": "aws_v1"}, {
            "ServiceCode": "AmazonEC2", "FormatVersion": "aws_v1", "MaxResults": 100,
            "Filters": [{"Type": "TERM_MATCH", "Field": field, "Value": value} for field, value in [
                ("instanceType", "m5.large"), ("operatingSystem", "Linux"), ("tenancy", "Shared"),
                ("preInstalledSw", "NA"), ("capacitystatus", "Used"), ("licenseModel", "No License required"),
                ("regionCode", REGION)]]})
        # two products disagreeing on the price: no answer from the API, the table's instead
        stub.add_response("get_products", {"PriceList": [_product("0.17"), _product("0.18")]})
        book = PricingApiPriceBook(REGION, table)
        first, again = book.ec2_hourly("m5.large"), book.ec2_hourly("m5.large")
        ambiguous = book.ec2_hourly("c5.xlarge")
        stub.assert_no_pending_responses()
    assert first is not None and first == again and book.api_calls == 2
    assert (first.usd, first.source, first.as_of) == (0.096, "pricing_api", date(2026, 11, 1))
    assert "AWS Pricing API" in first.description
    assert ambiguous is not None and (ambiguous.usd, ambiguous.source) == (0.17, "bundled_table")
    assert book.available is True  # no answer is not a failure
