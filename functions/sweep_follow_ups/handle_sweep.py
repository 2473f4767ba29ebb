"""EventBridge schedule -> the sweep: silent warehouses and lapsing ship-bys are acted on.

The scheduled event carries nothing the sweep needs (it reads the clock and the FollowUps
index), so it is not parsed: Powertools' data classes would cost this function about 50 ms
of every cold start for it.
"""

from meshline.clock import utc_now
from meshline.flows.sweep import sweep
from meshline.observability import logger, metrics, tracer
from meshline.settings import sweep_settings


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    report = sweep(sweep_settings(), utc_now())
    return {"looked_at": report.looked_at, "rerouted": report.rerouted, "escalated": report.escalated,
            "skipped": report.skipped}
