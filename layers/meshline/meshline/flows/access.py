"""Authenticating a caller's bearer credential against the stored hashes."""

from __future__ import annotations

from datetime import datetime

from meshline.dal.credentials import CredentialStore
from meshline.domain.access import Credential, Unauthenticated, parse_token
from meshline.settings import AuthorizerSettings


def authenticate(settings: AuthorizerSettings, authorization: str | None, now: datetime) -> Credential:
    credential_id, secret = parse_token(authorization)
    credential = CredentialStore(settings.tenants_table).get(credential_id)
    if credential is None:
        raise Unauthenticated(f"no credential '{credential_id}'")
    if not credential.admits(secret, now):
        raise Unauthenticated(f"credential '{credential_id}' is revoked, retired or its secret does not match")
    return credential
