"""BigCommerce webhooks: Standard Webhooks signatures, the thin callback, and the order
(read from the store's API) normalized to the canonical order.

A callback names an event and a resource id, nothing more:

    {"scope": "store/order/created", "store_id": "1025646", "data": {"type": "order", "id": 250},
     "hash": "dd70...", "created_at": 1561479335, "producer": "stores/{store_hash}"}

BigCommerce signs its deliveries per Standard Webhooks (https://www.standardwebhooks.com):
`webhook-id` (the same on every retry of one message: Meshline's delivery id),
`webhook-timestamp` (Unix seconds of this attempt) and `webhook-signature`, one or more
space-separated `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<raw body>">`. The key is the
app's client secret, as BigCommerce's own verification example uses it; a Standard Webhooks
secret (`whsec_<base64 key>`) is understood too. The timestamp is signed, so a delivery
outside the tolerance window is refused: it may be a replay.

The custom headers a webhook can be created with are sent back on every callback, but they
are a fixed bearer value that any proxy or log on the way may keep: Meshline requires the
signature instead, and does not read them.

The order itself is three resources of the store's v2 API (meshline.dal.bigcommerce_store):
the order, its products and its shipping addresses; `normalize_order` reads them.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from pydantic import ConfigDict, Field

from meshline.domain.types import Model
from meshline.domain.errors import InvalidOrder
from meshline.domain.orders import Address, Order, OrderLine, Platform
from meshline.platforms.common import (
    canonical_order,
    each_item,
    naming_the_field,
    positive_quantity,
    require,
    service_level_named,
)
from meshline.platforms.signing import any_matches, hmac_sha256_base64

API_HOST = "api.bigcommerce.com"
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
TOLERANCE = timedelta(minutes=5)
ORDER_CREATED = "store/order/created"
ORDER_STATUS_UPDATED = "store/order/statusUpdated"
CANCELLED_STATUS_ID = 5  # GET /v2/order_statuses: 5 "Cancelled"
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")
_COUNTRY = re.compile(r"[A-Z]{2}")


class StoreConfig(Model):
    """A tenant's BigCommerce store: SSM parameter `<prefix>/<tenant_id>/bigcommerce-store`
    (String, this JSON). Its API token is a SecureString next to it, `bigcommerce-api-token`."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra={
        "$id": "https://meshline.dev/schemas/sources/bigcommerce-store.schema.json",
        "title": "Meshline tenant's BigCommerce store"})

    store_hash: str = Field(pattern=r"^[a-z0-9]{1,32}$", description="The store's permanent id, as in API paths.")
    api_base: str = Field(
        default=f"https://{API_HOST}",
        description=f"https://{API_HOST}, or an https origin whose host the deployment allows (BigCommerceApiHosts).",
    )
    recorded: bool = Field(
        default=False,
        description="Answer from recorded responses instead of calling the API: honoured by the local stack only.",
    )


# --- signatures ---------------------------------------------------------------------------


def _key(secret: str) -> bytes:
    if not secret.startswith("whsec_"):
        return secret.encode("utf-8")
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the tenant's BigCommerce webhook secret starts with whsec_ but the rest is not base64") from None


def sign(webhook_id: str, timestamp: int | str, body: bytes, secret: str) -> str:
    """The `webhook-signature` entry BigCommerce sends: 'v1,<base64 HMAC>'."""
    return "v1," + hmac_sha256_base64(_key(secret), f"{webhook_id}.{timestamp}.".encode() + body)


def header_problem(headers: Mapping[str, str], now: datetime) -> str | None:
    """What makes a delivery unverifiable before its signature is even computed (a header
    missing, a stale or malformed timestamp), for a 401; None when nothing does.
    `headers` have lower-case names."""
    missing = [name for name in (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER) if not headers.get(name)]
    if missing:
        return f"missing {', '.join(missing)} header{'s' if len(missing) > 1 else ''}: BigCommerce signs each delivery (Standard Webhooks)"
    timestamp = headers[TIMESTAMP_HEADER].strip()
    if not _UNIX_SECONDS.fullmatch(timestamp):
        return f"{TIMESTAMP_HEADER} is not a Unix time in seconds: {timestamp!r}"
    age = now.timestamp() - int(timestamp)
    if abs(age) > TOLERANCE.total_seconds():
        when = f"{age:.0f} s old" if age > 0 else f"{-age:.0f} s in the future"
        return (f"{TIMESTAMP_HEADER} {timestamp} is {when}; a delivery more than {TOLERANCE.total_seconds():.0f} s "
                "from Meshline's clock is refused as a possible replay")
    return None


def signature_matches(headers: Mapping[str, str], body: bytes, secrets: Iterable[str]) -> bool:
    """Whether any `v1` entry of webhook-signature signs this id, timestamp and body with one
    of `secrets` (entries of other schemes, such as the asymmetric v1a, are not ours to check)."""
    presented = [entry[3:] for entry in headers.get(SIGNATURE_HEADER, "").split() if entry.startswith("v1,")]
    webhook_id, timestamp = headers.get(ID_HEADER, ""), headers.get(TIMESTAMP_HEADER, "").strip()
    return any_matches((sign(webhook_id, timestamp, body, secret)[3:] for secret in secrets), presented)


# --- the callback -------------------------------------------------------------------------


def scope(callback: Mapping[str, Any]) -> str:
    value = callback.get("scope")
    return value if isinstance(value, str) else ""


def order_id(callback: Mapping[str, Any]) -> int | None:
    """The order a callback is about, or None when it is about something else (a product...)."""
    data = callback.get("data")
    if not isinstance(data, Mapping) or data.get("type") != "order":
        return None
    value = data.get("id")
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidOrder(f"data.id must be a positive integer order id, got {value!r}")
    return value


def new_status_id(callback: Mapping[str, Any]) -> int | None:
    """`store/order/statusUpdated` names the new status (data.status.new_status_id)."""
    data = callback.get("data")
    status = data.get("status") if isinstance(data, Mapping) else None
    value = status.get("new_status_id") if isinstance(status, Mapping) else None
    return value if isinstance(value, int) else None


# --- the order ----------------------------------------------------------------------------


def _rfc2822(value: Any, field: str) -> datetime:
    """The v2 API writes dates as RFC 2822: 'Tue, 05 Mar 2019 21:40:11 +0000'."""
    if not isinstance(value, str):
        raise InvalidOrder(f"{field} must be an RFC 2822 date, got {value!r}")
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise InvalidOrder(f"{field} is not an RFC 2822 date: {value!r}") from None
    if parsed.tzinfo is None:
        raise InvalidOrder(f"{field} has no UTC offset: {value!r}")
    return parsed.astimezone(UTC)


def _shipping_address(addresses: Any) -> tuple[str, Mapping[str, Any]] | None:
    """The address the order ships to: the one its items go to. None for an order without
    shipping addresses (digital goods only)."""
    if addresses is None or addresses == []:
        return None
    listed = list(each_item(addresses, "shipping_addresses"))
    holding = [(where, address) for where, address in listed if address.get("items_total") != 0] or listed[:1]
    if len(holding) > 1:
        ids = ", ".join(str(address.get("id")) for _, address in holding)
        raise InvalidOrder(f"shipping_addresses: the order ships to {len(holding)} addresses ({ids}); "
                           "Meshline routes an order to one destination")
    return holding[0]


def _address(where: str, value: Mapping[str, Any]) -> Address:
    country = str(require(value, "country_iso2", where)).upper()
    if not _COUNTRY.fullmatch(country):
        raise InvalidOrder(f"{where}country_iso2 must be an ISO 3166-1 alpha-2 code, got {value['country_iso2']!r}")
    name = " ".join(part for part in (value.get("first_name"), value.get("last_name")) if part) or None
    return Address(
        name=name,
        company=value.get("company") or None,
        line1=require(value, "street_1", where),
        line2=value.get("street_2") or None,
        city=require(value, "city", where),
        region_code=_region_code(country, value.get("state")),
        postal_code=value.get("zip") or None,
        country_code=country,
        phone=value.get("phone") or None,
    )


def _sku(item: Mapping[str, Any], where: str) -> str:
    """A product's SKU, or its catalog product (and variant) id when the store left the SKU
    empty; a custom product (product_id 0) without a SKU cannot be routed."""
    if item.get("sku"):
        return str(item["sku"])
    product, variant = item.get("product_id"), item.get("variant_id")
    if not product:
        raise InvalidOrder(f"{where}sku is required (or a catalog product_id to stand for it)")
    return f"product-{product}" + (f"-variant-{variant}" if variant else "")


def _lines(products: Any) -> list[OrderLine]:
    listed = list(each_item(products, "products"))
    # A bundled product (a product pick list's choice) names the line it belongs to; the
    # bundle travels as one kit, so the split policy can keep it together.
    bundles = {str(item["parent_order_product_id"]) for _, item in listed if item.get("parent_order_product_id")}
    lines = []
    for where, item in listed:
        line_id = str(require(item, "id", where))
        parent = item.get("parent_order_product_id")
        lines.append(OrderLine(
            line_id=line_id,
            sku=_sku(item, where),
            quantity=positive_quantity(item, where),
            title=str(item.get("name") or ""),
            requires_shipping=item.get("type", "physical") == "physical",  # not digital, not a gift certificate
            kit_id=f"bundle-{parent}" if parent else (f"bundle-{line_id}" if line_id in bundles else None),
        ))
    return lines


def normalize_order(
    webhook_order_id: int, order: Mapping[str, Any], products: Any, shipping_addresses: Any, tenant_id: str
) -> Order:
    """The order a callback named, from its three API resources (GET /v2/orders/{id},
    .../products, .../shipping_addresses), as a canonical order. Its id is the callback's:
    the one BigCommerce will name again in later callbacks about it."""
    platform_id = str(webhook_order_id)
    cancelled = order.get("status_id") == CANCELLED_STATUS_ID
    shipping = _shipping_address(shipping_addresses)
    with naming_the_field():
        return canonical_order(
            Platform.BIGCOMMERCE, platform_id, tenant_id,
            cancelled_at=_rfc2822(order.get("date_modified"), "date_modified") if cancelled else None,
            cancel_reason="cancelled in BigCommerce" if cancelled else None,
            order_name=f"#{platform_id}",
            placed_at=_rfc2822(require(order, "date_created"), "date_created"),
            service_level=service_level_named([str(shipping[1].get("shipping_method") or "")] if shipping else []),
            destination=_address(*shipping) if shipping else None,
            lines=_lines(products),
        )


def _region_code(country: str, state: Any) -> str | None:
    """The v2 API names the state ('Texas'); routing policies name regions by ISO 3166-2
    code ('US-TX'). Known for the United States and Canada; elsewhere there is none."""
    names = _REGIONS.get(country)
    if not names or not isinstance(state, str) or not state.strip():
        return None
    wanted = state.strip()
    if wanted.upper() in names.values():
        return wanted.upper()
    return names.get(wanted.lower())


_REGIONS: dict[str, dict[str, str]] = {
    "US": {
        "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA", "colorado": "CO",
        "connecticut": "CT", "delaware": "DE", "district of columbia": "DC", "florida": "FL", "georgia": "GA",
        "hawaii": "HI", "idaho": "ID", "illinois": "IL", "indiana": "IN", "iowa": "IA", "kansas": "KS",
        "kentucky": "KY", "louisiana": "LA", "maine": "ME", "maryland": "MD", "massachusetts": "MA",
        "michigan": "MI", "minnesota": "MN", "mississippi": "MS", "missouri": "MO", "montana": "MT",
        "nebraska": "NE", "nevada": "NV", "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM",
        "new york": "NY", "north carolina": "NC", "north dakota": "ND", "ohio": "OH", "oklahoma": "OK",
        "oregon": "OR", "pennsylvania": "PA", "rhode island": "RI", "south carolina": "SC", "south dakota": "SD",
        "tennessee": "TN", "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA", "washington": "WA",
        "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY", "american samoa": "AS", "guam": "GU",
        "northern mariana islands": "MP", "puerto rico": "PR", "united states minor outlying islands": "UM",
        "virgin islands": "VI", "u.s. virgin islands": "VI",
    },
    "CA": {
        "alberta": "AB", "british columbia": "BC", "manitoba": "MB", "new brunswick": "NB",
        "newfoundland and labrador": "NL", "northwest territories": "NT", "nova scotia": "NS", "nunavut": "NU",
        "ontario": "ON", "prince edward island": "PE", "quebec": "QC", "québec": "QC", "saskatchewan": "SK",
        "yukon": "YT",
    },
}
