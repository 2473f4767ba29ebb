"""The export: one immutable, versioned decision for one order at one point in time.

An export never changes once built. A new decision is a new version whose `supersedes`
names the previous export and carries its hash, so a chain verifies end to end.
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Any, Literal

from pydantic import ConfigDict, Field, PositiveInt, model_validator
from pydantic_core import to_json

from meshline.domain.types import Model, OrderId, Party, Sha256Hex, TenantId, UtcDatetime, WarehouseId

EXPORT_SCHEMA_ID = "https://meshline.dev/schemas/export.schema.json"


EXPORT_ID_PATTERN = r"^[a-z0-9-]+:[a-z]+-[A-Za-z0-9_.-]+:v[0-9]+$"


class IntendedAction(StrEnum):
    ROUTE = "route"
    SPLIT = "split"
    BACKORDER = "backorder"
    HOLD_FOR_REVIEW = "hold_for_review"
    CANCEL = "cancel"
    NOTHING_TO_SHIP = "nothing_to_ship"


class LineAction(StrEnum):
    SHIP = "ship"
    BACKORDER = "backorder"
    CANCEL = "cancel"
    NO_SHIPPING = "no_shipping"
    HOLD = "hold"  # rejected and not re-routed: a person decides (the exception path says who)


class ExceptionKind(StrEnum):
    AUTO_RETRY = "auto_retry"
    AUTO_ESCALATE = "auto_escalate"
    HUMAN_QUEUE = "human_queue"


class TriggerKind(StrEnum):
    ORDER_CREATED = "order_created"
    INVENTORY_CHANGED = "inventory_changed"
    WAREHOUSE_REJECTED = "warehouse_rejected"
    SLA_LAPSING = "sla_lapsing"
    MANUAL_OVERRIDE = "manual_override"
    ORDER_CANCELLED = "order_cancelled"
    ESCALATION_BREACHED = "escalation_breached"


class _Frozen(Model):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Trigger(_Frozen):
    """What caused this decision; its id makes the decision idempotent."""

    kind: TriggerKind
    trigger_id: str = Field(min_length=1, max_length=256, description="Business key of the trigger.")
    source: str = Field(min_length=1, description="e.g. 'shopify:orders/create'.")
    received_at: UtcDatetime
    delivery_ids: dict[str, str] = Field(
        default_factory=dict, description="Platform delivery identifiers, e.g. Shopify's event and webhook ids."
    )


class Supersedes(_Frozen):
    export_id: str
    content_hash: Sha256Hex


class AckLink(_Frozen):
    """The acknowledgements recorded against the superseded version: how many, and the
    hash of the last one, which names the one before it, back to that export."""

    count: PositiveInt
    last_hash: Sha256Hex


class DecisionVersion(_Frozen):
    policy_version: PositiveInt = Field(description="The tenant policy version the decision was made under.")
    policy_hash: Sha256Hex = Field(description="sha256 of that policy version's canonical JSON.")
    engine: str = Field(min_length=1, description="Version of the routing engine's rules.")
    inputs_hash: Sha256Hex = Field(
        description="sha256 of the canonical JSON of every input: order, stock read, policy hash, trigger, previous export, clock."
    )


class ExportLine(_Frozen):
    line_id: str = Field(min_length=1)
    sku: str = Field(min_length=1)
    quantity: PositiveInt
    action: LineAction
    warehouse_id: WarehouseId | None = Field(
        default=None,
        description="Set when action is 'ship'; on 'cancel', the warehouse asked to cancel a line it had been sent.",
    )

    @model_validator(mode="after")
    def _warehouse_iff_shipped(self) -> ExportLine:
        if self.action is LineAction.SHIP and self.warehouse_id is None:
            raise ValueError(f"line {self.line_id}: a shipped line needs a warehouse_id")
        if self.action not in (LineAction.SHIP, LineAction.CANCEL) and self.warehouse_id is not None:
            raise ValueError(f"line {self.line_id}: only a shipped or cancelled line names a warehouse")
        return self


class PickWindow(_Frozen):
    start: UtcDatetime
    end: UtcDatetime


class Sla(_Frozen):
    service_level: str | None = Field(default=None, description="The order's service level.")
    ship_by: UtcDatetime | None = Field(default=None, description="The earliest ship-by among the shipments.")
    pick_window: PickWindow | None = None
    promised_by: UtcDatetime | None = Field(default=None, description="Promise date for backordered lines.")
    acknowledge_by: UtcDatetime | None = Field(
        default=None, description="Warehouses sent lines must answer (received or accepted) by then, or the sweep acts."
    )


class Shipment(_Frozen):
    """What one warehouse must dispatch, and by when."""

    warehouse_id: WarehouseId
    line_ids: list[str] = Field(min_length=1)
    ship_by: UtcDatetime
    pick_window: PickWindow


class EscalationContact(_Frozen):
    contact: str = Field(min_length=3)
    within_minutes: PositiveInt


class ExceptionPath(_Frozen):
    on: str = Field(min_length=1, description="The policy's exception rule this path comes from.")
    kind: ExceptionKind
    fallback: str = Field(min_length=1, description="What happens when the retry budget is spent.")
    contacts: list[str] = Field(default_factory=list)
    retry_budget: int = Field(ge=0, description="Automatic attempts left before escalation.")
    ladder: list[EscalationContact] = Field(default_factory=list, description="Who is escalated to, in order.")


class Instruction(_Frozen):
    line_id: str | None = Field(default=None, description="None when it applies to the whole order.")
    kind: str = Field(min_length=1, description="e.g. 'packing', 'gift_wrap', 'promotional_insert'.")
    text: str = Field(min_length=1)


class CandidateExplanation(_Frozen):
    warehouse_id: WarehouseId
    kept: bool = Field(description="Survived the routing rule's filters.")
    eliminated_by: str | None = Field(default=None, description="The filter that eliminated it.")
    rank: PositiveInt | None = Field(default=None, description="Place after sorting, 1 is best; None if eliminated.")
    score: dict[str, int] = Field(default_factory=dict, description="Score per sort key; integers keep hashes exact.")
    allocated_lines: list[str] = Field(default_factory=list, description="Lines it was given.")
    detail: str = ""


class RuleTrial(_Frozen):
    rule: str
    outcome: str = Field(description="What trying this routing rule gave.")


class Explanation(_Frozen):
    """Why: the routing rules tried, and for the rule applied, every candidate warehouse."""

    summary: str = ""
    applied_rule: str | None = None
    rules_tried: list[RuleTrial] = Field(default_factory=list)
    candidates: list[CandidateExplanation] = Field(default_factory=list)


class LineChange(_Frozen):
    """One line's new assignment in a manual override."""

    line_id: str = Field(min_length=1)
    action: LineAction
    warehouse_id: WarehouseId | None = Field(default=None, description="Required exactly when the action is 'ship'.")

    @model_validator(mode="after")
    def _warehouse_iff_shipped(self) -> LineChange:
        if (self.action is LineAction.SHIP) != (self.warehouse_id is not None):
            raise ValueError(f"line {self.line_id}: a warehouse_id is required exactly when the action is 'ship'")
        return self


class OperatorSignature(_Frozen):
    """An operator's signature over an override (see meshline.domain.overrides.signed_payload)."""

    operator: Party
    key_id: str = Field(min_length=1, description="The KMS key (id, ARN or alias) that signed.")
    algorithm: Literal["ECDSA_SHA_256"] = "ECDSA_SHA_256"
    value: str = Field(min_length=16, max_length=2048, description="Base64 of the signature.")


class OverrideRecord(_Frozen):
    """What a person changed by hand, and who signed it; enough to verify the signatures later."""

    expected_version: PositiveInt = Field(description="The version the operator saw and changed.")
    reason_code: str = Field(pattern=r"^[a-z][a-z_]{1,39}$")
    changes: list[LineChange] = Field(min_length=1)
    signed_by: OperatorSignature
    approved_by: OperatorSignature | None = Field(default=None, description="The second approver, where the policy asks.")


class AuditEntry(_Frozen):
    ts: UtcDatetime
    actor: str = Field(min_length=1)
    change: str = Field(min_length=1)


class Export(_Frozen):
    """The product's core artifact. See DESIGN.md, 'The export'."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={"$id": EXPORT_SCHEMA_ID, "title": "Meshline export"},
    )

    schema_version: Literal["1"] = "1"
    export_id: str = Field(pattern=EXPORT_ID_PATTERN)
    tenant_id: TenantId
    order_id: OrderId
    version: PositiveInt
    supersedes: Supersedes | None
    acknowledged: AckLink | None = Field(
        default=None, description="The superseded version's acknowledgements, when it had any (hash chain)."
    )
    created_at: UtcDatetime
    trigger: Trigger
    owning_party: Party
    watchers: list[Party] = Field(default_factory=list)
    decision_version: DecisionVersion
    intended_action: IntendedAction
    lines: list[ExportLine] = Field(min_length=1)
    sla: Sla
    shipments: list[Shipment] = Field(default_factory=list)
    valid_until: UtcDatetime
    exception_path: ExceptionPath
    instructions: list[Instruction] = Field(default_factory=list)
    explanation: Explanation = Field(default_factory=Explanation)
    audit_trail: list[AuditEntry] = Field(min_length=1)
    justification: str | None = None
    signature: str | None = None
    override: OverrideRecord | None = Field(default=None, description="Set on manual overrides.")
    content_hash: Sha256Hex = Field(description="sha256 of the canonical JSON of every other field.")

    @model_validator(mode="after")
    def _consistent(self) -> Export:
        expected_id = export_id_for(self.tenant_id, self.order_id, self.version)
        if self.export_id != expected_id:
            raise ValueError(f"export_id must be '{expected_id}', got '{self.export_id}'")
        if (self.version == 1) != (self.supersedes is None):
            raise ValueError("version 1 supersedes nothing; every later version must name the export it supersedes")
        if self.acknowledged is not None and self.supersedes is None:
            raise ValueError("acknowledged names answers to a superseded version; version 1 has none")
        if self.trigger.kind is TriggerKind.MANUAL_OVERRIDE and not (self.justification and self.signature and self.override):
            raise ValueError("a manual override requires a justification, a signature and its override record")
        line_ids = [line.line_id for line in self.lines]
        if len(set(line_ids)) != len(line_ids):
            raise ValueError("every order line appears exactly once in lines")
        shipped = {(line.line_id, line.warehouse_id) for line in self.lines if line.action is LineAction.SHIP}
        dispatched = [(line_id, shipment.warehouse_id) for shipment in self.shipments for line_id in shipment.line_ids]
        if len(set(dispatched)) != len(dispatched) or set(dispatched) != shipped:
            raise ValueError("shipments must list exactly the shipped lines, each under its warehouse")
        return self

    def warehouses(self) -> list[str]:
        """Warehouses that must act on this export, in first-appearance order."""
        return list(dict.fromkeys(line.warehouse_id for line in self.lines if line.warehouse_id))

    def canonical_json(self) -> str:
        return canonical_json(self.model_dump(mode="json"))


class MalformedExportId(ValueError):
    pass


def parse_export_id(export_id: str) -> tuple[str, str, int]:
    """'<tenant>:<order>:v<version>' -> (tenant, order, version)."""
    tenant_id, _, rest = export_id.partition(":")
    order_id, _, version = rest.rpartition(":")
    if not tenant_id or not order_id or not version.startswith("v") or not version[1:].isdigit():
        raise MalformedExportId(f"export_id '{export_id}' is not of the form '<tenant>:<order>:v<version>'")
    return tenant_id, order_id, int(version[1:])


def export_id_for(tenant_id: str, order_id: str, version: int) -> str:
    return f"{tenant_id}:{order_id}:v{version}"


def canonical_json(document: Any) -> str:
    """The one serialization that hashes are computed over: sorted keys, no spaces, UTF-8."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_hash(document_without_hash: dict[str, Any]) -> str:
    return sha256_hex(canonical_json(document_without_hash))


def canonical_form(value: Any) -> Any:
    """A JSON value with every object's keys in sorted order."""
    if isinstance(value, dict):
        return {key: canonical_form(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [canonical_form(item) for item in value]
    return value


def seal_document(document: dict[str, Any]) -> Export:
    """Build an export from its canonical JSON form without the content hash: JSON values
    only, every object's keys in sorted order, and every field present exactly as the
    validated export dumps it (defaults included).

    For such a document pydantic-core's encoder writes, byte for byte, what canonical_json
    writes, at a fraction of the cost, and nothing has to be dumped again after validation;
    the one validation, over the whole document, still checks every model's constraints.
    The routing engine builds its exports this way (a 50-line decision holds ~100 nested
    objects); tests check that content_hash == sha256(canonical_json()) for what it builds."""
    content = hashlib.sha256(to_json(document)).hexdigest()
    return Export.model_validate({**document, "content_hash": content})


def seal(fields: dict[str, Any]) -> Export:
    """Build an export from its fields, computing the content hash over everything else."""
    unsealed = {key: value for key, value in fields.items() if key != "content_hash"}
    # Validate once with a placeholder hash to get the JSON form the hash is defined over;
    # the real hash satisfies the same constraint, so it is set without validating twice.
    probe = Export.model_validate({**unsealed, "content_hash": "0" * 64})
    document = probe.model_dump(mode="json", exclude={"content_hash"})
    return probe.model_copy(update={"content_hash": content_hash(document)})
