"""boto3 clients, created lazily and once per process.

No client is built at import time, so a cold start pays only for the clients a request
uses. boto3 reads AWS_ENDPOINT_URL itself, which is how the local stack points every
client at moto.

Inside `acting_for(role, tenant)`, every client is one of a session of `role` tagged with
the tenant (STS session tags), so IAM itself keeps the calls to that tenant's keys (the
role's policy names them through `${aws:PrincipalTag/tenant}`): the data layer's scope
check, and then IAM's, both have to be wrong for one tenant to read another's data.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from typing import Any

SESSION_SECONDS = 3600
RENEW_BEFORE_SECONDS = 300  # a session is renewed when less than this is left of it


def _config() -> Any:
    from botocore.config import Config

    return Config(retries={"mode": "standard", "max_attempts": 5})


@dataclass
class TenantSession:
    tenant_id: str
    expires_at: float
    session: Any
    clients: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)  # a boto3 Session is not thread-safe

    def client(self, service: str) -> Any:
        with self.lock:
            if service not in self.clients:
                self.clients[service] = self.session.client(service, config=_config())
            return self.clients[service]


_acting_for: ContextVar[TenantSession | None] = ContextVar("meshline_tenant_session", default=None)
_tenant_sessions: dict[tuple[str, str], TenantSession] = {}


def client(service: str) -> Any:
    session = _acting_for.get()
    return session.client(service) if session is not None else _own_client(service)


_own_lock = threading.Lock()  # a boto3 Session is not thread-safe (a report's threads make clients)


@cache
def _botocore_session() -> Any:
    import botocore.session

    return botocore.session.get_session()


@cache
def _own_session() -> Any:
    """One session for all of the function's own clients: each new session reads the
    endpoint rules and service models again (about 40 ms a client at a cold start)."""
    import boto3

    return boto3.session.Session(botocore_session=_botocore_session())


@cache
def _own_client(service: str) -> Any:
    with _own_lock:
        return _own_session().client(service, config=_config())


@cache
def ssm_parameters() -> Any:
    """Powertools' SSM provider (its cache, `max_age`, decryption) on the function's own
    client; its module-level functions would build a session of their own."""
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    return SSMProvider(boto3_client=_own_client("ssm"))


def _tenant_session(role_arn: str, tenant_id: str) -> TenantSession:
    key = (role_arn, tenant_id)
    known = _tenant_sessions.get(key)
    if known is not None and known.expires_at - time.time() > RENEW_BEFORE_SECONDS:
        return known
    import boto3
    import botocore.session

    credentials = _own_client("sts").assume_role(
        RoleArn=role_arn,
        RoleSessionName=f"tenant-{tenant_id}"[:64],
        DurationSeconds=SESSION_SECONDS,
        Tags=[{"Key": "tenant", "Value": tenant_id}],
    )["Credentials"]
    core = botocore.session.get_session()
    # The models and endpoint rules the function's own session already read, not read again.
    core.register_component("data_loader", _botocore_session().get_component("data_loader"))
    session = boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        botocore_session=core,
    )
    _tenant_sessions[key] = known = TenantSession(tenant_id, credentials["Expiration"].timestamp(), session)
    return known


@contextmanager
def acting_for(role_arn: str | None, tenant_id: str) -> Iterator[None]:
    """AWS calls inside go with a session of `role_arn` tagged `tenant=<tenant_id>`; with
    no role (the local tools, the flows that serve every tenant), with the function's own."""
    if role_arn is None:
        yield
        return
    token = _acting_for.set(_tenant_session(role_arn, tenant_id))
    try:
        yield
    finally:
        _acting_for.reset(token)


def reset() -> None:
    for cached in (_own_client, _own_session, _botocore_session, ssm_parameters):
        cached.cache_clear()
    _tenant_sessions.clear()
