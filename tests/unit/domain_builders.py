"""Small builders for domain tests: a policy, stock and orders, without any AWS."""

from datetime import UTC, datetime

from meshline.domain.exports import Trigger, TriggerKind
from meshline.domain.inventory import StockSnapshot
from meshline.domain.orders import Address, Order, OrderLine, Platform
from meshline.domain.policy import TenantPolicy, Warehouse

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # a Wednesday

EAST = Warehouse(warehouse_id="east", priority=1, operator="3pl:east-logistics", time_zone="America/New_York")
WEST = Warehouse(warehouse_id="west", priority=2, operator="3pl:west-fulfil", time_zone="America/Los_Angeles")
KENTUCKY = Address(line1="123 Shipping Street", city="Shippington", region_code="KY", country_code="US")


def policy(*warehouses: Warehouse, version: int = 1, **rules) -> TenantPolicy:
    return TenantPolicy(
        tenant_id="acme",
        version=version,
        warehouses=list(warehouses) or [EAST, WEST],
        **rules,
    )


def order(
    *lines: tuple[str, int] | OrderLine,
    placed_at: datetime = NOW,
    order_id: str = "shopify-1001",
    destination: Address | None = KENTUCKY,
    **fields,
) -> Order:
    built = [
        line if isinstance(line, OrderLine) else OrderLine(line_id=str(index), sku=line[0], quantity=line[1])
        for index, line in enumerate(lines, 1)
    ]
    return Order(
        tenant_id="acme",
        order_id=order_id,
        platform=Platform.SHOPIFY,
        platform_order_id=order_id.removeprefix("shopify-"),
        placed_at=placed_at,
        destination=destination,
        lines=built,
        **fields,
    )


def stock(**levels: dict[str, int]) -> StockSnapshot:
    return StockSnapshot(levels=levels)


def trigger(order_id: str = "shopify-1001", kind: TriggerKind = TriggerKind.ORDER_CREATED) -> Trigger:
    return Trigger(kind=kind, trigger_id=f"{kind}:{order_id}", source="shopify:orders/create", received_at=NOW)
