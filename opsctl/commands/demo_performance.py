"""Demo steps of the performance capability: a report over seeded ChurnGuard metrics checked against figures
computed by hand from :mod:`opsctl.perf_world`, then the 5-minute check twice (it alerts once: dedup).

Statistics are over hourly values with nearest-rank percentiles; the arithmetic of each check is in its text.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from opsctl.commands.demo_steps import Step
from opsctl.commands.perf import Run, invoke_function, save_report
from opsctl.perf_world import seed_perf_world

P99 = "api_latency_p99#churnguard-api"
#: Watched series of the default targets: API 3, two functions x 4, the queue 2, the database 3.
SERIES = 16


def _near(value: Any, expected: float) -> bool:
    return isinstance(value, (int, float)) and abs(value - expected) < 0.005


def _metric(run: Run, key: str) -> dict[str, Any]:
    return next((m for m in (run.report or {}).get("metrics", []) if m["key"] == key), {})


def performance_report(env: Any, out: str | None) -> Step:
    step = Step("Performance report: 48 h of seeded ChurnGuard metrics -> a graded breach, its trend and advice")
    world = seed_perf_world(env.aws, env.context.performance.targets, region=env.region)
    run = invoke_function(env.function_name("performance-report"), {"hours": 24, "end": world.anchor.isoformat()},
                          read_report=True)
    step.expect("the report function ran and wrote report.json and report.md", run.ok and run.report is not None,
                run.error or str(run.headline.get("reports", {}).get("markdown")))
    if not run.ok or run.report is None:
        return step
    h = run.headline
    p99 = _metric(run, P99)
    c, prev, trend = p99.get("current", {}), p99.get("previous", {}), p99.get("trend", {})
    step.expect("API p99 over 24 hourly values: average (18 x 1500 + 6 x 2600) / 24 = 1775 ms, min 1500, max, p95 "
                "and p99 2600", _near(c.get("average"), 1775) and _near(c.get("minimum"), 1500)
                and all(_near(c.get(k), 2600) for k in ("maximum", "p95", "p99")),
                f"avg {c.get('average')}, min {c.get('minimum')}, max {c.get('maximum')}, p95 {c.get('p95')}, "
                f"p99 {c.get('p99')}")
    step.expect("6 of 24 hours over 2,000 ms; worst 2600 / 2000 = 1.30 -> high (>= 1.25, < 1.5)",
                c.get("violations") == 6 and c.get("periods") == 24 and c.get("worst_severity") == "high",
                f"{c.get('violations')} of {c.get('periods')}, {c.get('worst_severity')}")
    step.expect("trend: the day before averaged (18 x 1400 + 6 x 1600) / 24 = 1450 ms: +325 ms, +22.4 %",
                _near(prev.get("average"), 1450) and _near(trend.get("delta"), 325)
                and _near(round(trend.get("pct") or 0, 1), 22.4), f"{trend}")
    p95 = _metric(run, "api_latency_p95#churnguard-api").get("current", {})
    cpu = _metric(run, "rds_cpu#churnguard-prod")
    cpu_avg, cpu_delta = cpu.get("current", {}).get("average"), cpu.get("trend", {}).get("delta")
    memory = _metric(run, "rds_memory#churnguard-prod").get("current", {})
    step.expect("under threshold: API p95 (18 x 700 + 6 x 900) / 24 = 750 ms; RDS CPU (18 x 45 + 6 x 70) / 24 = "
                "51.25 % (+6.25 from 45 %); memory 4 of 16 GiB free = 75 % used",
                _near(p95.get("average"), 750) and p95.get("violations") == 0
                and _near(cpu_avg, 51.25) and _near(cpu_delta, 6.25)
                and _near(memory.get("average"), 75) and memory.get("violations") == 0,
                f"p95 {p95.get('average')}, CPU {cpu_avg} ({cpu_delta:+}), memory {memory.get('average')}")
    recs = run.report.get("recommendations", [])
    step.expect("one metric over threshold and one recommendation, citing its numbers",
                h["breaching"] == {P99: "high"} and len(recs) == 1 and recs[0]["key"] == P99
                and "p99 2,600.00 ms = 1.30x the threshold 2,000.00 ms" in recs[0]["evidence"],
                recs[0]["evidence"] if recs else str(h["breaching"]))
    step.expect(f"{SERIES} series read in 1 GetMetricData call (both windows at once)",
                h["cloudwatch_queries"] == SERIES and h["cloudwatch_calls"] == 1,
                f"{h['cloudwatch_queries']} queries, {h['cloudwatch_calls']} call(s)")
    folder = Path(out or Path(__file__).resolve().parents[2] / ".opsctl" / "demo") / "performance"
    paths = save_report(run, str(folder))
    markdown = paths.get("markdown")
    step.expect("the Markdown report written", markdown is not None and "| API latency p99 (ms) |" in
                markdown.read_text(), str(markdown.resolve()) if markdown else "missing")
    return step


def performance_check_dedup(env: Any, out: str | None) -> Step:
    step = Step("Performance check twice: the API's p99 breach alerts once (EventBridge + ops topic), then not again")
    name = env.function_name("performance-check")
    first = invoke_function(name, {})
    step.expect("the first check ran", first.ok, first.error or "")
    alerts = [(a["transition"], a["key"], a["severity"]) for a in first.headline.get("alerts", [])]
    step.expect("it alerts once: breach, API p99 2600 ms = 1.30x -> high",
                alerts == [("breach", P99, "high")], str(alerts))
    step.expect(f"all {SERIES} series read in 1 GetMetricData call", first.headline.get("cloudwatch_calls") == 1
                and first.headline.get("cloudwatch_queries") == SERIES, str(first.headline.get("cloudwatch_calls")))
    second = invoke_function(name, {})
    step.expect("the second check still sees the breach but sends nothing (dedup)",
                second.ok and second.headline.get("breaching") == {P99: "high"} and second.headline["alerts"] == [],
                f"{second.headline.get('breaching')}, alerts {second.headline.get('alerts')}")
    table = f"{env.context.prefix}-performance-alerts"
    items = env.aws.client("dynamodb", env.region).scan(TableName=table).get("Items", [])
    state = {i["pk"]["S"]: (i["severity"]["S"], i["version"]["N"]) for i in items}
    step.expect("the dedup table remembers the breach once (severity high, version 1)",
                state == {P99: ("high", "1")}, str(state))
    return step


PERFORMANCE_SCENARIOS = [performance_report, performance_check_dedup]
