"""API Gateway -> policy administration (IAM-authorized operators' API).

    PUT  /tenants/{tenant_id}/policy                   put a new version (201), 409 if stale
    GET  /tenants/{tenant_id}/policy                   the active version
    GET  /tenants/{tenant_id}/policy/versions          every version, oldest first
    GET  /tenants/{tenant_id}/policy/versions/{n}      one version
    POST /tenants/{tenant_id}/policy/dry-run           what a draft would change on recent orders
    GET  /tenants/{tenant_id}/orders/{order_id}/replay re-decide an export and compare (?version=n)

Bodies and answers are the pydantic models in meshline.flows.policies; Powertools
validates them (422 naming the field) and builds the OpenAPI document from them.
"""

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from pydantic import BaseModel, Field

from meshline.clock import utc_now
from meshline.dal.tenants import StalePolicyVersion, UnknownPolicyVersion, UnknownTenant
from meshline.domain.policy import PolicyVersionSummary, TenantPolicy
from meshline.flows.policies import (
    DryRunRequest,
    PolicyAdministration,
    PolicyVersionCreated,
    PutPolicyRequest,
)
from meshline.flows.replay import DryRunReport, ReplayResult
from meshline.observability import logger, metrics, tracer
from meshline.settings import policy_admin_settings

app = APIGatewayRestResolver(enable_validation=True)


class ErrorBody(BaseModel):
    error: str = Field(description="not_found, conflict or bad_request")
    message: str = Field(description="What was wrong, and what to do about it.")


def _documented(*statuses: int, created: type[BaseModel] | None = None) -> dict:
    described = {400: "Refused: the message says why", 404: "No such tenant, version or order",
                 409: "The expected version is no longer the active one"}
    answers: dict = {status: {"description": described[status],
                              "content": {"application/json": {"model": ErrorBody}}} for status in statuses}
    if created is not None:
        answers[201] = {"description": "Created", "content": {"application/json": {"model": created}}}
    return answers

TenantIdPath = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,29}$")]


def _error(status: int, error: str, message: str) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON,
                    body=ErrorBody(error=error, message=message).model_dump())


@app.exception_handler(RequestValidationError)
def _invalid(error: RequestValidationError) -> Response:
    # Powertools' default 422 drops pydantic's messages to avoid leaking internals; ours
    # say what is wrong with a policy ("unknown IANA time zone ..."), so keep them, without
    # echoing the submitted input back.
    detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in error.errors()]
    first = detail[0] if detail else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(part) for part in first["loc"][1:] or first["loc"])
    return Response(
        status_code=422,
        content_type=content_types.APPLICATION_JSON,
        body={"error": "validation_error", "message": f"{where}: {first['msg']}", "detail": detail},
    )


@app.exception_handler(UnknownTenant)
@app.exception_handler(UnknownPolicyVersion)
def _not_found(error: LookupError) -> Response:
    return _error(404, "not_found", str(error))


@app.exception_handler(StalePolicyVersion)
def _stale(error: StalePolicyVersion) -> Response:
    return _error(409, "conflict", str(error))


@app.exception_handler(ValueError)
def _bad_request(error: ValueError) -> Response:
    return _error(400, "bad_request", str(error))


def _actor() -> str:
    """The IAM principal API Gateway authenticated (AWS_IAM authorization), for the audit."""
    identity = app.current_event.request_context.identity
    return f"iam:{identity.user_arn or identity.caller or 'unknown'}"


def _administration() -> PolicyAdministration:
    return PolicyAdministration(policy_admin_settings())


@app.put("/tenants/<tenant_id>/policy", responses=_documented(404, 409, created=PolicyVersionCreated))
@tracer.capture_method
def put_policy(tenant_id: TenantIdPath, request: PutPolicyRequest) -> tuple[PolicyVersionCreated, int]:
    created = _administration().put(tenant_id, request, _actor(), utc_now())
    logger.info("policy version put", extra={"tenant_id": tenant_id, "version": created.version, "actor": _actor()})
    return created, 201


@app.get("/tenants/<tenant_id>/policy", responses=_documented(404))
def get_active_policy(tenant_id: TenantIdPath) -> TenantPolicy:
    return _administration().active(tenant_id)


@app.get("/tenants/<tenant_id>/policy/versions", responses=_documented(404))
def list_policy_versions(tenant_id: TenantIdPath) -> list[PolicyVersionSummary]:
    return _administration().versions(tenant_id)


@app.get("/tenants/<tenant_id>/policy/versions/<version>", responses=_documented(404))
def get_policy_version(tenant_id: TenantIdPath, version: Annotated[int, Path(ge=1)]) -> TenantPolicy:
    return _administration().version(tenant_id, version)


@app.post("/tenants/<tenant_id>/policy/dry-run", responses=_documented(400, 404))
@tracer.capture_method
def dry_run_policy(tenant_id: TenantIdPath, request: DryRunRequest) -> DryRunReport:
    return _administration().dry_run(tenant_id, request)


@app.get("/tenants/<tenant_id>/orders/<order_id>/replay", responses=_documented(404))
@tracer.capture_method
def replay_order(
    tenant_id: TenantIdPath, order_id: str, version: Annotated[int | None, Query(ge=1)] = None
) -> ReplayResult:
    return _administration().replay(tenant_id, order_id, version)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
