"""What every platform adapter needs alike: reading the body, required fields, service
levels from shipping method names, and errors that name the field."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from meshline.domain.errors import InvalidOrder
from meshline.domain.orders import Order, OrderStatus, Platform, ServiceLevel

EXPRESS_WORDS = ("express", "priority", "2-day", "two day", "expedited")
OVERNIGHT_WORDS = ("overnight", "next day", "next-day", "1-day")


def parse_body(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidOrder(f"body is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise InvalidOrder(f"body must be a JSON object, got {type(document).__name__}")
    return document


def require(document: Mapping[str, Any], field: str, where: str = "") -> Any:
    value = document.get(field)
    if value is None or value == "":
        raise InvalidOrder(f"{where}{field} is required")
    return value


def service_level_named(method_names: Iterable[str]) -> ServiceLevel:
    """The service level a shop's shipping method names imply ("Express", "Next day", ...)."""
    titles = " ".join(name.lower() for name in method_names)
    if any(word in titles for word in OVERNIGHT_WORDS):
        return ServiceLevel.OVERNIGHT
    if any(word in titles for word in EXPRESS_WORDS):
        return ServiceLevel.EXPRESS
    return ServiceLevel.STANDARD


def line_items(document: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Each of `line_items`, with the prefix that names it in an error ('line_items[2].')."""
    return each_item(document.get("line_items"), "line_items")


def each_item(items: Any, name: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Each object of the non-empty list `items`, with the prefix that names it in an error
    ('products[2].')."""
    if not isinstance(items, list) or not items:
        raise InvalidOrder(f"{name} must be a non-empty list")
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InvalidOrder(f"{name}[{index}] must be an object")
        yield f"{name}[{index}].", item


def positive_quantity(item: Mapping[str, Any], where: str) -> int:
    quantity = item.get("quantity")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        raise InvalidOrder(f"{where}quantity must be a positive integer, got {quantity!r}")
    return quantity


def invalid_order_from(error: ValidationError) -> InvalidOrder:
    return InvalidOrder(first_problem(error))


def first_problem(error: ValidationError) -> str:
    """'lines.0.quantity: Input should be greater than 0'"""
    first = error.errors()[0]
    location = ".".join(str(part) for part in first["loc"])
    return f"{location}: {first['msg']}"


@contextmanager
def naming_the_field() -> Iterator[None]:
    """Around building a canonical order: a value its models refuse becomes an InvalidOrder
    naming the field."""
    try:
        yield
    except ValidationError as error:
        raise invalid_order_from(error) from None


def canonical_order(platform: Platform, platform_id: str, tenant_id: str, *, cancelled_at: datetime | None,
                    cancel_reason: str | None, **fields: Any) -> Order:
    """`platform`'s order `platform_id` as a canonical order, cancelled when `cancelled_at` is set."""
    return Order(
        tenant_id=tenant_id,
        order_id=f"{platform}-{platform_id}",
        platform=platform,
        platform_order_id=platform_id,
        status=OrderStatus.CANCELLED if cancelled_at else OrderStatus.OPEN,
        cancelled_at=cancelled_at,
        cancel_reason=cancel_reason,
        **fields,
    )
