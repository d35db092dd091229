"""Percentile statistics (p50, p95, p99, p99.9, ...) in the embedded CloudWatch.

moto 5.2 computes only Sum, Average, Minimum, Maximum and SampleCount: a GetMetricData MetricStat
with ``Stat: p99`` makes its serializer fail (HTTP 500), and GetMetricStatistics ignores
``ExtendedStatistics``. This middleware fills the gap at the public API:

- GetMetricData: percentile MetricStat queries are sent on to moto as SampleCount (so the request,
  expressions included, stays valid for moto), and their results are replaced by percentiles
  computed here, per period, over the same periods moto uses (from StartTime, every Period).
- GetMetricStatistics: each datapoint moto returns gets ``ExtendedStatistics`` for its period.
- ListMetrics (awsJson1_0): answered here in one pass over the same raw data, each metric (namespace, name,
  dimension set) once, 500 a page. moto's compares every datapoint with every metric found so far and still
  repeats metrics: ~217 s for 27,000 AWS/Lambda datapoints, which a demo's releases reach.

Definition: **nearest rank** over the raw samples of the period: the value at rank
``ceil(p/100 * n)`` of the n samples sorted ascending (p100 is the maximum; p50 of 1..100 is 50,
p99 is 99). CloudWatch's own percentiles are approximations over its sketches; nearest rank is exact
on the samples, which is what a test with known values wants. Samples: every value sent with
PutMetricData (Value, and Values repeated Counts times, which is how moto stores them), from
EMF too; StatisticValues sets carry no samples and are left out, as CloudWatch also cannot compute
a percentile from them. A metric is selected as CloudWatch does: namespace, name, exactly these
dimensions, and the unit when the query names one.

The raw samples are read from moto's in-process CloudWatch backend, because no public API returns
them (GetMetricData and GetMetricStatistics only return aggregates). Both wire protocols botocore
may use for CloudWatch are handled: awsJson1_0 (botocore >= 1.40) and query (older clients).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from .awsapi import AwsRequest, StartResponse, WsgiApp, call_app, respond
from .lambda_runtime import DEFAULT_ACCOUNT_ID

__all__ = ["PercentileStatistics", "is_percentile", "percentile"]

_PERCENTILE = re.compile(r"^p(100(\.0+)?|\d{1,2}(\.\d+)?)$")
_SUBSTITUTE_STAT = "SampleCount"
_LIST_PAGE = 500  # ListMetrics answers at most 500 metrics a call


def is_percentile(stat: Any) -> bool:
    return isinstance(stat, str) and _PERCENTILE.match(stat) is not None


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of ``values`` (None when there are none)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _to_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, (int, float)):
        moment = dt.datetime.fromtimestamp(value, tz=dt.timezone.utc)
    else:
        text = str(value)
        try:
            moment = dt.datetime.fromtimestamp(float(text), tz=dt.timezone.utc)
        except ValueError:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


class PercentileStatistics:
    def __init__(self, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
        self.account_id = account_id

    def wrap(self, app: WsgiApp) -> WsgiApp:
        def middleware(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            if target.startswith("GraniteServiceVersion20100801.") or (
                not target and environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO", "/") == "/"
            ):
                request = AwsRequest.read(environ)
                if request.service == "monitoring" and request.operation == "GetMetricData":
                    return self._get_metric_data(app, request, environ, start_response)
                if request.service == "monitoring" and request.operation == "GetMetricStatistics":
                    return self._get_metric_statistics(app, request, environ, start_response)
                if request.service == "monitoring" and request.operation == "ListMetrics" \
                        and request.protocol == "json":
                    return self._list_metrics(request, start_response)
            return app(environ, start_response)

        return middleware

    # -- raw samples ---------------------------------------------------------------------
    def samples(
        self, region: str, namespace: str, name: str, dimensions: Iterable[Mapping[str, str]], unit: str | None,
        start: dt.datetime, end: dt.datetime,
    ) -> list[float]:
        """Values of one metric (exact dimension set) with start <= timestamp < end."""
        return [value for _, value in self._timed_samples(region, namespace, name, dimensions, unit, start, end)]

    def _timed_samples(
        self, region: str, namespace: str, name: str, dimensions: Iterable[Mapping[str, str]], unit: str | None,
        start: dt.datetime, end: dt.datetime,
    ) -> list[tuple[dt.datetime, float]]:
        from moto.cloudwatch.models import cloudwatch_backends  # raw samples: no public API returns them

        wanted = sorted((d["Name"], d["Value"]) for d in dimensions)
        backend = cloudwatch_backends[self.account_id][region]
        out = []
        for datum in list(backend.get_all_metrics()):
            value = getattr(datum, "value", None)
            if value is None or datum.namespace != namespace or datum.name != name:
                continue
            if unit and datum.unit != unit:
                continue
            if sorted((d.name, d.value) for d in datum.dimensions) != wanted:
                continue
            moment = _to_datetime(datum.timestamp)
            if start <= moment < end:
                out.append((moment, float(value)))
        return out

    def _series(
        self, region: str, stat_spec: Mapping[str, Any], start: dt.datetime, end: dt.datetime
    ) -> list[tuple[dt.datetime, float]]:
        """(period start, percentile) for each period with samples; periods as moto makes them
        (from ``start``, every Period, the last one starting at or before ``end``)."""
        metric = stat_spec.get("Metric", {})
        period = dt.timedelta(seconds=int(stat_spec["Period"]))
        p = float(stat_spec["Stat"][1:])
        buckets: dict[int, list[float]] = {}
        last = int((end - start) / period)
        for moment, sample in self._timed_samples(region, metric.get("Namespace", ""), metric.get("MetricName", ""),
                                                  metric.get("Dimensions") or [], stat_spec.get("Unit"), start,
                                                  start + (last + 1) * period):
            buckets.setdefault(int((moment - start) / period), []).append(sample)
        series = []
        for index in sorted(buckets):
            value = percentile(buckets[index], p)
            if value is not None:
                series.append((start + index * period, value))
        return series

    # -- ListMetrics ---------------------------------------------------------------------
    def _list_metrics(self, request: AwsRequest, start_response: StartResponse) -> Iterable[bytes]:
        from moto.cloudwatch.models import cloudwatch_backends

        params = request.params
        namespace, name = params.get("Namespace"), params.get("MetricName")
        wanted = [(d.get("Name"), d.get("Value")) for d in params.get("Dimensions") or []]
        seen: dict[tuple[str, str, tuple[tuple[str, str], ...]], None] = {}
        for datum in list(cloudwatch_backends[self.account_id][request.region or "us-east-1"].get_all_metrics()):
            if (namespace and datum.namespace != namespace) or (name and datum.name != name):
                continue
            dimensions = tuple((str(d.name), str(d.value)) for d in datum.dimensions)
            if all(any(n == k and (v is None or v == value) for k, value in dimensions) for n, v in wanted):
                seen.setdefault((datum.namespace, datum.name, tuple(sorted(dimensions))), None)
        metrics = list(seen)
        offset = int(params["NextToken"]) if str(params.get("NextToken", "")).isdigit() else 0
        page = [{"Namespace": ns, "MetricName": metric, "Dimensions": [{"Name": k, "Value": v} for k, v in dims]}
                for ns, metric, dims in metrics[offset:offset + _LIST_PAGE]]
        body: dict[str, Any] = {"Metrics": page}
        if offset + _LIST_PAGE < len(metrics):
            body["NextToken"] = str(offset + _LIST_PAGE)
        return respond(start_response, "200 OK", body, content_type="application/x-amz-json-1.0")

    # -- GetMetricData -------------------------------------------------------------------
    def _get_metric_data(
        self, app: WsgiApp, request: AwsRequest, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        region = request.region or "us-east-1"
        if request.protocol == "json":
            queries = request.params.get("MetricDataQueries") or []
            wanted = {q["Id"]: dict(q["MetricStat"]) for q in queries
                      if is_percentile((q.get("MetricStat") or {}).get("Stat"))}
            if not wanted:
                return app(environ, start_response)
            for q in queries:
                if q.get("Id") in wanted:
                    q["MetricStat"] = {**q["MetricStat"], "Stat": _SUBSTITUTE_STAT}
            request.replace_body(environ, json.dumps(request.params).encode())
            start, end = _bounds(request.params)
            response = call_app(app, environ)
            if response.code >= 300:
                return response.replay(start_response)
            body = json.loads(response.body)
            descending = request.params.get("ScanBy", "TimestampDescending") == "TimestampDescending"
            for result in body.get("MetricDataResults", []):
                spec = wanted.get(result.get("Id"))
                if spec is None:
                    continue
                series = self._series(region, spec, start, end)
                if descending:
                    series.reverse()
                result["Timestamps"] = [int(moment.timestamp()) for moment, _ in series]
                result["Values"] = [value for _, value in series]
                label = next((q.get("Label") for q in queries if q.get("Id") == result.get("Id")), None)
                result["Label"] = label or f"{spec.get('Metric', {}).get('MetricName')} {spec['Stat']}"
            return response.replay(start_response, json.dumps(body).encode())
        # query protocol: MetricDataQueries.member.N.MetricStat.Stat
        form = dict(request.params)
        stat_keys = {k: v for k, v in form.items()
                     if re.fullmatch(r"MetricDataQueries\.member\.\d+\.MetricStat\.Stat", k) and is_percentile(v)}
        if not stat_keys:
            return app(environ, start_response)
        wanted = {}
        for key, stat in stat_keys.items():
            prefix = key[: -len("Stat")]  # "MetricDataQueries.member.N.MetricStat."
            member = key.split(".")[2]
            query_id = form.get(f"MetricDataQueries.member.{member}.Id", "")
            wanted[query_id] = _query_metric_stat(form, prefix, stat)
            form[key] = _SUBSTITUTE_STAT
        request.replace_body(environ, urlencode(form).encode())
        start, end = _bounds(form)
        response = call_app(app, environ)
        if response.code >= 300:
            return response.replay(start_response)
        descending = form.get("ScanBy", "TimestampDescending") == "TimestampDescending"
        body = _patch_xml(response.body, wanted, lambda spec: self._series(region, spec, start, end), descending)
        return response.replay(start_response, body)

    # -- GetMetricStatistics -------------------------------------------------------------
    def _get_metric_statistics(
        self, app: WsgiApp, request: AwsRequest, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        region = request.region or "us-east-1"
        if request.protocol != "json":
            return app(environ, start_response)  # query protocol: moto's answer, without percentiles
        params = request.params
        extended = [s for s in params.get("ExtendedStatistics") or [] if is_percentile(s)]
        if not extended:
            return app(environ, start_response)
        if not params.get("Statistics"):  # moto needs one; it is removed from the answer again
            params["Statistics"] = [_SUBSTITUTE_STAT]
            request.replace_body(environ, json.dumps(params).encode())
            added = True
        else:
            added = False
        response = call_app(app, environ)
        if response.code >= 300:
            return response.replay(start_response)
        body = json.loads(response.body)
        period = dt.timedelta(seconds=int(params["Period"]))
        for point in body.get("Datapoints", []):
            moment = _to_datetime(point["Timestamp"])
            values = self.samples(region, params["Namespace"], params["MetricName"], params.get("Dimensions") or [],
                                  params.get("Unit"), moment, moment + period)
            point["ExtendedStatistics"] = {s: percentile(values, float(s[1:])) for s in extended
                                           if values}
            if added:
                point.pop(_SUBSTITUTE_STAT, None)
        return response.replay(start_response, json.dumps(body).encode())


def _bounds(params: Mapping[str, Any]) -> tuple[dt.datetime, dt.datetime]:
    start = _to_datetime(params["StartTime"]).replace(microsecond=0)
    end = _to_datetime(params["EndTime"]).replace(microsecond=0)
    return start, end


def _query_metric_stat(form: Mapping[str, str], prefix: str, stat: str) -> dict[str, Any]:
    """The MetricStat of a query-protocol request, from its flattened ``...MetricStat.*`` keys."""
    dims = []
    n = 1
    while f"{prefix}Metric.Dimensions.member.{n}.Name" in form:
        dims.append({"Name": form[f"{prefix}Metric.Dimensions.member.{n}.Name"],
                     "Value": form.get(f"{prefix}Metric.Dimensions.member.{n}.Value", "")})
        n += 1
    spec: dict[str, Any] = {
        "Metric": {"Namespace": form.get(f"{prefix}Metric.Namespace", ""),
                   "MetricName": form.get(f"{prefix}Metric.MetricName", ""), "Dimensions": dims},
        "Period": int(form.get(f"{prefix}Period", "60")),
        "Stat": stat,
    }
    if form.get(f"{prefix}Unit"):
        spec["Unit"] = form[f"{prefix}Unit"]
    return spec


def _patch_xml(body: bytes, wanted: Mapping[str, Mapping[str, Any]], series_of: Any, descending: bool) -> bytes:
    root = ET.fromstring(body)
    ns_match = re.match(r"\{([^}]*)\}", root.tag)
    ns = ns_match.group(1) if ns_match else ""
    q = (lambda tag: f"{{{ns}}}{tag}") if ns else (lambda tag: tag)
    if ns:
        ET.register_namespace("", ns)
    for member in list(root.iter(q("member"))):
        id_el = member.find(q("Id"))
        if id_el is None or id_el.text is None or id_el.text not in wanted:
            continue
        series = series_of(wanted[id_el.text])
        if descending:
            series.reverse()
        for tag, items in (("Timestamps", [m.strftime("%Y-%m-%dT%H:%M:%SZ") for m, _ in series]),
                           ("Values", [repr(float(v)) for _, v in series])):
            container = member.find(q(tag))
            if container is None:
                container = ET.SubElement(member, q(tag))
            for child in list(container):
                container.remove(child)
            for item in items:
                ET.SubElement(container, q("member")).text = item
    return ET.tostring(root, encoding="utf-8", xml_declaration=False)
