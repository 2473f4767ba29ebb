"""Manual overrides: a person changes a decision, with a reason, a justification and a signature.

The operator signs exactly what they decided (`signed_payload`): the order, the version
they saw, the reason code, the justification and the line changes. The signature is
made with the operator's own KMS key, which only they may use, and is kept in the export
with the key's id, so anyone with kms:Verify can check it later from the export alone.
An override against a version that is no longer current is refused (the operator saw
something else). Some overrides need a second operator's signature, as the policy says.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ConfigDict, Field, PositiveInt

from meshline.domain.exports import Export, IntendedAction, LineChange, OperatorSignature, OverrideRecord
from meshline.domain.policy import TenantPolicy
from meshline.domain.types import Model


class OverrideRequest(Model):
    """What an operator submits to change an order's current decision."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    expected_version: PositiveInt = Field(description="The version being changed; 409 if it is no longer current.")
    reason_code: str = Field(pattern=r"^[a-z][a-z_]{1,39}$", description="e.g. 'manual_reroute', 'customer_request'.")
    justification: str = Field(min_length=10, max_length=2000, description="Why, in words, for the audit.")
    changes: list[LineChange] = Field(min_length=1, description="Lines whose assignment changes; others stay.")
    signed_by: OperatorSignature
    approved_by: OperatorSignature | None = None

    def record(self) -> OverrideRecord:
        return OverrideRecord(
            expected_version=self.expected_version,
            reason_code=self.reason_code,
            changes=self.changes,
            signed_by=self.signed_by,
            approved_by=self.approved_by,
        )


def signed_payload(
    tenant_id: str, order_id: str, expected_version: int, reason_code: str, justification: str, changes: list[LineChange]
) -> bytes:
    """The bytes an operator signs: canonical JSON (sorted keys, no spaces, UTF-8)."""
    document: dict[str, Any] = {
        "tenant_id": tenant_id,
        "order_id": order_id,
        "expected_version": expected_version,
        "reason_code": reason_code,
        "justification": justification,
        "changes": [change.model_dump(mode="json") for change in changes],
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def payload_of(export: Export) -> bytes:
    """What the override's signatures in a stored export must verify against."""
    if export.override is None or export.justification is None:
        raise ValueError(f"{export.export_id} is not a manual override")
    record = export.override
    return signed_payload(export.tenant_id, export.order_id, record.expected_version, record.reason_code,
                          export.justification, record.changes)


class OverrideRefused(ValueError):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def check_override(request: OverrideRequest, current: Export, policy: TenantPolicy) -> None:
    """Refuse what cannot be applied: unknown lines or warehouses, a missing or
    self-approved second signature where the policy asks for one."""
    known_lines = {line.line_id for line in current.lines}
    unknown = [change.line_id for change in request.changes if change.line_id not in known_lines]
    if unknown:
        raise OverrideRefused(f"changes: order {current.order_id} has no line {', '.join(unknown)}")
    warehouses = set(policy.warehouse_ids_sorted)
    strangers = sorted({c.warehouse_id for c in request.changes if c.warehouse_id and c.warehouse_id not in warehouses})
    if strangers:
        raise OverrideRefused(f"changes: warehouse {', '.join(strangers)} is not in policy version {policy.version}")
    changed = [change.line_id for change in request.changes]
    if len(set(changed)) != len(changed):
        raise OverrideRefused("changes: each line may be changed once")


def needs_second_approver(policy: TenantPolicy, request: OverrideRequest, resulting: IntendedAction) -> bool:
    asked = set(policy.overrides.second_approver_for)
    return bool(asked & {request.reason_code, str(resulting)})


def check_approval(policy: TenantPolicy, request: OverrideRequest, resulting: IntendedAction) -> None:
    if not needs_second_approver(policy, request, resulting):
        return
    if request.approved_by is None:
        raise OverrideRefused(
            f"policy version {policy.version} requires a second approver for '{request.reason_code}' / '{resulting}': "
            "add approved_by, signed by another operator", status=403,
        )
    if request.approved_by.operator == request.signed_by.operator:
        raise OverrideRefused("approved_by must be a different operator from signed_by", status=403)
