"""API Gateway -> policy administration (operators' API; operator credentials, within their tenants).

    PUT  /tenants/{tenant_id}/policy                   put a new version (201), active or a candidate; 409 if stale
    POST /tenants/{tenant_id}/policy/versions/{n}/activation  make a stored version the active one; 409 if stale
    GET  /tenants/{tenant_id}/policy                   the active version
    GET  /tenants/{tenant_id}/policy/versions          every version, oldest first
    GET  /tenants/{tenant_id}/policy/versions/{n}      one version
    POST /tenants/{tenant_id}/policy/dry-run           what a draft would change on recent orders
    GET  /tenants/{tenant_id}/orders/{order_id}/replay re-decide an export and compare (?version=n)

Bodies and answers are the pydantic models in meshline.flows.policies; Powertools
validates them (422 naming the field) and builds the OpenAPI document from them.
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
from meshline.dal.tenants import StalePolicyVersion, UnknownPolicyVersion, UnknownTenant
from meshline.domain.access import Role
from meshline.domain.policy import PolicyVersionSummary, TenantPolicy
from meshline.flows.policies import (
    ActivationRequest,
    DryRunRequest,
    PolicyAdministration,
    PolicyVersionCreated,
    PutPolicyRequest,
)
from meshline.flows.replay import DryRunReport, ReplayResult
from meshline.observability import logger, metrics, tracer
from meshline.settings import policy_admin_settings

app = APIGatewayRestResolver(enable_validation=True)


answer_validation_errors_by_field(app)
answer_access_errors(app)



@app.exception_handler(UnknownTenant)
@app.exception_handler(UnknownPolicyVersion)
def _not_found(error: LookupError) -> Response:
    return error_response(404, "not_found", str(error))


@app.exception_handler(StalePolicyVersion)
def _stale(error: StalePolicyVersion) -> Response:
    return error_response(409, "conflict", str(error))


@app.exception_handler(ValueError)  # FirstPolicyNotActivated too
def _bad_request(error: ValueError) -> Response:
    return error_response(400, "bad_request", str(error))


def _actor() -> str:
    """The operator the authorizer verified, for the audit trail."""
    return caller_of(app).party


def _administration() -> PolicyAdministration:
    caller = caller_of(app)
    caller.require_role(Role.OPERATOR, "administer policies")
    return PolicyAdministration(policy_admin_settings(), Scope(caller))


@app.put("/tenants/<tenant_id>/policy", responses=documented(400, 403, 404, 409, created=PolicyVersionCreated))
@tracer.capture_method
def put_policy(tenant_id: TenantIdPath, request: PutPolicyRequest) -> tuple[PolicyVersionCreated, int]:
    created = _administration().put(tenant_id, request, _actor(), utc_now())
    logger.info("policy version put", extra={"tenant_id": tenant_id, "version": created.version, "actor": _actor()})
    return created, 201


@app.post("/tenants/<tenant_id>/policy/versions/<version>/activation", responses=documented(403, 404, 409))
@tracer.capture_method
def activate_policy_version(
    tenant_id: TenantIdPath, version: Annotated[int, Path(ge=1)], request: ActivationRequest
) -> TenantPolicy:
    policy = _administration().activate(tenant_id, version, request)
    logger.info("policy version activated", extra={"tenant_id": tenant_id, "version": version, "actor": _actor()})
    return policy


@app.get("/tenants/<tenant_id>/policy", responses=documented(403, 404))
def get_active_policy(tenant_id: TenantIdPath) -> TenantPolicy:
    return _administration().active(tenant_id)


@app.get("/tenants/<tenant_id>/policy/versions", responses=documented(403, 404))
def list_policy_versions(tenant_id: TenantIdPath) -> list[PolicyVersionSummary]:
    return _administration().versions(tenant_id)


@app.get("/tenants/<tenant_id>/policy/versions/<version>", responses=documented(403, 404))
def get_policy_version(tenant_id: TenantIdPath, version: Annotated[int, Path(ge=1)]) -> TenantPolicy:
    return _administration().version(tenant_id, version)


@app.post("/tenants/<tenant_id>/policy/dry-run", responses=documented(400, 403, 404))
@tracer.capture_method
def dry_run_policy(tenant_id: TenantIdPath, request: DryRunRequest) -> DryRunReport:
    return _administration().dry_run(tenant_id, request)


@app.get("/tenants/<tenant_id>/orders/<order_id>/replay", responses=documented(403, 404))
@tracer.capture_method
def replay_order(
    tenant_id: TenantIdPath, order_id: str, version: Annotated[int | None, Query(ge=1)] = None
) -> ReplayResult:
    return _administration().replay(tenant_id, order_id, version)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return resolve_within_limits(app, event, context)
