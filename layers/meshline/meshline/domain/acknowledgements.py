"""Warehouse acknowledgements: what the execution layer answers to an export.

A warehouse answers the export it was sent: `received`, `accepted` (maybe with an
estimated ship date), `rejected` (a reason code, maybe for some lines only), `picked`,
`shipped` (carrier, tracking), or its answer to a cancellation request. Each accepted
answer becomes an entry of the order's hash chain: it names the hash of the entry before
it (the export, or the export's previous acknowledgement), and the next export version
names the hash of the last one (`Export.acknowledged`), so nothing can be slipped in,
dropped or altered without the verifier noticing.

An answer Meshline cannot accept (a stale export version, a warehouse that was not sent
those lines) is refused with the reason and kept outside the chain as a record.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field, NonNegativeInt, PositiveInt, model_validator

from meshline.domain.exports import EXPORT_ID_PATTERN, AckLink, Export, LineAction, content_hash
from meshline.domain.types import Model, OrderId, Sha256Hex, TenantId, UtcDatetime, WarehouseId


class AckKind(StrEnum):
    RECEIVED = "received"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PICKED = "picked"
    SHIPPED = "shipped"
    CANCEL_ACCEPTED = "cancel_accepted"
    CANCEL_REFUSED = "cancel_refused"


KNOWN_REJECTION_REASONS = ("out_of_stock", "incorrect_address", "capacity", "damaged", "other")
"""The codes warehouses are told about; any snake_case code is accepted, and the tenant's
policy may have an exception path for it (`rejected:<code>`)."""


class _Frozen(Model):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AckLine(_Frozen):
    line_id: str = Field(min_length=1)
    quantity: PositiveInt | None = Field(default=None, description="Units concerned; the whole line when absent.")


class AcknowledgementRequest(_Frozen):
    """What a warehouse sends, through the API or its results queue."""

    ack_id: str = Field(
        min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$",
        description="The warehouse's own id for this answer; sending it again changes nothing.",
    )
    export_id: str = Field(pattern=EXPORT_ID_PATTERN, description="The export answered, e.g. 'acme:shopify-1001:v1'.")
    warehouse_id: WarehouseId
    kind: AckKind
    at: UtcDatetime = Field(description="When it happened at the warehouse.")
    reason_code: str | None = Field(
        default=None, pattern=r"^[a-z][a-z_]{1,39}$",
        description="Required for 'rejected' and 'cancel_refused', e.g. 'out_of_stock', 'incorrect_address'.",
    )
    lines: list[AckLine] = Field(
        default_factory=list, description="The lines concerned; empty means every line this warehouse was sent."
    )
    estimated_ship_date: date | None = Field(default=None, description="With 'accepted'.")
    carrier: str | None = Field(default=None, max_length=100, description="With 'shipped'.")
    tracking_number: str | None = Field(default=None, max_length=100, description="With 'shipped'.")
    note: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _complete(self) -> AcknowledgementRequest:
        if self.kind in (AckKind.REJECTED, AckKind.CANCEL_REFUSED) and not self.reason_code:
            raise ValueError(f"reason_code is required when kind is '{self.kind}'")
        if self.kind is AckKind.SHIPPED and not self.tracking_number:
            raise ValueError("tracking_number is required when kind is 'shipped'")
        line_ids = [line.line_id for line in self.lines]
        if len(set(line_ids)) != len(line_ids):
            raise ValueError("lines: each line_id may appear once")
        return self


class Acknowledgement(_Frozen):
    """One recorded answer: an entry of the order's hash chain."""

    tenant_id: TenantId
    order_id: OrderId
    export_version: PositiveInt
    sequence: PositiveInt = Field(description="1 for the first answer to this export version, then 2, ...")
    request: AcknowledgementRequest
    line_ids: list[str] = Field(min_length=1, description="The lines it concerns, resolved from the request.")
    recorded_at: UtcDatetime
    previous_hash: Sha256Hex = Field(description="Hash of the chain entry before it: the export, or the previous answer.")
    content_hash: Sha256Hex = Field(description="sha256 of the canonical JSON of every other field.")

    @property
    def link(self) -> AckLink:
        return AckLink(count=self.sequence, last_hash=self.content_hash)


class Refusal(Exception):
    """An answer that cannot be accepted; `reason` says why, for the warehouse and the record."""

    def __init__(self, reason: str, status: int = 409):
        super().__init__(reason)
        self.reason = reason
        self.status = status


def admit(
    request: AcknowledgementRequest, current: Export, previous_acks: list[Acknowledgement], recorded_at: datetime
) -> Acknowledgement:
    """Check an answer against the order's current export and seal it as the next chain entry.

    Raises Refusal when the answer is for another version, from a warehouse that was not
    sent the lines it names, or contradicts what the warehouse already said."""
    if request.export_id != current.export_id:
        raise Refusal(
            f"{request.export_id} is not the current version of order {current.order_id}: "
            f"answer {current.export_id} instead"
        )
    # A warehouse answers for what it was sent: lines to ship, or lines it is asked to cancel.
    asked = (LineAction.CANCEL,) if request.kind in (AckKind.CANCEL_ACCEPTED, AckKind.CANCEL_REFUSED) else (LineAction.SHIP,)
    assigned = [line.line_id for line in current.lines if line.action in asked and line.warehouse_id == request.warehouse_id]
    if not assigned:
        raise Refusal(f"warehouse {request.warehouse_id} was sent no line of {current.export_id}", status=403)
    named = [line.line_id for line in request.lines]
    foreign = [line_id for line_id in named if line_id not in assigned]
    if foreign:
        raise Refusal(
            f"line(s) {', '.join(foreign)} of {current.export_id} were not sent to warehouse {request.warehouse_id}",
            status=403,
        )
    line_ids = named or assigned
    earlier = [ack for ack in previous_acks if ack.request.warehouse_id == request.warehouse_id]
    closed = {line_id for ack in earlier if ack.request.kind in (AckKind.REJECTED, AckKind.SHIPPED) for line_id in ack.line_ids}
    already = [line_id for line_id in line_ids if line_id in closed]
    if already:
        raise Refusal(
            f"line(s) {', '.join(already)} were already rejected or shipped by warehouse {request.warehouse_id}"
        )
    previous_hash = previous_acks[-1].content_hash if previous_acks else current.content_hash
    fields: dict[str, Any] = {
        "tenant_id": current.tenant_id,
        "order_id": current.order_id,
        "export_version": current.version,
        "sequence": len(previous_acks) + 1,
        "request": request,
        "line_ids": line_ids,
        "recorded_at": recorded_at,
        "previous_hash": previous_hash,
    }
    probe = Acknowledgement.model_validate({**fields, "content_hash": "0" * 64})
    document = probe.model_dump(mode="json", exclude={"content_hash"})
    return probe.model_copy(update={"content_hash": content_hash(document)})


class RefusedAcknowledgement(_Frozen):
    """An answer that was refused, kept as a record (outside the hash chain)."""

    request: dict[str, Any] = Field(description="What was sent, as received.")
    reason: str
    refused_at: UtcDatetime
    current_export_id: str | None = None


class AckSummary(_Frozen):
    """What warehouses have said about one export version, line by line."""

    rejected: dict[str, list[str]] = Field(default_factory=dict, description="line_id -> warehouses that rejected it")
    accepted_lines: list[str] = Field(default_factory=list)
    shipped_lines: list[str] = Field(default_factory=list)
    answers: NonNegativeInt = 0
