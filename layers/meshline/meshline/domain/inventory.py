"""What the decision reads about the warehouses' current state: stock and dispatches booked."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from pydantic import ConfigDict, Field, NonNegativeInt

from meshline.domain.types import Model, TenantId, UtcDatetime, WarehouseId


class StockSnapshot(Model):
    """Available units per SKU per warehouse, and dispatches already booked per warehouse and
    local ship date, as read at decision time. Only the order's SKUs need to be present."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    levels: dict[str, dict[WarehouseId, NonNegativeInt]] = Field(
        default_factory=dict, description="sku -> warehouse_id -> units available"
    )
    dispatches: dict[WarehouseId, dict[date, NonNegativeInt]] = Field(
        default_factory=dict, description="warehouse_id -> local ship date -> dispatches already booked"
    )

    def available(self, sku: str, warehouse_id: str) -> int:
        return self.levels.get(sku, {}).get(warehouse_id, 0)

    def booked(self, warehouse_id: str, day: date) -> int:
        return self.dispatches.get(warehouse_id, {}).get(day, 0)

    def with_bookings(self, booked: Mapping[tuple[str, date], int]) -> StockSnapshot:
        """This snapshot after dispatches booked since it was read (by warehouse and ship
        day), on the days it counts: what an order decided after others in the same batch
        must see."""
        moved = {wh: {day: count + booked.get((wh, day), 0) for day, count in days.items()}
                 for wh, days in self.dispatches.items()}
        return self if moved == self.dispatches else StockSnapshot(levels=self.levels, dispatches=moved)

    def restricted_to(self, skus: set[str]) -> StockSnapshot:
        """Only what a decision about these SKUs reads: what replay must record."""
        return StockSnapshot(
            levels={sku: dict(sorted(self.levels[sku].items())) for sku in sorted(skus) if sku in self.levels},
            dispatches={wh: dict(sorted(days.items())) for wh, days in sorted(self.dispatches.items()) if days},
        )


class InventoryLevelChanged(Model):
    """A stock system's news, as an EventBridge event on Meshline's bus: source
    `meshline.inventory`, detail-type `InventoryLevelChanged`, this as its detail."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant_id: TenantId
    sku: str = Field(min_length=1, max_length=100)
    warehouse_id: WarehouseId
    available: NonNegativeInt = Field(description="Units now available at the warehouse.")
    changed_at: UtcDatetime
