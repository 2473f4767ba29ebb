"""API Gateway -> ingest: POST /webhooks/{platform}/{tenant_id}, platform shopify, woocommerce,
bigcommerce or generic (docs/SOURCES.md).

Answers 202 once the order is safely on the inbox queue; routing happens asynchronously.
"""

from __future__ import annotations

import base64

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths

from meshline.clock import utc_now
from meshline.flows.ingest import SOURCES, IngestRefused, Outcome, ingest_order
from meshline.observability import follow_order, logger, metrics, tracer
from meshline.settings import ingest_settings

app = APIGatewayRestResolver()


@app.exception_handler(IngestRefused)
def _refused(error: IngestRefused) -> Response:
    logger.warning("webhook refused", extra={"status": error.status, "reason": str(error)})
    return Response(
        status_code=error.status,
        content_type=content_types.APPLICATION_JSON,
        body={"error": _REASONS.get(error.status, "refused"), "message": str(error)},
    )


_REASONS = {400: "bad_request", 401: "unauthorized", 404: "not_found", 409: "conflict", 413: "payload_too_large",
            503: "unavailable"}


@app.post("/webhooks/<platform>/<tenant_id>")
@tracer.capture_method
def receive_webhook(platform: str, tenant_id: str) -> Response:
    source = SOURCES.get(platform)
    if source is None:
        raise IngestRefused(404, f"no webhook source '{platform}'; known: {sorted(SOURCES)}")
    event = app.current_event
    raw = event.body or ""
    # The signature covers the exact bytes the platform sent, so decode, never re-serialize.
    body = base64.b64decode(raw) if event.is_base64_encoded else raw.encode("utf-8")
    headers = {name.lower(): value for name, value in (event.headers or {}).items()}
    result = ingest_order(ingest_settings(), source, tenant_id, headers, body, utc_now())
    if result.order_id:
        follow_order(tenant_id, result.order_id)
    logger.info("webhook handled", extra={"outcome": str(result.outcome), "delivery_id": result.delivery_id})
    accepted = result.outcome is Outcome.ACCEPTED
    return Response(
        status_code=202 if accepted else 200,
        content_type=content_types.APPLICATION_JSON,
        body={
            "status": str(result.outcome),
            "order_id": result.order_id,
            "delivery_id": result.delivery_id,
            "first_received_at": result.first_received_at,
        },
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
