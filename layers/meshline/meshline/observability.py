"""Logger, Tracer and Metrics, created once and imported everywhere.

Service name and metrics namespace come from the template's environment
(POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE).

One order is followed through every function by its correlation id, `<tenant>:<order>`:
each handler sets it as soon as it knows which order a record or request is about, so
the logs of ingest, decide, publish, acknowledge, escalate, override, sweep and
re-evaluate can be searched for one order with one value.
"""

import os
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

Wrapped = TypeVar("Wrapped", bound=Callable[..., Any])


class Untraced:
    """Tracer's decorators, doing nothing: what every function uses unless the stack is
    deployed with PowertoolsTraceDisabled=false. Powertools' Tracer imports the X-Ray SDK
    when it is created, about 85 ms of every cold start (its own POWERTOOLS_TRACE_DISABLED
    turns the recording off, not the import), for a subsegment per AWS call and handler
    method. Lambda's active tracing (Tracing: Active) records each invocation, and its
    link to API Gateway, SQS and Step Functions, without any SDK in the function."""

    def capture_method(self, method: Wrapped) -> Wrapped:
        return method

    def capture_lambda_handler(self, handler: Wrapped) -> Wrapped:
        return handler


def _tracer() -> Any:
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").lower() in ("true", "1"):
        return Untraced()
    from aws_lambda_powertools import Tracer

    return Tracer()


logger = Logger()
tracer = _tracer()
metrics = Metrics()


def follow_order(tenant_id: str, order_id: str) -> None:
    logger.set_correlation_id(f"{tenant_id}:{order_id}")
    logger.append_keys(tenant_id=tenant_id, order_id=order_id)


def stop_following() -> None:
    """After a batch of orders, so that a summary line names none of them."""
    logger.set_correlation_id(None)
    logger.remove_keys(["tenant_id", "order_id"])


__all__ = ["MetricUnit", "follow_order", "logger", "metrics", "stop_following", "tracer"]
