"""Per-tenant webhook secrets and source settings, through Powertools parameters (SSM, cached).

A webhook secret can be rotated without losing deliveries: the new secret becomes
`<platform>-webhook-secret`, and the one it replaces moves to
`<platform>-webhook-secret-previous` with the end of its overlap; until then both verify
(shops keep signing with the old one for a while: Shopify for up to an hour), afterwards
only the new one. Both are read in one GetParametersByPath per tenant, cached for
SECRET_CACHE_SECONDS, so a retired secret stops verifying at most that long after its end.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

SECRET_CACHE_SECONDS = 300
PREVIOUS = "-previous"


class SecretNotFound(LookupError):
    pass


def webhook_secrets(prefix: str, tenant_id: str, platform: str, now: datetime) -> list[str]:
    """The secrets that verify this tenant's webhooks from this platform at `now`, newest first."""
    name = _webhook_secret(platform)
    parameters, GetParameterError = _parameters()
    try:
        found = parameters.get_parameters(f"{prefix}/{tenant_id}", decrypt=True,
                                          max_age=SECRET_CACHE_SECONDS, raise_on_transform_error=False)
    except GetParameterError as error:
        if "ParameterNotFound" in str(error.__cause__ or error):
            raise SecretNotFound(tenant_path(prefix, tenant_id, name)) from None
        raise
    if name not in found:
        raise SecretNotFound(tenant_path(prefix, tenant_id, name))
    secrets = [str(found[name])]
    previous = found.get(f"{name}{PREVIOUS}")
    if previous:
        retiring = json.loads(previous)
        if now < datetime.fromisoformat(retiring["until"]):
            secrets.append(retiring["secret"])
    return secrets


def rotate_webhook_secret(prefix: str, tenant_id: str, platform: str, new_secret: str, now: datetime,
                          overlap: timedelta) -> datetime:
    """Make `new_secret` current; the current one keeps verifying until the returned time."""
    from meshline.dal.aws import client

    ssm, name = client("ssm"), parameter_name(prefix, tenant_id, platform)
    try:
        current = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        raise SecretNotFound(name) from None
    until = now + overlap
    retiring = json.dumps({"secret": current, "until": until.isoformat()})
    ssm.put_parameter(Name=f"{name}{PREVIOUS}", Value=retiring, Type="SecureString", Overwrite=True)
    ssm.put_parameter(Name=name, Value=new_secret, Type="SecureString", Overwrite=True)
    return until


def tenant_parameter(prefix: str, tenant_id: str, name: str) -> str:
    """`<prefix>/<tenant_id>/<name>`, decrypted when it is a SecureString; SecretNotFound
    (naming the parameter, never its value) when it does not exist."""
    path = tenant_path(prefix, tenant_id, name)
    parameters, GetParameterError = _parameters()
    try:
        value = parameters.get_parameter(path, decrypt=True, max_age=SECRET_CACHE_SECONDS)
    except GetParameterError as error:
        if "ParameterNotFound" in str(error.__cause__ or error):
            raise SecretNotFound(path) from None
        raise
    return str(value)


def _parameters():
    """Powertools' parameters utility, imported when a secret is first read: its package
    imports boto3 and its AppConfig, Secrets Manager and DynamoDB providers, which the
    functions that import this module only need once they verify a webhook."""
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    return parameters, GetParameterError


def tenant_path(prefix: str, tenant_id: str, name: str) -> str:
    return f"{prefix}/{tenant_id}/{name}"


def parameter_name(prefix: str, tenant_id: str, platform: str) -> str:
    """Where this tenant's webhook secret for this platform lives."""
    return tenant_path(prefix, tenant_id, _webhook_secret(platform))


def _webhook_secret(platform: str) -> str:
    return f"{platform}-webhook-secret"
