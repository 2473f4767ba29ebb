"""API Gateway -> a warehouse's answer to an export (warehouse credentials, as themselves only).

    POST /acknowledgements   record received/accepted/rejected/picked/shipped/cancellation answers

200 with what happened (recorded, already recorded, and for a rejection the new export
version it led to); 409 when the export answered is not the current version; 403 when
the warehouse was not sent the lines it answers for; 404 for an unknown export, or one
that is another tenant's or warehouse's; 422
naming the field for a malformed answer. A refused answer is kept as a record.
"""

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths

from meshline.api import (
    answer_access_errors,
    answer_validation_errors_by_field,
    caller_of,
    documented,
    error_response,
    resolve_within_limits,
)
from meshline.dal.scope import Scope
from meshline.domain.access import Role
from meshline.clock import utc_now
from meshline.domain.acknowledgements import AcknowledgementRequest
from meshline.domain.exports import MalformedExportId, parse_export_id
from meshline.flows.acknowledge import AckOutcome, AckReceipt, acknowledge
from meshline.observability import follow_order, logger, metrics, tracer
from meshline.settings import acknowledge_settings

app = APIGatewayRestResolver(enable_validation=True)
answer_validation_errors_by_field(app)
answer_access_errors(app)

REFUSALS = {403: "forbidden", 404: "not_found", 409: "conflict"}


class AnswerRefused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@app.exception_handler(MalformedExportId)
def _malformed(error: MalformedExportId) -> Response:
    return error_response(400, "bad_request", str(error))


@app.exception_handler(AnswerRefused)
def _refused(error: AnswerRefused) -> Response:
    return error_response(error.status, REFUSALS.get(error.status, "bad_request"), str(error))


@app.post("/acknowledgements", responses=documented(400, 403, 404, 409))
@tracer.capture_method
def post_acknowledgement(request: AcknowledgementRequest) -> AckReceipt:
    logger.append_keys(export_id=request.export_id, warehouse_id=request.warehouse_id, ack_id=request.ack_id)
    caller = caller_of(app)
    caller.require_role(Role.WAREHOUSE, "acknowledge exports")
    tenant_id, order_id, _ = parse_export_id(request.export_id)
    follow_order(tenant_id, order_id)
    result = acknowledge(acknowledge_settings(), request, utc_now(), Scope(caller))
    if result.outcome is AckOutcome.REFUSED:
        raise AnswerRefused(result.status, result.message)
    return result.receipt()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return resolve_within_limits(app, event, context)
