"""Publish a drill report: S3 document, DynamoDB history, EMF metrics, SNS summary."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from churnguard_ops.core import contracts
from churnguard_ops.core.ports import Documents, MetricsSink, Notifier, Records
from churnguard_ops.drill.report import summary_line


class DrillReporter:
    def __init__(self, documents: Documents | None, history: Records | None, alerts: Notifier | None,
                 metrics: MetricsSink) -> None:
        self.documents = documents
        self.history = history
        self.alerts = alerts
        self.metrics = metrics

    def publish(self, report: dict[str, Any]) -> dict[str, Any]:
        """Metrics and the alert go out before the history write, so a history failure cannot hide a drill."""
        when = datetime.fromisoformat(report["reported_at"])
        location = None
        if self.documents:
            location = self.documents.save(f"{contracts.DRILL_REPORTS_PREFIX}{when:%Y/%m}/{report['drill_id']}.json",
                                           report)
        dims = {"SourceDBInstance": report["source_instance"]}
        self.metrics.put("DrillSucceeded", 1.0 if report["passed"] else 0.0, "Count", dims)
        # An RPO with a reason (a fresh drill snapshot, disagreeing clocks) is not a measurement of the
        # backups' recovery point: reported, but kept out of the RPOSeconds metric.
        rpo = None if report["rpo"].get("reason") else report["rpo"]["seconds"]
        for name, value in (("RestoreSeconds", report["timings"]["restore_seconds"]),
                            ("RTOSeconds", report["rto"]["seconds"]), ("RPOSeconds", rpo)):
            if value is not None:
                self.metrics.put(name, value, "Seconds", dims)
        summary = summary_line(report)
        if self.alerts:
            self.alerts.publish(f"[{'PASS' if report['passed'] else 'FAIL'}] ChurnGuard restore drill "
                                f"{report['source_instance']}", summary + (f"\nReport: {location}" if location else ""))
        if self.history:
            self.history.record({
                "source_instance": report["source_instance"], "drill_id": report["drill_id"],
                "passed": report["passed"], "reported_at": report["reported_at"], "report_s3": location,
                "rto_seconds": report["rto"]["seconds"], "rpo_seconds": report["rpo"]["seconds"],
                "rto_source": report.get("rto_source"), "execution_arn": report.get("execution_arn"),
                "verdicts": report["verdicts"], "mode": report["mode"], "target_region": report["target_region"]})
        return {"passed": report["passed"], "report_s3": location, "rto_seconds": report["rto"]["seconds"],
                "rpo_seconds": report["rpo"]["seconds"], "verdicts": report["verdicts"], "summary": summary}
