"""Logger, Tracer and Metrics, created once and imported everywhere.

Service name and metrics namespace come from the template's environment
(POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE).

One order is followed through every function by its correlation id, `<tenant>:<order>`:
each handler sets it as soon as it knows which order a record or request is about, so
the logs of ingest, decide, publish, acknowledge, escalate, override, sweep and
re-evaluate can be searched for one order with one value.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
tracer = Tracer()
metrics = Metrics()



def follow_order(tenant_id: str, order_id: str) -> None:
    logger.set_correlation_id(f"{tenant_id}:{order_id}")
    logger.append_keys(tenant_id=tenant_id, order_id=order_id)


def stop_following() -> None:
    """After a batch of orders, so that a summary line names none of them."""
    logger.set_correlation_id(None)
    logger.remove_keys(["tenant_id", "order_id"])


__all__ = ["MetricUnit", "follow_order", "logger", "metrics", "stop_following", "tracer"]
