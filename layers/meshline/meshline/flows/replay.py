"""Replay stored exports, and dry-run a draft policy against a tenant's recent orders."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import Field

from meshline.dal.exports import ExportStore, StoredExport
from meshline.dal.tenants import TenantStore
from meshline.domain.exports import Export
from meshline.domain.policy import PolicyDraft, TenantPolicy
from meshline.domain.replay import FieldDifference, decision_changes, differences, redecide
from meshline.domain.types import Model


class ReplayResult(Model):
    export_id: str
    reproduced: bool = Field(description="The engine decided exactly the stored export again, byte for byte.")
    differences: list[FieldDifference] = Field(default_factory=list)
    problem: str | None = Field(default=None, description="Why it could not be replayed at all.")


class Replayer:
    def __init__(self, exports: ExportStore, tenants: TenantStore):
        self.exports, self.tenants = exports, tenants

    def replay(self, stored: StoredExport) -> ReplayResult:
        document = stored.document
        export_id = str(document.get("export_id"))
        if stored.inputs is None:
            return ReplayResult(export_id=export_id, reproduced=False, problem="no decision inputs were recorded with this export")
        export = Export.model_validate(document)
        previous = None
        if export.version > 1:
            before = self.exports.stored(export.tenant_id, export.order_id, export.version - 1)
            if before is None:
                return ReplayResult(export_id=export_id, reproduced=False, problem=f"version {export.version - 1} is missing")
            previous = before.export
        policy = self.tenants.policy_version(export.tenant_id, export.decision_version.policy_version)
        replayed = redecide(export, stored.inputs, policy, previous).model_dump(mode="json")
        found = differences(document, replayed)
        return ReplayResult(export_id=export_id, reproduced=not found, differences=found)

    def replay_version(self, tenant_id: str, order_id: str, version: int | None = None) -> ReplayResult:
        stored = (
            self.exports.latest_stored(tenant_id, order_id)
            if version is None
            else self.exports.stored(tenant_id, order_id, version)
        )
        if stored is None:
            which = f"version {version}" if version else "any export"
            return ReplayResult(
                export_id=f"{tenant_id}:{order_id}:v{version or '?'}", reproduced=False, problem=f"no {which} is stored"
            )
        return self.replay(stored)

    def replay_all(self) -> Iterable[ReplayResult]:
        for stored in self.exports.every_stored():
            yield self.replay(stored)


class ChangedDecision(Model):
    order_id: str
    export_id: str = Field(description="The current export the draft would decide differently.")
    changes: list[FieldDifference]


class DryRunReport(Model):
    tenant_id: str
    active_version: int
    draft_version: int = Field(description="The version the draft would get if it were put now.")
    orders_evaluated: int
    changed: list[ChangedDecision] = Field(description="Orders whose decision would change, newest first.")
    unchanged: list[str]
    skipped: dict[str, str] = Field(description="Orders that could not be evaluated, and why.")


def dry_run(exports: ExportStore, tenants: TenantStore, tenant_id: str, draft: PolicyDraft, last: int) -> DryRunReport:
    """Decide the tenant's last `last` orders again under `draft`, from exactly what their
    latest exports were decided from, and report every decision that would change."""
    active = tenants.active_policy(tenant_id)
    if active is None:
        from meshline.dal.tenants import UnknownTenant

        raise UnknownTenant(tenant_id)
    candidate = TenantPolicy.from_draft(draft, tenant_id, tenants.next_version(tenant_id))
    changed, unchanged, skipped = [], [], {}
    order_ids = exports.recent_orders(tenant_id, last)
    for order_id in order_ids:
        stored = exports.latest_stored(tenant_id, order_id)
        if stored is None or stored.inputs is None:
            skipped[order_id] = "no decision inputs recorded"
            continue
        export = stored.export
        previous = None
        if export.version > 1:
            before = exports.stored(tenant_id, order_id, export.version - 1)
            previous = before.export if before else None
        decided_now = redecide(export, stored.inputs, candidate, previous).model_dump(mode="json")
        changes = decision_changes(stored.document, decided_now)
        if changes:
            changed.append(ChangedDecision(order_id=order_id, export_id=export.export_id, changes=changes))
        else:
            unchanged.append(order_id)
    return DryRunReport(
        tenant_id=tenant_id,
        active_version=active.version,
        draft_version=candidate.version,
        orders_evaluated=len(order_ids) - len(skipped),
        changed=changed,
        unchanged=unchanged,
        skipped=skipped,
    )
