"""What every Meshline REST API answers alike: error bodies and validation errors.

Handlers register these on their Powertools resolver, so a caller gets the same shape
from every endpoint: `{"error": ..., "message": ...}` with the right status.
"""

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel, Field

from meshline.domain.access import Caller, NotAllowed, NotVisible
from meshline.domain.types import Model

MAX_BODY_BYTES = 256 * 1024  # a 50-warehouse policy is ~40 KB; anything near this is a mistake or an attack
TenantIdPath = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,29}$")]

ERROR_DESCRIPTIONS = {
    400: "Refused: the message says why",
    403: "The caller may not act on this object",
    404: "No such tenant, version, order or export",
    409: "Conflict with the current state: a newer version exists",
}


class ErrorBody(Model):
    error: str = Field(description="not_found, conflict, forbidden, bad_request or validation_error")
    message: str = Field(description="What was wrong, and what to do about it.")


def error_response(status: int, error: str, message: str) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON,
                    body=ErrorBody(error=error, message=message).model_dump())


def documented(*statuses: int, created: type[BaseModel] | None = None) -> dict:
    """OpenAPI `responses=` for the error statuses an endpoint can answer."""
    answers: dict = {status: {"description": ERROR_DESCRIPTIONS[status],
                              "content": {"application/json": {"model": ErrorBody}}} for status in statuses}
    if created is not None:
        answers[201] = {"description": "Created", "content": {"application/json": {"model": created}}}
    return answers


def answer_validation_errors_by_field(app: APIGatewayRestResolver) -> None:
    """Powertools' default 422 drops pydantic's messages to avoid leaking internals; ours
    say what is wrong ("unknown IANA time zone ...", "reason_code is required ..."), so
    keep them, without echoing the submitted input back."""

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response:
        detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in error.errors()]
        first = detail[0] if detail else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(part) for part in first["loc"][1:] or first["loc"])
        return Response(
            status_code=422,
            content_type=content_types.APPLICATION_JSON,
            body={"error": "validation_error", "message": f"{where}: {first['msg']}", "detail": detail},
        )


def caller_of(app: APIGatewayRestResolver) -> Caller:
    """The caller the MeshlineCredentials authorizer verified for this request."""
    return Caller.from_context(app.current_event.request_context.authorizer.raw_event)


def answer_access_errors(app: APIGatewayRestResolver) -> None:
    """Objects a caller may not see answer exactly like missing ones (OWASP API1)."""

    @app.exception_handler(NotVisible)
    def _not_visible(error: NotVisible) -> Response:
        return error_response(404, "not_found", f"no {error}")

    @app.exception_handler(NotAllowed)
    def _not_allowed(error: NotAllowed) -> Response:
        return error_response(403, "forbidden", str(error))


def resolve_within_limits(app: APIGatewayRestResolver, event: dict, context: object, max_bytes: int = MAX_BODY_BYTES) -> dict:
    """`app.resolve`, after refusing a body over `max_bytes` with 413 (OWASP API4): checked
    here because Powertools validates a request before any middleware runs, and API
    Gateway alone would let 10 MB through to pydantic."""
    body = event.get("body") or ""
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode())
    if size > max_bytes:
        refused = ErrorBody(error="payload_too_large", message=f"the body is {size} bytes; at most {max_bytes} are accepted")
        return {"statusCode": 413, "headers": {"Content-Type": content_types.APPLICATION_JSON},
                "body": refused.model_dump_json(), "isBase64Encoded": False}
    return app.resolve(event, context)
