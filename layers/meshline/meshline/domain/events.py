"""Messages between Meshline's functions and events it emits on its bus.

Each is a pydantic model; schemas/ holds their generated JSON Schema.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from meshline.domain.exports import Export, IntendedAction, Trigger
from meshline.domain.orders import Order
from meshline.domain.payloads import PayloadReference
from meshline.domain.types import Model, OrderId, Sha256Hex, TenantId, UtcDatetime

EVENT_SOURCE = "meshline.exports"


class OrderReceived(Model):
    """Ingest -> decide, on the order inbox FIFO queue (grouped per order)."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra={"title": "OrderReceived"})

    message_type: Literal["OrderReceived"] = "OrderReceived"
    trigger: Trigger
    order: Order


class OrderReceivedByReference(Model):
    """Ingest -> decide, for an order too large for an SQS message: the order waits in S3."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra={"title": "OrderReceivedByReference"})

    message_type: Literal["OrderReceivedByReference"] = "OrderReceivedByReference"
    trigger: Trigger
    tenant_id: TenantId
    order_id: OrderId
    order: PayloadReference = Field(description="The canonical order's JSON (an `Order`), in S3.")


class ArchiveLocation(Model):
    model_config = ConfigDict(frozen=True, extra="forbid")

    bucket: str
    key: str
    sha256: Sha256Hex = Field(description="sha256 of the archived bytes: the export's canonical JSON.")
    size_bytes: int = Field(gt=0)


class ExportPublished(Model):
    """Detail of the `ExportPublished` event: the export itself, and where else it went."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra={"title": "ExportPublished"})

    export_id: str
    export: Export | None = Field(
        description="The export; null when it would not fit in an event (256 KB): read it from `archive`.")
    archive: ArchiveLocation
    warehouse_queues: list[str] = Field(description="Names of the warehouse queues the export was delivered to.")


class ExportByReference(Model):
    """What a warehouse queue carries in place of an export too large for an SQS message
    (message attribute `payload` = `reference`). The warehouse reads the export with its
    own credential from the operators' API (`fetch`), and checks its `content_hash`."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra={"title": "ExportByReference"})

    message_type: Literal["ExportByReference"] = "ExportByReference"
    export_id: str
    tenant_id: TenantId
    order_id: OrderId
    version: int = Field(gt=0)
    intended_action: IntendedAction
    content_hash: Sha256Hex
    fetch: str = Field(description="The operators' API path that answers the export: GET it with the warehouse's credential.")
    archive: ArchiveLocation


class ExportQuarantined(Model):
    """Detail of the `ExportQuarantined` event: an export that failed its schema and was never published."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra={"title": "ExportQuarantined"})

    export_id: str
    tenant_id: TenantId
    order_id: OrderId
    quarantined_at: UtcDatetime
    errors: list[str] = Field(min_length=1)
    document: dict[str, Any] | None = Field(
        description="The export exactly as it was built, kept for repair; null when too large for an event (see `document_reference`).")
    document_reference: PayloadReference | None = None


class BackorderedLine(Model):
    model_config = ConfigDict(frozen=True, extra="forbid")

    line_id: str
    sku: str
    quantity: int


class CustomerNotificationRequested(Model):
    """Detail of `CustomerNotificationRequested`: tell the customer that lines are backordered
    and when they are promised, for CRM automation. Sent once per newly backordered line."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra={"title": "CustomerNotificationRequested"})

    reason: Literal["backorder"] = "backorder"
    tenant_id: TenantId
    order_id: OrderId
    export_id: str
    service_level: str | None
    promised_by: UtcDatetime | None
    lines: list[BackorderedLine] = Field(min_length=1)
    part: int = Field(default=1, ge=1, description="An export backordering more lines than one event holds (256 KB) "
                                                   "announces them in parts, 1 to `parts`; (export_id, part) is unique.")
    parts: int = Field(default=1, ge=1)


EVENT_DETAIL_MODELS: dict[str, type[BaseModel]] = {
    "ExportPublished": ExportPublished,
    "ExportQuarantined": ExportQuarantined,
    "CustomerNotificationRequested": CustomerNotificationRequested,
}
