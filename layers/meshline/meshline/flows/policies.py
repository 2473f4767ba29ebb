"""Policy administration: put a new version (active, or a candidate for a canary), activate a
stored version, read versions, dry-run a draft, replay an order."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from meshline.dal.exports import ExportStore
from meshline.dal.scope import Scope
from meshline.dal.tenants import TenantStore, UnknownTenant
from meshline.domain.policy import PolicyDraft, PolicyVersionSummary, TenantPolicy
from meshline.domain.types import Model
from meshline.flows.replay import DryRunReport, Replayer, ReplayResult, dry_run
from meshline.settings import PolicyAdminSettings


class PutPolicyRequest(Model):
    expected_version: int | None = Field(
        ge=1,
        description="The active version this change is based on (null for a tenant's first policy); "
        "a stale value is refused with 409, so two operators cannot overwrite each other."
    )
    policy: PolicyDraft
    activate: bool = Field(
        default=True,
        description="false stores the version without activating it: a candidate, which the policy_canary feature "
        "flag can give a percentage of the tenant's orders (docs/POLICY.md); expected_version must still be the active "
        "version. A tenant's first policy is always activated.",
    )


class PolicyVersionCreated(Model):
    tenant_id: str
    version: int
    policy_hash: str
    active: bool = Field(description="Whether this version is now the active one (false: stored as a candidate).")


class ActivationRequest(Model):
    expected_version: int = Field(
        ge=1, description="The active version this change replaces; a stale value is refused with 409."
    )


class DryRunRequest(Model):
    policy: PolicyDraft
    last: int = Field(default=200, ge=1, description="How many of the tenant's most recent orders to evaluate.")


class PolicyAdministration:
    def __init__(self, settings: PolicyAdminSettings, scope: Scope):
        self.settings = settings
        self.tenants = TenantStore(settings.tenants_table, scope)
        self.exports = ExportStore(settings.exports_table, scope)

    def put(self, tenant_id: str, request: PutPolicyRequest, actor: str, now: datetime) -> PolicyVersionCreated:
        policy = self.tenants.put_policy(tenant_id, request.policy, request.expected_version, actor, now, request.activate)
        return PolicyVersionCreated(tenant_id=tenant_id, version=policy.version, policy_hash=policy.policy_hash,
                                    active=request.activate)

    def activate(self, tenant_id: str, version: int, request: ActivationRequest) -> TenantPolicy:
        return self.tenants.activate(tenant_id, version, request.expected_version)

    def active(self, tenant_id: str) -> TenantPolicy:
        policy = self.tenants.active_policy(tenant_id)
        if policy is None:
            raise UnknownTenant(tenant_id)
        return policy

    def versions(self, tenant_id: str) -> list[PolicyVersionSummary]:
        versions = self.tenants.policy_versions(tenant_id)
        if not versions:
            raise UnknownTenant(tenant_id)
        return versions

    def version(self, tenant_id: str, version: int) -> TenantPolicy:
        return self.tenants.policy_version(tenant_id, version)

    def dry_run(self, tenant_id: str, request: DryRunRequest) -> DryRunReport:
        if request.last > self.settings.max_dry_run_orders:
            raise ValueError(f"last: at most {self.settings.max_dry_run_orders} orders per dry run, got {request.last}")
        return dry_run(self.exports, self.tenants, tenant_id, request.policy, request.last)

    def replay(self, tenant_id: str, order_id: str, version: int | None) -> ReplayResult:
        return Replayer(self.exports, self.tenants).replay_version(tenant_id, order_id, version)
