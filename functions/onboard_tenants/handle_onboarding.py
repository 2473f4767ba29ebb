"""API Gateway -> onboarding (SigV4/IAM: the agency's administrators, not credentials).

    POST   /tenants                                  a merchant: warehouses' queues, platform secrets, first policy
    POST   /tenants/{tenant_id}/webhook-secrets/{platform}/rotation
                                                     a new webhook secret; the old one verifies through the overlap
    POST   /credentials                              an operator's or warehouse's credential (token shown once)
    POST   /credentials/{credential_id}/rotation     a new secret; the old one works through the overlap
    DELETE /credentials/{credential_id}              revoked (the authorizer's cache lets it live <= 60 s)

Secrets arrive in bodies and go to SSM or, hashed, to the table; they are never logged
(the event is not logged, and SecretStr hides them from every dump).
"""

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths

from meshline.api import TenantIdPath, answer_validation_errors_by_field, documented, error_response, resolve_within_limits
from meshline.clock import utc_now
from meshline.dal.credentials import CredentialChanged, UnknownCredential
from meshline.dal.tenants import StalePolicyVersion, UnknownTenant
from meshline.flows.onboarding import (
    CredentialIssued,
    CredentialRequest,
    CredentialRevoked,
    Onboarding,
    Platform,
    SecretRotated,
    SecretRotation,
    TenantExists,
    TenantOnboarded,
    TenantOnboarding,
    UnknownWarehouse,
)
from meshline.observability import logger, metrics, tracer
from meshline.settings import onboarding_settings

app = APIGatewayRestResolver(enable_validation=True)
answer_validation_errors_by_field(app)

CredentialIdPath = Annotated[str, Path(pattern=r"^[a-z0-9]{12,40}$")]


@app.exception_handler(UnknownTenant)
@app.exception_handler(UnknownCredential)
def _not_found(error: LookupError) -> Response:
    return error_response(404, "not_found", str(error))


@app.exception_handler(TenantExists)
@app.exception_handler(StalePolicyVersion)  # onboarded by someone else at the same moment
@app.exception_handler(CredentialChanged)
def _conflict(error: RuntimeError) -> Response:
    return error_response(409, "conflict", str(error))


@app.exception_handler(UnknownWarehouse)
def _bad_request(error: ValueError) -> Response:
    return error_response(400, "bad_request", str(error))


def _administrator() -> str:
    identity = app.current_event.request_context.identity
    return f"iam:{identity.user_arn or 'unknown'}"


@app.post("/tenants", responses=documented(404, 409, created=TenantOnboarded))
@tracer.capture_method
def onboard_tenant(request: TenantOnboarding) -> tuple[TenantOnboarded, int]:
    onboarded = Onboarding(onboarding_settings()).onboard(request, _administrator(), utc_now())
    logger.info("tenant onboarded", extra={"tenant_id": request.tenant_id, "by": _administrator()})
    return onboarded, 201


@app.post("/tenants/<tenant_id>/webhook-secrets/<platform>/rotation", responses=documented(404, created=SecretRotated))
@tracer.capture_method
def rotate_webhook_secret(tenant_id: TenantIdPath, platform: Platform,
                          request: SecretRotation) -> tuple[SecretRotated, int]:
    rotated = Onboarding(onboarding_settings()).rotate_webhook_secret(tenant_id, platform, request, utc_now())
    logger.info("webhook secret rotated", extra={"tenant_id": tenant_id, "platform": str(platform),
                                                 "previous_valid_until": rotated.previous_valid_until.isoformat(),
                                                 "by": _administrator()})
    return rotated, 201


@app.post("/credentials", responses=documented(400, 404, created=CredentialIssued))
@tracer.capture_method
def issue_credential(request: CredentialRequest) -> tuple[CredentialIssued, int]:
    issued = Onboarding(onboarding_settings()).issue(request, utc_now())
    logger.info("credential issued", extra={"credential_id": issued.credential_id, "role": str(issued.role),
                                            "party": issued.party, "by": _administrator()})
    return issued, 201


@app.post("/credentials/<credential_id>/rotation", responses=documented(404, 409, created=CredentialIssued))
@tracer.capture_method
def rotate_credential(credential_id: CredentialIdPath) -> tuple[CredentialIssued, int]:
    rotated = Onboarding(onboarding_settings()).rotate(credential_id, utc_now())
    logger.info("credential rotated", extra={"credential_id": credential_id, "by": _administrator()})
    return rotated, 201


@app.delete("/credentials/<credential_id>", responses=documented(404, 409))
@tracer.capture_method
def revoke_credential(credential_id: CredentialIdPath) -> CredentialRevoked:
    revoked = Onboarding(onboarding_settings()).revoke(credential_id, utc_now())
    logger.info("credential revoked", extra={"credential_id": credential_id, "by": _administrator()})
    return revoked


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return resolve_within_limits(app, event, context)
