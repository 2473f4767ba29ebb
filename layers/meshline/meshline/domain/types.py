"""Small value types shared by every model: UTC timestamps, identifiers, parties."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema


class Model(BaseModel):
    """The base of every Meshline model: its validator and serializer are built the first
    time it is used, not when its module is imported. A function imports many more models
    than it uses (an export's module brings the policy's, the escalation's...); built at
    import they cost every cold start about 30 ms (docs/PERFORMANCE.md, cold start)."""

    model_config = ConfigDict(defer_build=True)


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"timestamp has no time zone: '{value.isoformat()}' (expected ISO-8601 UTC)")
    return value.astimezone(UTC)


def format_utc(value: datetime) -> str:
    """ISO-8601 UTC with a 'Z', to the second or with microseconds when present."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


UTC_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"

UtcDatetime = Annotated[
    datetime,
    AfterValidator(_require_utc),
    PlainSerializer(format_utc, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": UTC_PATTERN}),
]

TenantId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,29}$", description="Merchant (tenant) id, lower-case.")]
WarehouseId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,19}$", description="Warehouse id within its tenant.")]
OrderId = Annotated[
    str,
    Field(
        pattern=r"^[a-z]+-[A-Za-z0-9_.-]{1,64}$",
        description="Canonical order id: '<platform>-<platform order id>', unique within a tenant.",
    ),
]
Party = Annotated[
    str,
    Field(
        pattern=r"^(agency|merchant|3pl|platform|system):[a-z0-9][a-z0-9._-]*$",
        description="An owner or watcher, e.g. 'agency:fulfillment-team', 'merchant:acme', '3pl:warehouse-a'.",
    ),
]
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
