"""The canonical order: what every platform's webhook is normalized to before routing."""

from __future__ import annotations

import math
from enum import StrEnum
from functools import cached_property

from pydantic import ConfigDict, Field, PositiveInt

from meshline.domain.types import Model, OrderId, TenantId, UtcDatetime


class Platform(StrEnum):
    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"
    BIGCOMMERCE = "bigcommerce"
    GENERIC = "generic"


class ServiceLevel(StrEnum):
    STANDARD = "standard"
    EXPRESS = "express"
    OVERNIGHT = "overnight"


class OrderStatus(StrEnum):
    OPEN = "open"
    CANCELLED = "cancelled"


class GeoPoint(Model):
    model_config = ConfigDict(frozen=True, extra="forbid")

    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)

    @cached_property
    def radians(self) -> tuple[float, float]:
        return math.radians(self.latitude), math.radians(self.longitude)


class Address(Model):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = None
    company: str | None = None
    line1: str = Field(min_length=1)
    line2: str | None = None
    city: str = Field(min_length=1)
    region_code: str | None = Field(default=None, description="State or province code, e.g. 'KY'.")
    postal_code: str | None = None
    country_code: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2.")
    phone: str | None = None
    location: GeoPoint | None = Field(default=None, description="Geocoded point, when the platform provides one.")


class OrderLine(Model):
    model_config = ConfigDict(frozen=True, extra="forbid")

    line_id: str = Field(min_length=1, description="The platform's line item id.")
    sku: str = Field(min_length=1)
    quantity: PositiveInt
    title: str = ""
    requires_shipping: bool = True
    kit_id: str | None = Field(
        default=None, description="Lines of one kit or bundle share it; the split policy can keep them together."
    )


class Order(Model):
    """One order as Meshline sees it, whichever platform it came from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant_id: TenantId
    order_id: OrderId
    platform: Platform
    platform_order_id: str = Field(min_length=1)
    order_name: str | None = Field(default=None, description="The number the merchant and customer see, e.g. '#9999'.")
    placed_at: UtcDatetime
    status: OrderStatus = OrderStatus.OPEN
    cancelled_at: UtcDatetime | None = None
    cancel_reason: str | None = None
    test: bool = Field(default=False, description="The platform marked it as a test order.")
    service_level: ServiceLevel = ServiceLevel.STANDARD
    destination: Address | None = None
    lines: list[OrderLine] = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)
    promotions: list[str] = Field(default_factory=list, description="Discount or promotion codes applied.")

    def shippable_lines(self) -> list[OrderLine]:
        return [line for line in self.lines if line.requires_shipping]
