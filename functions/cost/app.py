"""Cost report handler: the weekly schedule (``{"action": "report"}``) or a manual run.

A manual run may name the lookback (``{"action": "report", "lookback_days": 30}``). The report goes to the
ops bucket (JSON, Markdown, HTML) and a summary with a link to the ops topic; the result is the headline.
"""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from churnguard_ops.core.observability import ops_handler
from churnguard_ops.cost.events import ReportRequest

logger = Logger()
metrics = Metrics()


@ops_handler(logger, metrics)
def report(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=ReportRequest)
    from churnguard_ops.cost import wiring

    result = wiring.reporter().run(lookback_days=request.lookback_days)
    headline = result.headline()
    logger.info(f"cost report: ${headline['monthly_cost_usd']:,.2f}/month, "
                f"${headline['potential_monthly_saving_usd']:,.2f}/month to save", extra={"report": headline})
    metrics.add_metric(name="CostMonthlyUsd", unit="None", value=headline["monthly_cost_usd"])
    metrics.add_metric(name="CostPotentialSavingUsd", unit="None", value=headline["potential_monthly_saving_usd"])
    metrics.add_metric(name="CostExplorerRequests", unit="Count", value=headline["cost_explorer_requests"])
    return headline
