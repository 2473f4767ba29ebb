"""EventBridge schedule -> the sweep: silent warehouses and lapsing ship-bys are acted on."""

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source

from meshline.clock import utc_now
from meshline.flows.sweep import sweep
from meshline.observability import logger, metrics, tracer
from meshline.settings import sweep_settings


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: object) -> dict:
    report = sweep(sweep_settings(), utc_now())
    return {"looked_at": report.looked_at, "rerouted": report.rerouted, "escalated": report.escalated,
            "skipped": report.skipped}
