"""The generic JSON source: for any platform without an adapter of its own.

The sender posts a `GenericOrder` (schemas/sources/generic-order.schema.json; docs/SOURCES.md)
to `/webhooks/generic/<tenant_id>`, signed like Shopify and WooCommerce webhooks:
`X-Meshline-Signature` = base64(HMAC-SHA256(secret, raw body)), with `X-Meshline-Topic`
(`order.created` or `order.cancelled`) and a unique `X-Meshline-Delivery-Id`. Its shapes
are the canonical order's own (Address, OrderLine), so nothing is lost in translation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ConfigDict, Field, ValidationError

from meshline.domain.orders import Address, Order, OrderLine, OrderStatus, Platform, ServiceLevel
from meshline.domain.types import Model, UtcDatetime
from meshline.platforms.common import invalid_order_from

SIGNATURE_HEADER = "x-meshline-signature"
TOPIC_HEADER = "x-meshline-topic"
DELIVERY_ID_HEADER = "x-meshline-delivery-id"


class GenericOrder(Model):
    """An order from any shop, as a generic source sends it."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra={
        "$id": "https://meshline.dev/schemas/sources/generic-order.schema.json", "title": "Meshline generic order"})

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="The shop's own order id.")
    order_name: str | None = Field(default=None, description="What the customer sees, e.g. '#1042'.")
    placed_at: UtcDatetime = Field(description="ISO-8601 with an offset.")
    status: OrderStatus = OrderStatus.OPEN
    cancelled_at: UtcDatetime | None = None
    cancel_reason: str | None = None
    service_level: ServiceLevel = ServiceLevel.STANDARD
    ship_to: Address | None = None
    lines: list[OrderLine] = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)
    promotions: list[str] = Field(default_factory=list)


def normalize_order(document: Mapping[str, Any], tenant_id: str) -> Order:
    try:
        sent = GenericOrder.model_validate(document)
        return Order(
            tenant_id=tenant_id,
            order_id=f"{Platform.GENERIC}-{sent.id}",
            platform=Platform.GENERIC,
            platform_order_id=sent.id,
            order_name=sent.order_name,
            placed_at=sent.placed_at,
            status=sent.status,
            cancelled_at=sent.cancelled_at,
            cancel_reason=sent.cancel_reason,
            service_level=sent.service_level,
            destination=sent.ship_to,
            lines=sent.lines,
            tags=sent.tags,
            promotions=sent.promotions,
        )
    except ValidationError as error:
        raise invalid_order_from(error) from None
