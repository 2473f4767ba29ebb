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
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from meshline.dal.aws import client, ssm_parameters

SECRET_CACHE_SECONDS = 300
PREVIOUS = "-previous"


class SecretNotFound(LookupError):
    pass


def webhook_secrets(prefix: str, tenant_id: str, platform: str, now: datetime) -> list[str]:
    """The secrets that verify this tenant's webhooks from this platform at `now`, newest first."""
    name = _webhook_secret(platform)
    found = _read(lambda ssm: ssm.get_multiple(f"{prefix}/{tenant_id}", decrypt=True, max_age=SECRET_CACHE_SECONDS,
                                               raise_on_transform_error=False), tenant_path(prefix, tenant_id, name))
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
    return str(_read(lambda ssm: ssm.get(path, decrypt=True, max_age=SECRET_CACHE_SECONDS), path))


def _read(read: Callable[[Any], Any], path: str) -> Any:
    """`read(provider)`; SecretNotFound naming `path` when SSM has no such parameter."""
    # Imported with the provider, at the first read: the parameters package imports boto3.
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    try:
        return read(ssm_parameters())
    except GetParameterError as error:
        if "ParameterNotFound" in str(error.__cause__ or error):
            raise SecretNotFound(path) from None
        raise


def tenant_path(prefix: str, tenant_id: str, name: str) -> str:
    return f"{prefix}/{tenant_id}/{name}"


def parameter_name(prefix: str, tenant_id: str, platform: str) -> str:
    """Where this tenant's webhook secret for this platform lives."""
    return tenant_path(prefix, tenant_id, _webhook_secret(platform))


def _webhook_secret(platform: str) -> str:
    return f"{platform}-webhook-secret"
