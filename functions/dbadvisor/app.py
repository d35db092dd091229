"""PostgreSQL advisor handler: the weekly schedule (``{"action": "advise"}``: every configured instance) or an
on-demand run for one (``{"action": "advise", "db_instance_id": "churnguard-prod"}``).

Per instance the advice goes to the ops bucket (JSON and Markdown), the index proposals to
``dbadvisor/proposals/<instance>.json``, a summary to the ops topic. Nothing is applied to the database (only
``ANALYZE`` of stale tables, when configured). Raises after advising every instance if one failed.
"""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from churnguard_ops.core.observability import ops_handler
from churnguard_ops.dbadvisor.events import AdviseRequest

logger = Logger()
metrics = Metrics()


@ops_handler(logger, metrics)
def advise(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=AdviseRequest)
    from churnguard_ops.dbadvisor import wiring

    result = wiring.advisor().run(request.db_instance_id)
    headline = result.headline()
    metrics.add_metric(name="DbAdvisorInstancesAdvised", unit="Count", value=len(headline["instances"]))
    metrics.add_metric(name="DbAdvisorIndexProposals", unit="Count",
                       value=sum(i.get("proposals", 0) for i in headline["instances"]))
    for instance in headline["instances"]:
        logger.info(f"advised {instance['db_instance_id']}: {instance.get('counts')}", extra={"advice": instance})
    return headline
