"""Per-tenant webhook secrets and source settings, through Powertools parameters (SSM, cached)."""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

SECRET_CACHE_SECONDS = 300


class SecretNotFound(LookupError):
    pass


def webhook_secrets(prefix: str, tenant_id: str, platform: str) -> list[str]:
    """The secrets that currently verify this tenant's webhooks from this platform."""
    return [tenant_parameter(prefix, tenant_id, _webhook_secret(platform))]


def tenant_parameter(prefix: str, tenant_id: str, name: str) -> str:
    """`<prefix>/<tenant_id>/<name>`, decrypted when it is a SecureString; SecretNotFound
    (naming the parameter, never its value) when it does not exist."""
    path = tenant_path(prefix, tenant_id, name)
    try:
        value = parameters.get_parameter(path, decrypt=True, max_age=SECRET_CACHE_SECONDS)
    except GetParameterError as error:
        if "ParameterNotFound" in str(error.__cause__ or error):
            raise SecretNotFound(path) from None
        raise
    return str(value)


def tenant_path(prefix: str, tenant_id: str, name: str) -> str:
    return f"{prefix}/{tenant_id}/{name}"


def parameter_name(prefix: str, tenant_id: str, platform: str) -> str:
    """Where this tenant's webhook secret for this platform lives."""
    return tenant_path(prefix, tenant_id, _webhook_secret(platform))


def _webhook_secret(platform: str) -> str:
    return f"{platform}-webhook-secret"
