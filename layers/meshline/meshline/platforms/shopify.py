"""Shopify webhooks: signature verification and normalization of `orders/create` to the canonical order."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from meshline.domain.errors import InvalidOrder
from meshline.domain.orders import Address, GeoPoint, Order, OrderLine, Platform, ServiceLevel
from meshline.platforms.common import (  # noqa: F401 - parse_body is part of this adapter's API
    canonical_order,
    line_items,
    naming_the_field,
    parse_body,
    positive_quantity,
    require,
    service_level_named,
)
from meshline.platforms.signing import sign, signature_matches  # noqa: F401 - Shopify's scheme, re-exported

HMAC_HEADER = "x-shopify-hmac-sha256"
TOPIC_HEADER = "x-shopify-topic"
EVENT_ID_HEADER = "x-shopify-event-id"
WEBHOOK_ID_HEADER = "x-shopify-webhook-id"
SHOP_DOMAIN_HEADER = "x-shopify-shop-domain"
SUPPORTED_TOPICS = frozenset({"orders/create", "orders/cancelled"})

def _timestamp(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidOrder(f"{field} must be an ISO-8601 timestamp, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidOrder(f"{field} is not ISO-8601: {value!r}") from None
    if parsed.tzinfo is None:
        raise InvalidOrder(f"{field} has no UTC offset: {value!r}")
    return parsed


def _service_level(document: Mapping[str, Any]) -> ServiceLevel:
    return service_level_named(
        str(line.get("title") or line.get("code") or "")
        for line in document.get("shipping_lines") or []
        if isinstance(line, Mapping)
    )


def _address(value: Any) -> Address | None:
    if not isinstance(value, Mapping):
        return None
    return Address(
        name=value.get("name") or None,
        company=value.get("company") or None,
        line1=require(value, "address1", "shipping_address."),
        line2=value.get("address2") or None,
        city=require(value, "city", "shipping_address."),
        region_code=value.get("province_code") or None,
        postal_code=value.get("zip") or None,
        country_code=str(require(value, "country_code", "shipping_address.")).upper(),
        phone=value.get("phone") or None,
        location=_location(value),
    )


def _location(address: Mapping[str, Any]) -> GeoPoint | None:
    latitude, longitude = address.get("latitude"), address.get("longitude")
    if latitude is None or longitude is None:
        return None
    try:
        return GeoPoint(latitude=float(latitude), longitude=float(longitude))
    except (TypeError, ValueError, ValidationError):
        return None  # a bad geocode only loses the distance sort, not the order


def _kit_id(item: Mapping[str, Any]) -> str | None:
    """Shopify bundles group their components by sales_line_item_group_id; merchants without
    bundles often mark kits with a hidden '_kit_id' line property."""
    group = item.get("sales_line_item_group_id")
    if group is not None:
        return f"group-{group}"
    for prop in item.get("properties") or []:
        if isinstance(prop, Mapping) and prop.get("name") == "_kit_id" and prop.get("value"):
            return str(prop["value"])
    return None


def _promotions(document: Mapping[str, Any]) -> list[str]:
    codes = [code.get("code") for code in document.get("discount_codes") or [] if isinstance(code, Mapping)]
    return [str(code) for code in codes if code]


def _lines(document: Mapping[str, Any]) -> list[OrderLine]:
    lines = []
    for where, item in line_items(document):
        quantity = positive_quantity(item, where)
        sku = item.get("sku") or (f"variant-{item['variant_id']}" if item.get("variant_id") else None)
        if not sku:
            raise InvalidOrder(f"{where}sku is required (or a variant_id to stand for it)")
        lines.append(
            OrderLine(
                line_id=str(require(item, "id", where)),
                sku=str(sku),
                quantity=quantity,
                title=str(item.get("title") or item.get("name") or ""),
                requires_shipping=bool(item.get("requires_shipping", True)),
                kit_id=_kit_id(item),
            )
        )
    return lines


def normalize_order(document: Mapping[str, Any], tenant_id: str) -> Order:
    """A Shopify order resource (the `orders/create` webhook body) as a canonical order."""
    platform_id = str(require(document, "id"))
    cancelled_at = document.get("cancelled_at")
    with naming_the_field():
        return canonical_order(
            Platform.SHOPIFY, platform_id, tenant_id,
            cancelled_at=_timestamp(cancelled_at, "cancelled_at") if cancelled_at else None,
            cancel_reason=document.get("cancel_reason") or None,
            order_name=document.get("name") or None,
            placed_at=_timestamp(require(document, "created_at"), "created_at"),
            test=bool(document.get("test", False)),
            service_level=_service_level(document),
            destination=_address(document.get("shipping_address")),
            lines=_lines(document),
            tags=[tag.strip() for tag in str(document.get("tags") or "").split(",") if tag.strip()],
            promotions=_promotions(document),
        )
