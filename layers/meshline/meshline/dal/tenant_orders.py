"""A tenant's orders by placed-at time: the sparse `TenantOrders` index, on two tables.

Both carry `tenant_orders` (the tenant) and `placed_key` (`<placed at, UTC>#<order id>`):
- on the exports table, version 1 of each order: the policy dry run's "last N orders",
  and the orders a report covers;
- on the receipts table, each webhook that announced an order's creation: what the
  reconciliation report counts as received.

Callers are stores built for a scope (`meshline.dal.scope`): they check the tenant first.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from meshline.dal.aws import client
from meshline.domain.types import format_utc

TENANT_ORDERS_INDEX = "TenantOrders"


class TooManyOrders(ValueError):
    """More orders than a caller may read at once (answered 400: narrow the window)."""


def placed_key(placed_at: datetime, order_id: str) -> str:
    return f"{format_utc(placed_at)}#{order_id}"


def placed_at_of(item: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(item["placed_key"]["S"].split("#", 1)[0])


def placed_between(table: str, tenant_id: str, first_day: date, last_day: date, at_most: int) -> list[dict[str, Any]]:
    """The index items of the tenant's orders placed from `first_day` to `last_day` (UTC
    days, both included), oldest first. Raises TooManyOrders once more than `at_most`
    distinct orders are found, before reading further."""
    # Day strings bound the keys: '2026-11-02T...#x' sorts after '2026-11-02' and before '2026-11-03'.
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": TENANT_ORDERS_INDEX,
        "KeyConditionExpression": "tenant_orders = :tenant AND placed_key BETWEEN :first AND :after",
        "ExpressionAttributeValues": {":tenant": {"S": tenant_id}, ":first": {"S": first_day.isoformat()},
                                      ":after": {"S": (last_day + timedelta(days=1)).isoformat()}},
    }
    items: list[dict[str, Any]] = []
    orders: set[str] = set()
    while True:
        response = client("dynamodb").query(**request)
        for item in response.get("Items", []):
            orders.add(item["order_id"]["S"])
            if len(orders) > at_most:
                raise TooManyOrders(f"more than {at_most} orders were placed from {first_day} to {last_day}: "
                                    "ask for a shorter window")
            items.append(item)
        if "LastEvaluatedKey" not in response:
            return items
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
