"""Small builders for domain tests: a tenant, stock and orders, without any AWS."""

from datetime import UTC, datetime

from meshline.domain.exports import Trigger, TriggerKind
from meshline.domain.orders import Order, OrderLine, Platform
from meshline.domain.tenants import StockSnapshot, TenantProfile, Warehouse

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # a Wednesday


def tenant(*warehouses: Warehouse) -> TenantProfile:
    return TenantProfile(
        tenant_id="acme",
        policy_version="acme/2026-11-01",
        escalation_contacts=["ops@acme.example"],
        warehouses=list(warehouses)
        or [
            Warehouse(warehouse_id="east", priority=1, operator="3pl:east-logistics", time_zone="America/New_York"),
            Warehouse(warehouse_id="west", priority=2, operator="3pl:west-fulfil", time_zone="America/Los_Angeles"),
        ],
    )


def order(*lines: tuple[str, int], placed_at: datetime = NOW, order_id: str = "shopify-1001") -> Order:
    return Order(
        tenant_id="acme",
        order_id=order_id,
        platform=Platform.SHOPIFY,
        platform_order_id=order_id.removeprefix("shopify-"),
        placed_at=placed_at,
        lines=[OrderLine(line_id=str(index), sku=sku, quantity=quantity) for index, (sku, quantity) in enumerate(lines, 1)],
    )


def stock(**levels: dict[str, int]) -> StockSnapshot:
    return StockSnapshot(levels=levels)


def trigger(order_id: str = "shopify-1001") -> Trigger:
    return Trigger(kind=TriggerKind.ORDER_CREATED, trigger_id=f"order_created:{order_id}", source="shopify:orders/create", received_at=NOW)
