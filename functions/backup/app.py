"""Backup handlers: a scheduled tick -> one policy's backups; a probe schedule -> recoverability metrics.

Thin by design: parse, run the service, report. Raising after all targets were tried is what makes
Lambda's async retries and the DLQ apply; the slot-derived snapshot ids make those retries safe.
"""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from churnguard_ops.backup.events import BackupTick, ProbeTick
from churnguard_ops.core.observability import ops_handler

logger = Logger()
metrics = Metrics()


class BackupIncomplete(RuntimeError):
    """At least one target failed; the message lists them so the DLQ record is self-explaining."""


@ops_handler(logger, metrics)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    tick = parse(event=event, model=BackupTick)  # malformed events fail here with a pydantic error
    from churnguard_ops.backup.wiring import build_backup_service  # lazy: keeps cold-start import small

    report = build_backup_service().run(tick)
    result = report.model_dump(mode="json")
    logger.info(report.summary(), extra={"outcomes": result["outcomes"]})
    if report.failures:
        failed = "; ".join(f"{o.target} ({o.action}): {o.detail}" for o in report.failures)
        raise BackupIncomplete(f"{report.summary()}. Failed: {failed}")
    return result


class ProbeIncomplete(RuntimeError):
    """An instance could not be measured; its lag datapoint is missing, which its alarm treats as breaching."""


@ops_handler(logger, metrics)
def probe(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Every few minutes: restorable lag and posture of each instance, as metrics (finer than hourly ticks)."""
    parse(event=event, model=ProbeTick)
    from churnguard_ops.backup.wiring import build_recoverability_probe

    report = build_recoverability_probe().run()
    result = report.model_dump(mode="json")
    logger.info(report.summary(), extra={"instances": result["instances"]})
    if report.failures:
        raise ProbeIncomplete(report.summary())
    return result
