"""What routing needs to know about a merchant: its warehouses and the stock they hold.

The full, versioned routing policy is built on top of this (see the decision-brain issue);
the walking skeleton routes by warehouse priority alone.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt

from meshline.domain.types import Party, TenantId, WarehouseId


class Warehouse(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    warehouse_id: WarehouseId
    name: str = ""
    priority: int = Field(ge=0, description="Lower is preferred.")
    time_zone: str = Field(default="UTC", description="IANA zone of the warehouse, e.g. 'America/New_York'.")
    cutoff_local: str = Field(
        default="15:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="Daily pick cutoff, local time."
    )
    operator: Party = Field(description="Who runs it, e.g. '3pl:warehouse-a'.")


class TenantProfile(BaseModel):
    """A merchant's routing inputs, versioned: a change is a new policy_version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant_id: TenantId
    name: str = ""
    policy_version: str = Field(min_length=1, description="Names the policy a decision was made under.")
    agency_team: Party = "agency:fulfillment-team"
    escalation_contacts: list[str] = Field(default_factory=list)
    warehouses: list[Warehouse] = Field(min_length=1)


class StockSnapshot(BaseModel):
    """Available units per SKU per warehouse, as read at decision time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    levels: dict[str, dict[WarehouseId, NonNegativeInt]] = Field(
        default_factory=dict, description="sku -> warehouse_id -> units available"
    )

    def available(self, sku: str, warehouse_id: str) -> int:
        return self.levels.get(sku, {}).get(warehouse_id, 0)
