"""API Gateway -> manual override of an order's current decision (operator credentials, within their tenants).

    POST /tenants/{tenant_id}/orders/{order_id}/overrides   201 with the new export version

The body names the version the operator saw, a reason code, a justification, the line
changes and the operator's KMS signature over them (and a second approver's where the
policy asks). 409 when the order has moved on; 403 when a signature does not verify or
an approver is missing; 404 for an unknown order; 400 for a change that cannot apply;
422 naming the field of a malformed body. It also resolves a waiting escalation.
"""

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths

from meshline.api import (
    TenantIdPath,
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
from meshline.domain.exports import Export
from meshline.domain.overrides import OverrideRefused, OverrideRequest
from meshline.flows.override import StaleVersion, override
from meshline.observability import follow_order, logger, metrics, tracer
from meshline.settings import override_settings

app = APIGatewayRestResolver(enable_validation=True)
answer_validation_errors_by_field(app)
answer_access_errors(app)

@app.exception_handler(StaleVersion)
def _stale(error: StaleVersion) -> Response:
    return error_response(409, "conflict", str(error))


@app.exception_handler(OverrideRefused)
def _refused(error: OverrideRefused) -> Response:
    return error_response(error.status, "forbidden" if error.status == 403 else "bad_request", str(error))


@app.post("/tenants/<tenant_id>/orders/<order_id>/overrides", responses=documented(400, 403, 404, 409, created=Export))
@tracer.capture_method
def post_override(tenant_id: TenantIdPath, order_id: str, request: OverrideRequest) -> tuple[Export, int]:
    caller = caller_of(app)
    caller.require_role(Role.OPERATOR, "override exports")
    follow_order(tenant_id, order_id)
    logger.append_keys(operator=request.signed_by.operator)
    return override(override_settings(), tenant_id, order_id, request, utc_now(), Scope(caller)), 201


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return resolve_within_limits(app, event, context)
