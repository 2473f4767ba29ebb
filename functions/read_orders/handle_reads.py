"""API Gateway -> the operators' read API (operator and warehouse credentials).

    GET /exports/{export_id}                                 one export version (warehouses: those naming them)
    GET /tenants/{tenant_id}/orders/{order_id}/history       every version, answer, refusal, override and
                                                             escalation rung, and the chain's verification
    GET /tenants/{tenant_id}/orders/{order_id}/verification  the chain's verification alone
    GET /tenants/{tenant_id}/exceptions                      open escalations and exports at risk, by deadline
    GET /caller                                              who the credential is: role, party, tenants

Another tenant's or warehouse's object answers 404 exactly like a missing one; a warehouse
credential asking for a history or the exception queue answers 403 (a role, not an object).
"""

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
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
from meshline.clock import utc_now
from meshline.dal.scope import Scope
from meshline.domain.access import Role
from meshline.domain.exports import EXPORT_ID_PATTERN, Export, MalformedExportId
from meshline.flows.reads import (
    MAX_HORIZON_HOURS,
    MAX_PAGE,
    BadCursor,
    CallerProfile,
    ChainVerification,
    ExceptionQueue,
    OrderHistory,
    Reads,
)
from meshline.observability import follow_order, logger, metrics, tracer
from meshline.settings import read_settings

app = APIGatewayRestResolver(enable_validation=True)
answer_validation_errors_by_field(app)
answer_access_errors(app)

OrderIdPath = Annotated[str, Path(pattern=r"^[a-z]+-[A-Za-z0-9_.-]{1,64}$")]


@app.exception_handler(MalformedExportId)
@app.exception_handler(BadCursor)
def _bad_request(error: ValueError) -> Response:
    return error_response(400, "bad_request", str(error))


def _reads(operators_only: str | None = None) -> Reads:
    caller = caller_of(app)
    if operators_only:
        caller.require_role(Role.OPERATOR, operators_only)
    return Reads(read_settings(), Scope(caller))


@app.get("/exports/<export_id>", responses=documented(400, 404))
@tracer.capture_method
def get_export(export_id: Annotated[str, Path(pattern=EXPORT_ID_PATTERN, max_length=140)]) -> Export:
    return Export.model_validate(_reads().export(export_id))


@app.get("/tenants/<tenant_id>/orders/<order_id>/history", responses=documented(403, 404))
@tracer.capture_method
def get_order_history(tenant_id: TenantIdPath, order_id: OrderIdPath) -> OrderHistory:
    follow_order(tenant_id, order_id)
    return _reads("read order histories").history(tenant_id, order_id)


@app.get("/tenants/<tenant_id>/orders/<order_id>/verification", responses=documented(403, 404))
@tracer.capture_method
def verify_order_chain(tenant_id: TenantIdPath, order_id: OrderIdPath) -> ChainVerification:
    follow_order(tenant_id, order_id)
    return _reads("verify order chains").verification(tenant_id, order_id)


@app.get("/tenants/<tenant_id>/exceptions", responses=documented(400, 403, 404))
@tracer.capture_method
def get_exception_queue(
    tenant_id: TenantIdPath,
    within_hours: Annotated[int, Query(ge=1, le=MAX_HORIZON_HOURS, description="Deadlines up to this many hours ahead.")] = 24,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> ExceptionQueue:
    return _reads("read the exception queue").exceptions(tenant_id, utc_now(), within_hours, limit, cursor)


@app.get("/caller")
@tracer.capture_method
def get_caller() -> CallerProfile:
    """Any credential may ask who it is: it learns nothing it was not issued with."""
    return CallerProfile.of(caller_of(app))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return resolve_within_limits(app, event, context)
