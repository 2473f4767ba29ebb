"""Onboarding: a merchant (tenant) with its platform secrets, warehouses and first policy,
and the credentials of its operators and warehouses (issue, rotate, revoke).

A tenant is onboarded in steps that can each be repeated: its warehouses' queues
(created idempotently), its platform secrets (SSM SecureString), then its first policy
version, whose conditional write is the commit: a tenant with a policy is onboarded, and
onboarding it again is a 409. A failure half-way is retried from the start.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import Field, SecretStr, model_validator

from meshline.dal.aws import client
from meshline.dal.credentials import CredentialStore
from meshline.dal.publication import warehouse_queue_name
from meshline.dal.secrets import SecretNotFound, parameter_name, rotate_webhook_secret
from meshline.dal.tenants import TenantStore, UnknownTenant
from meshline.domain.access import Credential, Role
from meshline.domain.policy import PolicyDraft
from meshline.domain.types import Model, Party, TenantId, UtcDatetime, WarehouseId
from meshline.settings import OnboardingSettings


class Platform(StrEnum):
    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"
    GENERIC = "generic"
    BIGCOMMERCE = "bigcommerce"  # its store and API token are put beside it (docs/SOURCES.md)


# What SSM can store and a platform would plausibly use (Shopify's are 64 hex characters).
WebhookSecret = Annotated[SecretStr, Field(min_length=8, max_length=4096)]


class TenantOnboarding(Model):
    tenant_id: TenantId
    policy: PolicyDraft = Field(description="The first policy version: warehouses, rules, owners, exception paths.")
    platform_secrets: dict[Platform, WebhookSecret] = Field(
        min_length=1, description="Webhook signing secret per platform the merchant sends from; stored in SSM, never shown again.")


class TenantOnboarded(Model):
    tenant_id: str
    policy_version: int
    policy_hash: str
    warehouse_queues: list[str] = Field(description="The FIFO queue each warehouse pulls its exports from.")
    platforms: list[Platform]


class CredentialRequest(Model):
    role: Role
    party: Party = Field(description="Who will act with it: 'agency:alice', or a warehouse's operator '3pl:east-logistics'.")
    tenants: list[TenantId] = Field(min_length=1, max_length=100)
    warehouse_id: WarehouseId | None = Field(default=None, description="Required for a warehouse credential; its only warehouse.")

    @model_validator(mode="after")
    def _warehouse_matches_role(self) -> CredentialRequest:
        if self.role is Role.WAREHOUSE and self.warehouse_id is None:
            raise ValueError("warehouse_id is required for a warehouse credential")
        if self.role is Role.OPERATOR and self.warehouse_id is not None:
            raise ValueError("warehouse_id is only for warehouse credentials")
        return self


class CredentialIssued(Model):
    credential_id: str
    role: Role
    party: str
    tenants: list[str]
    warehouse_id: str | None
    token: str = Field(description="Send as 'Authorization: Bearer <token>'. Shown once: Meshline keeps only its hash.")
    previous_secret_retires_at: UtcDatetime | None = Field(
        default=None, description="After a rotation: until then the previous token works too.")


class CredentialRevoked(Model):
    credential_id: str
    revoked_at: UtcDatetime


class SecretRotation(Model):
    secret: WebhookSecret = Field(description="The new signing secret, as configured in the platform.")
    overlap_hours: int = Field(default=24, ge=1, le=168,
                               description="How long the secret it replaces keeps verifying (the platform's own retries may use it).")


class SecretRotated(Model):
    tenant_id: str
    platform: Platform
    previous_valid_until: UtcDatetime


class TenantExists(RuntimeError):
    pass


class UnknownWarehouse(ValueError):
    pass


class Onboarding:
    def __init__(self, settings: OnboardingSettings):
        self.settings = settings
        self.tenants = TenantStore(settings.tenants_table)
        self.credentials = CredentialStore(settings.tenants_table, settings.usage_plan_name)

    def onboard(self, request: TenantOnboarding, actor: str, now: datetime) -> TenantOnboarded:
        if self.tenants.active_policy(request.tenant_id) is not None:
            raise TenantExists(f"tenant '{request.tenant_id}' is already onboarded: change it with a new policy version")
        queues = []
        for warehouse in request.policy.warehouses:
            name = warehouse_queue_name(self.settings.stage, request.tenant_id, warehouse.warehouse_id)
            client("sqs").create_queue(QueueName=name, Attributes={
                "FifoQueue": "true", "ContentBasedDeduplication": "false", "SqsManagedSseEnabled": "true"})
            queues.append(name)
        for platform, secret in sorted(request.platform_secrets.items()):
            client("ssm").put_parameter(
                Name=parameter_name(self.settings.tenant_parameter_prefix, request.tenant_id, platform),
                Value=secret.get_secret_value(), Type="SecureString", Overwrite=True)
        policy = self.tenants.put_policy(request.tenant_id, request.policy, expected_version=None, actor=actor, now=now)
        return TenantOnboarded(tenant_id=request.tenant_id, policy_version=policy.version, policy_hash=policy.policy_hash,
                               warehouse_queues=queues, platforms=sorted(request.platform_secrets))

    def rotate_webhook_secret(self, tenant_id: str, platform: Platform, request: SecretRotation,
                              now: datetime) -> SecretRotated:
        try:
            until = rotate_webhook_secret(self.settings.tenant_parameter_prefix, tenant_id, platform,
                                          request.secret.get_secret_value(), now, timedelta(hours=request.overlap_hours))
        except SecretNotFound:
            raise UnknownTenant(tenant_id) from None
        return SecretRotated(tenant_id=tenant_id, platform=platform, previous_valid_until=until)

    def issue(self, request: CredentialRequest, now: datetime) -> CredentialIssued:
        for tenant_id in request.tenants:
            policy = self.tenants.active_policy(tenant_id)
            if policy is None:
                raise UnknownTenant(tenant_id)
            if request.warehouse_id and request.warehouse_id not in {w.warehouse_id for w in policy.warehouses}:
                raise UnknownWarehouse(f"tenant '{tenant_id}' has no warehouse '{request.warehouse_id}'")
        credential, token = self.credentials.issue(request.model_dump(mode="json"), now)
        return _issued(credential, token)

    def rotate(self, credential_id: str, now: datetime) -> CredentialIssued:
        overlap = timedelta(hours=self.settings.rotation_overlap_hours)
        credential, token = self.credentials.rotate(credential_id, now, overlap)
        retiring = [s.retires_at for s in credential.secrets if s.retires_at is not None]
        return _issued(credential, token, max(retiring) if retiring else None)

    def revoke(self, credential_id: str, now: datetime) -> CredentialRevoked:
        credential = self.credentials.revoke(credential_id, now)
        return CredentialRevoked(credential_id=credential_id, revoked_at=credential.revoked_at or now)


def _issued(credential: Credential, token: str, retires_at: datetime | None = None) -> CredentialIssued:
    caller = credential.caller
    return CredentialIssued(credential_id=caller.credential_id, role=caller.role, party=caller.party,
                            tenants=list(caller.tenants), warehouse_id=caller.warehouse_id, token=token,
                            previous_secret_retires_at=retires_at)
