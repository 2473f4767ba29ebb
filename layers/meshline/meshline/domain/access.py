"""Who may see and do what: credentials, roles and the object-level checks (OWASP API1).

A caller presents `Authorization: Bearer mlk_<credential id>.<secret>`. The credential
names its role and the tenants it acts within:
- `operator`: an agency person (`agency:alice`): reads every object of its tenants,
  overrides, administers their policies;
- `warehouse`: one warehouse of its tenants: acknowledges and reads only the exports that
  name it.
Platforms never hold a credential: their webhooks are authenticated by signature.

Anything a caller may not see does not exist for it: the checks raise `NotVisible`, which
the API answers 404, the same as a missing object, so probing reveals nothing. A role
that may never use an endpoint gets `NotAllowed` (403): that says nothing about objects.

Only a sha256 of each secret is stored. A secret is 256 random bits, so its hash cannot be
reversed or guessed, and no slow hash is needed; the secret itself is shown once, at issue.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import ConfigDict, Field

from meshline.domain.types import Model, Party, TenantId, UtcDatetime, WarehouseId

TOKEN_PREFIX = "mlk_"
CREDENTIAL_ID_PATTERN = r"^[a-z0-9]{12,40}$"


class Role(StrEnum):
    OPERATOR = "operator"
    WAREHOUSE = "warehouse"


class NotVisible(LookupError):
    """The object does not exist for this caller (answered 404, like a missing one)."""


class NotAllowed(PermissionError):
    """The caller's role may not do this at all (answered 403)."""


class Unauthenticated(ValueError):
    """No credential, a malformed one, or one that does not verify (answered 401)."""


class Caller(Model):
    """The authenticated caller, as the authorizer hands it to every handler."""

    model_config = ConfigDict(frozen=True)

    credential_id: str = Field(pattern=CREDENTIAL_ID_PATTERN)
    role: Role
    party: Party = Field(description="Who acts, for the audit trail: 'agency:alice', '3pl:east-logistics'.")
    tenants: tuple[TenantId, ...] = Field(min_length=1)
    warehouse_id: WarehouseId | None = None

    def can_see_tenant(self, tenant_id: str) -> bool:
        return tenant_id in self.tenants

    def require_tenant(self, tenant_id: str, what: str) -> None:
        if not self.can_see_tenant(tenant_id):
            raise NotVisible(what)

    def require_role(self, role: Role, doing: str) -> None:
        if self.role is not role:
            raise NotAllowed(f"{_a(self.role)} credential cannot {doing}; it takes {_a(role)} credential")

    def can_see_warehouses(self, tenant_id: str, warehouses: Iterable[str]) -> bool:
        """An export, answer or history entry is visible to a warehouse only if it names it."""
        if not self.can_see_tenant(tenant_id):
            return False
        return self.role is Role.OPERATOR or self.warehouse_id in set(warehouses)

    def to_context(self) -> dict[str, str]:
        """API Gateway passes only flat string values from an authorizer to the handlers."""
        return {
            "credential_id": self.credential_id,
            "role": str(self.role),
            "party": self.party,
            "tenants": ",".join(self.tenants),
            "warehouse_id": self.warehouse_id or "",
        }

    @classmethod
    def from_context(cls, context: dict) -> Caller:
        return cls(
            credential_id=context["credential_id"],
            role=context["role"],
            party=context["party"],
            tenants=tuple(t for t in str(context["tenants"]).split(",") if t),
            warehouse_id=context.get("warehouse_id") or None,
        )


def _a(role: Role) -> str:
    return f"an {role}" if role is Role.OPERATOR else f"a {role}"


class SecretHash(Model):
    model_config = ConfigDict(frozen=True)

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    issued_at: UtcDatetime
    retires_at: UtcDatetime | None = Field(default=None, description="After a rotation: the end of the overlap.")

    def live(self, now: datetime) -> bool:
        return self.retires_at is None or now < self.retires_at


class Credential(Model):
    """A stored credential: who it is, what it may reach, and the hashes of its secrets."""

    model_config = ConfigDict(frozen=True)

    caller: Caller
    secrets: tuple[SecretHash, ...] = Field(min_length=1, max_length=2)
    usage_key: str = Field(min_length=20, description="Its API Gateway API key value, for its usage plan's rate limit. Never sent by callers.")
    revoked_at: UtcDatetime | None = None

    def admits(self, secret: str, now: datetime) -> bool:
        if self.revoked_at is not None and now >= self.revoked_at:
            return False
        offered = hash_secret(secret)
        # Every live hash is compared, so the time taken does not tell which one matched.
        matches = [hmac.compare_digest(offered, stored.sha256) for stored in self.secrets if stored.live(now)]
        return any(matches)

    def rotated(self, new_secret: str, now: datetime, overlap: timedelta) -> Credential:
        """The new secret verifies from now on; the current one until `now + overlap`, then never."""
        current = [s for s in self.secrets if s.live(now) and s.retires_at is None]
        retiring = tuple(SecretHash(sha256=s.sha256, issued_at=s.issued_at, retires_at=now + overlap) for s in current[-1:])
        fresh = SecretHash(sha256=hash_secret(new_secret), issued_at=now)
        return self.model_copy(update={"secrets": (*retiring, fresh)})

    def revoked(self, now: datetime) -> Credential:
        return self.model_copy(update={"revoked_at": now})


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_credential_id() -> str:
    return secrets.token_hex(8)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def token_for(credential_id: str, secret: str) -> str:
    return f"{TOKEN_PREFIX}{credential_id}.{secret}"


def parse_token(authorization: str | None) -> tuple[str, str]:
    """`Bearer mlk_<id>.<secret>` -> (id, secret); Unauthenticated with what is wrong."""
    if not authorization:
        raise Unauthenticated("no Authorization header: send 'Authorization: Bearer mlk_<id>.<secret>'")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX):
        raise Unauthenticated("the Authorization header is not 'Bearer mlk_<id>.<secret>'")
    credential_id, dot, secret = token[len(TOKEN_PREFIX):].partition(".")
    if not dot or not secret or not credential_id.isalnum():
        raise Unauthenticated("the credential is malformed: expected mlk_<id>.<secret>")
    return credential_id, secret
