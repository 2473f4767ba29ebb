"""Messages between Meshline's functions and events it emits on its bus.

Each is a pydantic model; schemas/ holds their generated JSON Schema.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from meshline.domain.exports import Export, Trigger
from meshline.domain.orders import Order
from meshline.domain.types import OrderId, TenantId, UtcDatetime

EVENT_SOURCE = "meshline.exports"


class OrderReceived(BaseModel):
    """Ingest -> decide, on the order inbox FIFO queue (grouped per order)."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra={"title": "OrderReceived"})

    message_type: Literal["OrderReceived"] = "OrderReceived"
    trigger: Trigger
    order: Order


class ArchiveLocation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    bucket: str
    key: str


class ExportPublished(BaseModel):
    """Detail of the `ExportPublished` event: the export itself, and where else it went."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra={"title": "ExportPublished"})

    export: Export
    archive: ArchiveLocation
    warehouse_queues: list[str] = Field(description="Names of the warehouse queues the export was delivered to.")


class ExportQuarantined(BaseModel):
    """Detail of the `ExportQuarantined` event: an export that failed its schema and was never published."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra={"title": "ExportQuarantined"})

    export_id: str
    tenant_id: TenantId
    order_id: OrderId
    quarantined_at: UtcDatetime
    errors: list[str] = Field(min_length=1)
    document: dict[str, Any] = Field(description="The export exactly as it was built, kept for repair.")


class BackorderedLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    line_id: str
    sku: str
    quantity: int


class CustomerNotificationRequested(BaseModel):
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


EVENT_DETAIL_MODELS: dict[str, type[BaseModel]] = {
    "ExportPublished": ExportPublished,
    "ExportQuarantined": ExportQuarantined,
    "CustomerNotificationRequested": CustomerNotificationRequested,
}
