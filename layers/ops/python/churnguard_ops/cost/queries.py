"""Which CloudWatch series each resource needs, and the evidence grouped back per resource.

Per resource (our metric name: namespace / metric, statistic, dimensions):

- running EC2 instance: ``cpu`` AWS/EC2 CPUUtilization Average and ``cpu_p95`` the same with ``p95``;
  ``network_in``/``network_out`` AWS/EC2 NetworkIn/NetworkOut Sum (bytes per period); ``memory`` CWAgent
  ``mem_used_percent`` Average by ``InstanceId`` (the agent's ``append_dimensions`` /
  ``aggregation_dimensions: [["InstanceId"]]``; no agent, no data, no veto). Stopped instances: none.
- RDS instance: ``cpu``, ``cpu_p95`` AWS/RDS CPUUtilization; ``connections`` DatabaseConnections Average;
  ``freeable_memory`` FreeableMemory Average (bytes), by ``DBInstanceIdentifier``.
- attached EBS volume: ``read_ops``/``write_ops`` AWS/EBS VolumeReadOps/VolumeWriteOps Sum by ``VolumeId``;
  and, when the volume carries the tag :data:`DISK_PATH_TAG` (its mount point, e.g. ``/data``),
  ``disk_used`` CWAgent ``disk_used_percent`` Average by ``InstanceId`` and ``path`` (the agent configured
  with ``aggregation_dimensions: [["InstanceId", "path"]]``). Unattached volumes need no series.

Query ids are ``<kind>_<resource id with non-alphanumerics as _>_<metric>`` (``ec2_i_0abc_cpu``): they start
with a lower-case letter and use only ``[a-zA-Z0-9_]`` as GetMetricData requires; a collision gets a
numeric suffix.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from churnguard_ops.cost.model import EbsVolume, Ec2Instance, Evidence, Inventory, MetricQuery, RdsInstance

#: Tag on an EBS volume naming its mount path, so ``ebs_oversized`` can read the agent's disk_used_percent.
DISK_PATH_TAG = "churnguard:disk-path"

_UNSAFE = re.compile(r"[^a-zA-Z0-9]")
# metric -> (namespace, CloudWatch name, statistic, unit)
_EC2 = {"cpu": ("AWS/EC2", "CPUUtilization", "Average", "Percent"),
        "cpu_p95": ("AWS/EC2", "CPUUtilization", "p95", "Percent"),
        "network_in": ("AWS/EC2", "NetworkIn", "Sum", "Bytes"),
        "network_out": ("AWS/EC2", "NetworkOut", "Sum", "Bytes"),
        "memory": ("CWAgent", "mem_used_percent", "Average", "Percent")}
_RDS = {"cpu": ("AWS/RDS", "CPUUtilization", "Average", "Percent"),
        "cpu_p95": ("AWS/RDS", "CPUUtilization", "p95", "Percent"),
        "connections": ("AWS/RDS", "DatabaseConnections", "Average", "Count"),
        "freeable_memory": ("AWS/RDS", "FreeableMemory", "Average", "Bytes")}
_EBS = {"read_ops": ("AWS/EBS", "VolumeReadOps", "Sum", "Count"),
        "write_ops": ("AWS/EBS", "VolumeWriteOps", "Sum", "Count")}
_DISK = ("CWAgent", "disk_used_percent", "Average", "Percent")


def query_id(kind: str, resource_id: str, metric: str) -> str:
    return f"{kind}_{_UNSAFE.sub('_', resource_id)}_{metric}"


def _queries(kind: str, resource_id: str, specs: Mapping[str, tuple[str, str, str, str]],
             dimensions: dict[str, str]) -> list[MetricQuery]:
    return [MetricQuery(id=query_id(kind, resource_id, metric), resource_id=resource_id, metric=metric,
                        namespace=namespace, name=name, dimensions=dict(dimensions), statistic=statistic, unit=unit)
            for metric, (namespace, name, statistic, unit) in specs.items()]


def queries_for(resource: Ec2Instance | RdsInstance | EbsVolume) -> list[MetricQuery]:
    """The series one resource needs (see the module's table); none for a stopped instance or a volume
    attached to nothing."""
    if isinstance(resource, Ec2Instance):
        if resource.state != "running":
            return []
        return _queries("ec2", resource.instance_id, _EC2, {"InstanceId": resource.instance_id})
    if isinstance(resource, RdsInstance):
        return _queries("rds", resource.db_instance_id, _RDS, {"DBInstanceIdentifier": resource.db_instance_id})
    if not resource.attached_to:
        return []
    queries = _queries("ebs", resource.volume_id, _EBS, {"VolumeId": resource.volume_id})
    path = resource.tags.get(DISK_PATH_TAG)
    if path:
        queries += _queries("ebs", resource.volume_id, {"disk_used": _DISK},
                            {"InstanceId": resource.attached_to[0], "path": path})
    return queries


def metric_queries(inventory: Inventory) -> list[MetricQuery]:
    """Every series of the inventory, ids unique within the list."""
    seen: set[str] = set()
    queries = []
    resources: list[Ec2Instance | RdsInstance | EbsVolume] = [*inventory.ec2, *inventory.rds, *inventory.ebs]
    for resource in resources:
        for query in queries_for(resource):
            unique, n = query.id, 1
            while unique in seen:
                n += 1
                unique = f"{query.id}_{n}"
            seen.add(unique)
            queries.append(query if unique == query.id else query.model_copy(update={"id": unique}))
    return queries


def evidence_by_resource(queries: Sequence[MetricQuery],
                         by_id: Mapping[str, Evidence]) -> dict[str, dict[str, Evidence]]:
    """``resource id -> metric -> Evidence`` from the MetricSource's answer (``query id -> Evidence``)."""
    grouped: dict[str, dict[str, Evidence]] = {}
    for query in queries:
        ev = by_id.get(query.id)
        if ev is not None:
            grouped.setdefault(query.resource_id, {})[query.metric] = ev
    return grouped
