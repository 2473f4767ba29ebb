"""WooCommerce webhooks: signature verification and normalization of an order to the canonical order.

WooCommerce sends the REST resource of the order as the body of `order.created` and
`order.updated`, signed like Shopify's (`X-WC-Webhook-Signature`: base64 HMAC-SHA256 of
the raw body), with the topic and a delivery id in headers. Its timestamps come twice:
in the site's local time and in GMT (without an offset); only the GMT ones are used.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from meshline.domain.errors import InvalidOrder
from meshline.domain.orders import Address, Order, OrderLine, Platform
from meshline.platforms.common import (
    canonical_order,
    line_items,
    naming_the_field,
    positive_quantity,
    require,
    service_level_named,
)

SIGNATURE_HEADER = "x-wc-webhook-signature"
TOPIC_HEADER = "x-wc-webhook-topic"
DELIVERY_ID_HEADER = "x-wc-webhook-delivery-id"
WEBHOOK_ID_HEADER = "x-wc-webhook-id"
SOURCE_HEADER = "x-wc-webhook-source"


def _gmt(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidOrder(f"{field} must be a timestamp, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidOrder(f"{field} is not ISO-8601: {value!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _address(value: Any) -> Address | None:
    if not isinstance(value, Mapping) or not value.get("address_1"):
        return None
    name = " ".join(part for part in (value.get("first_name"), value.get("last_name")) if part) or None
    return Address(
        name=name,
        company=value.get("company") or None,
        line1=require(value, "address_1", "shipping."),
        line2=value.get("address_2") or None,
        city=require(value, "city", "shipping."),
        region_code=value.get("state") or None,
        postal_code=value.get("postcode") or None,
        country_code=str(require(value, "country", "shipping.")).upper(),
    )


def _sku(item: Mapping[str, Any]) -> str:
    """A line's SKU, or its product (and variation) id when the shop left the SKU empty."""
    if item.get("sku"):
        return str(item["sku"])
    product = require(item, "product_id")
    variation = item.get("variation_id")
    return f"product-{product}" + (f"-variation-{variation}" if variation else "")


def _lines(document: Mapping[str, Any]) -> list[OrderLine]:
    lines = []
    for where, item in line_items(document):
        lines.append(OrderLine(
            line_id=str(require(item, "id", where)),
            sku=_sku(item),
            quantity=positive_quantity(item, where),
            title=str(item.get("name") or ""),
        ))
    return lines


def normalize_order(document: Mapping[str, Any], tenant_id: str) -> Order:
    """A WooCommerce order resource (an `order.created` / `order.updated` body) as a canonical order."""
    platform_id = str(require(document, "id"))
    cancelled = document.get("status") == "cancelled"
    with naming_the_field():
        return canonical_order(
            Platform.WOOCOMMERCE, platform_id, tenant_id,
            cancelled_at=_gmt(document.get("date_modified_gmt"), "date_modified_gmt") if cancelled else None,
            cancel_reason="cancelled in WooCommerce" if cancelled else None,
            order_name=f"#{document.get('number') or platform_id}",
            placed_at=_gmt(require(document, "date_created_gmt"), "date_created_gmt"),
            service_level=service_level_named(
                str(line.get("method_title") or line.get("method_id") or "")
                for line in document.get("shipping_lines") or [] if isinstance(line, Mapping)
            ),
            destination=_address(document.get("shipping")),
            lines=_lines(document),
            promotions=[str(c["code"]) for c in document.get("coupon_lines") or [] if isinstance(c, Mapping) and c.get("code")],
        )
