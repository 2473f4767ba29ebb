"""Per-tenant webhook secrets, through Powertools parameters (SSM SecureString, cached)."""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

SECRET_CACHE_SECONDS = 300


class SecretNotFound(LookupError):
    pass


def webhook_secrets(prefix: str, tenant_id: str, platform: str) -> list[str]:
    """The secrets that currently verify this tenant's webhooks from this platform."""
    name = parameter_name(prefix, tenant_id, platform)
    try:
        value = parameters.get_parameter(name, decrypt=True, max_age=SECRET_CACHE_SECONDS)
    except GetParameterError as error:
        if "ParameterNotFound" in str(error.__cause__ or error):
            raise SecretNotFound(name) from None
        raise
    return [str(value)]


def parameter_name(prefix: str, tenant_id: str, platform: str) -> str:
    return f"{prefix}/{tenant_id}/{platform}-webhook-secret"
