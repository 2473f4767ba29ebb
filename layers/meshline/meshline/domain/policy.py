"""A merchant's routing policy: warehouses, ordered routing rules, split, backorder,
ownership, exception paths and content-operations rules.

A policy is immutable and versioned: a change is a new `TenantPolicy` with the next
`version`. Every export names the version (and the policy's hash) it was decided under,
so any decision can be replayed against exactly the policy that made it.

Rule lists follow Shopify's order-routing rules and HotWax's routing groups: rules are
tried in order; each filters the candidate warehouses, ranks the survivors by its sort
keys, and allocates. The first rule that ships every line wins; otherwise the rule that
ships the most units is kept and the backorder policy decides about the rest.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, time
from enum import StrEnum
from functools import cache, cached_property
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    field_validator,
    model_validator,
)

from meshline.domain.orders import Address, GeoPoint, ServiceLevel
from meshline.domain.types import Model, Party, TenantId, WarehouseId

POLICY_SCHEMA_ID = "https://meshline.dev/schemas/tenant-policy.schema.json"
HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"
RULE_NAME = r"^[a-z0-9][a-z0-9_-]{0,39}$"
TAG = r"^[a-z0-9][a-z0-9_-]{0,39}$"
DESTINATION = r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$"


class _Frozen(Model):
    model_config = ConfigDict(frozen=True, extra="forbid")


@cache
def parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


WEEKDAY_INDEX = {day: index for index, day in enumerate(Weekday)}


class BusinessCalendar(_Frozen):
    working_days: list[Weekday] = Field(
        default_factory=lambda: [Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI],
        min_length=1,
        description="Days the warehouse picks and ships.",
    )
    holidays: list[date] = Field(default_factory=list, description="Local dates the warehouse is closed.")

    @field_validator("working_days")
    @classmethod
    def _distinct_days(cls, days: list[Weekday]) -> list[Weekday]:
        if len(set(days)) != len(days):
            raise ValueError("working_days lists a day twice")
        return days

    @cached_property
    def _closed(self) -> tuple[frozenset[int], frozenset[date]]:
        # Cached on the (frozen) instance: the ship-by engine asks per day, many times per decision.
        open_days = {WEEKDAY_INDEX[day] for day in self.working_days}
        return frozenset(set(range(7)) - open_days), frozenset(self.holidays)

    @cached_property
    def key(self) -> tuple:
        """Identifies the calendar's content, for caching computations over it."""
        return tuple(self.working_days), tuple(self.holidays)

    def is_business_day(self, day: date) -> bool:
        closed_weekdays, holidays = self._closed
        return day.weekday() not in closed_weekdays and day not in holidays


_DISPATCH_PROFILES: dict[tuple, int] = {}


class Warehouse(_Frozen):
    warehouse_id: WarehouseId
    name: str = ""
    operator: Party = Field(description="Who runs it and owns its dispatches, e.g. '3pl:east-logistics'.")
    priority: NonNegativeInt = Field(default=100, description="Lower is preferred by the 'priority' sort.")
    address: Address | None = None
    location: GeoPoint | None = Field(default=None, description="Used by the 'distance' sort.")
    time_zone: str = Field(default="UTC", description="IANA zone, e.g. 'America/New_York'.")
    opens_local: str = Field(default="08:00", pattern=HHMM, description="Picking starts, local time.")
    cutoff_local: str = Field(default="15:00", pattern=HHMM, description="Last pick for same-day dispatch, local time.")
    calendar: BusinessCalendar = Field(default_factory=BusinessCalendar)
    daily_capacity: PositiveInt | None = Field(
        default=None, description="Shipments it can dispatch per business day; None means unlimited."
    )
    cost_per_shipment_cents: NonNegativeInt = 0
    tags: list[Annotated[str, Field(pattern=TAG)]] = Field(
        default_factory=list, description="Capabilities, e.g. 'hazmat', 'cold-chain'."
    )
    serves: list[Annotated[str, Field(pattern=DESTINATION)]] = Field(
        default_factory=list,
        description="Destinations it ships to: country ('US') or country-region ('US-KY'). Empty: everywhere.",
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone '{value}'") from None
        return value

    @model_validator(mode="after")
    def _opens_before_cutoff(self) -> Warehouse:
        if parse_hhmm(self.opens_local) >= parse_hhmm(self.cutoff_local):
            raise ValueError(
                f"warehouse {self.warehouse_id}: opens_local {self.opens_local} must be before cutoff_local {self.cutoff_local}"
            )
        return self

    @cached_property
    def dispatch_profile(self) -> int:
        """A small id shared by warehouses with the same zone, hours and calendar: the
        ship-by engine caches its answers per profile."""
        content = (self.time_zone, self.opens_local, self.cutoff_local, self.calendar.key)
        return _DISPATCH_PROFILES.setdefault(content, len(_DISPATCH_PROFILES))

    def serves_destination(self, destination: Address | None) -> bool:
        if not self.serves or destination is None:
            return not self.serves
        region = f"{destination.country_code}-{destination.region_code}" if destination.region_code else None
        return destination.country_code in self.serves or (region is not None and region in self.serves)


# --- routing rules ----------------------------------------------------------------------


class ServesDestination(_Frozen):
    """Keep warehouses whose `serves` covers the destination (all when `serves` is empty)."""

    kind: Literal["serves_destination"] = "serves_destination"


class RequiredTags(_Frozen):
    """Keep warehouses holding these tags; lines whose SKUs need more (see `sku_requirements`)
    can only ship from warehouses holding those too."""

    kind: Literal["required_tags"] = "required_tags"
    tags: list[Annotated[str, Field(pattern=TAG)]] = Field(default_factory=list)


class ExcludeWarehouses(_Frozen):
    kind: Literal["exclude_warehouses"] = "exclude_warehouses"
    warehouse_ids: list[WarehouseId] = Field(min_length=1)


class SafetyStock(_Frozen):
    """Units a warehouse keeps back: only stock above it can be allocated."""

    kind: Literal["safety_stock"] = "safety_stock"
    units: NonNegativeInt = 0
    per_sku: dict[str, NonNegativeInt] = Field(default_factory=dict, description="Overrides `units` for these SKUs.")

    def reserve(self, sku: str) -> int:
        return self.per_sku.get(sku, self.units)


class CapacityLeft(_Frozen):
    """Keep warehouses with dispatch capacity left on the day they would ship."""

    kind: Literal["capacity_left"] = "capacity_left"


RoutingFilter = Annotated[
    ServesDestination | RequiredTags | ExcludeWarehouses | SafetyStock | CapacityLeft, Field(discriminator="kind")
]


class SortKey(StrEnum):
    PRIORITY = "priority"  # lower first
    DISTANCE = "distance"  # nearest to the destination first; unknown distance last
    STOCK_LEVEL = "stock_level"  # most units of the order's SKUs first
    COST = "cost"  # cheapest shipment first
    MAKES_CUTOFF = "makes_cutoff"  # warehouses that can still dispatch today first


class RoutingRule(_Frozen):
    name: str = Field(pattern=RULE_NAME)
    filters: list[RoutingFilter] = Field(default_factory=list)
    sorts: list[SortKey] = Field(default_factory=lambda: [SortKey.PRIORITY], min_length=1)

    @field_validator("sorts")
    @classmethod
    def _distinct_sorts(cls, sorts: list[SortKey]) -> list[SortKey]:
        if len(set(sorts)) != len(sorts):
            raise ValueError("a sort key is listed twice")
        return sorts


# --- split, backorder, service levels -----------------------------------------------------


class SplitMode(StrEnum):
    NEVER = "never"  # one warehouse ships everything that ships
    MINIMIZE_SHIPMENTS = "minimize_shipments"  # as few warehouses as cover the order
    UP_TO = "up_to"  # at most max_shipments warehouses


class SplitPolicy(_Frozen):
    mode: SplitMode = SplitMode.NEVER
    max_shipments: PositiveInt = Field(default=2, description="Used by mode 'up_to'.")
    keep_kits_together: bool = Field(
        default=True, description="Lines sharing a kit_id always ship from the same warehouse."
    )


class BackorderMode(StrEnum):
    WAIT = "wait"  # ship nothing until everything can ship; promise a date
    SHIP_AVAILABLE = "ship_available"  # ship what can ship now, backorder the rest
    CANCEL_AFTER = "cancel_after"  # wait, and cancel if still short after cancel_after_days


class BackorderPolicy(_Frozen):
    mode: BackorderMode = BackorderMode.WAIT
    promise_days: PositiveInt = Field(default=7, description="Calendar days from the decision to the promise date.")
    cancel_after_days: PositiveInt | None = Field(default=None, description="Required by mode 'cancel_after'.")
    review_every_hours: PositiveInt = Field(default=24, description="A backorder is re-evaluated at least this often.")

    @model_validator(mode="after")
    def _cancel_needs_days(self) -> BackorderPolicy:
        if self.mode is BackorderMode.CANCEL_AFTER and self.cancel_after_days is None:
            raise ValueError("mode 'cancel_after' requires cancel_after_days")
        return self


class ServiceLevelTerms(_Frozen):
    handling_days: NonNegativeInt = Field(
        default=0, description="Business days after the first possible cutoff; 0 ships at the first cutoff."
    )


def _default_service_levels() -> dict[ServiceLevel, ServiceLevelTerms]:
    return {level: ServiceLevelTerms() for level in ServiceLevel}


# --- ownership, exception paths, content operations ----------------------------------------

OwnerRef = Annotated[
    str,
    Field(
        pattern=r"^(warehouse|agency|merchant|(agency|merchant|3pl|platform|system):[a-z0-9][a-z0-9._-]*)$",
        description="A party, or 'warehouse' (the chosen warehouse's operator), 'agency' or 'merchant'.",
    ),
]


class Ownership(_Frozen):
    """Who owns the next action, per intended action."""

    route: OwnerRef = "warehouse"
    split: OwnerRef = "agency"
    backorder: OwnerRef = "merchant"
    cancel: OwnerRef = "agency"
    hold_for_review: OwnerRef = "agency"


class FallbackAction(StrEnum):
    REROUTE = "reroute"  # decide again without the failing warehouse
    HOLD_FOR_REVIEW = "hold_for_review"  # a person decides
    CANCEL = "cancel"


class EscalationStep(_Frozen):
    contact: str = Field(min_length=3, description="A party or an e-mail address.")
    within_minutes: PositiveInt = Field(description="How long this step has to resolve before the next one.")


class ExceptionRule(_Frozen):
    on: str = Field(
        pattern=r"^(default|dispatch|backorder|cancel|hold_for_review|unacknowledged|sla_breach|rejected(:[a-z_]+)?)$",
        description="The failure kind or rejection reason this path handles, e.g. 'rejected:incorrect_address'.",
    )
    retry_budget: NonNegativeInt = 0
    fallback: FallbackAction = FallbackAction.HOLD_FOR_REVIEW
    ladder: list[EscalationStep] = Field(default_factory=list)


class InstructionRule(_Frozen):
    """A packing or content instruction carried on every shipped line it matches."""

    kind: str = Field(pattern=r"^[a-z][a-z_]{0,39}$", description="e.g. 'promotional_insert', 'gift_wrap'.")
    text: str = Field(min_length=1, max_length=500)
    skus: list[str] = Field(default_factory=list)
    order_tags: list[str] = Field(default_factory=list)
    promotions: list[str] = Field(default_factory=list, description="Discount or promotion codes.")

    @model_validator(mode="after")
    def _bound_to_something(self) -> InstructionRule:
        if not (self.skus or self.order_tags or self.promotions):
            raise ValueError(f"instruction '{self.kind}' must name skus, order_tags or promotions")
        return self


class OverrideRules(_Frozen):
    """How people may change a decision by hand."""

    second_approver_for: list[str] = Field(
        default_factory=list,
        description="Resulting intended actions (e.g. 'cancel') or reason codes that need a second operator's signature.",
    )


# --- the policy ---------------------------------------------------------------------------


class PolicyDraft(_Frozen):
    """Everything a merchant decides; what an operator submits. Versioning is added on storage."""

    name: str = ""
    agency_team: Party = "agency:fulfillment-team"
    watchers: list[Party] = Field(default_factory=list, description="Told about every decision.")
    warehouses: list[Warehouse] = Field(min_length=1)
    routing: list[RoutingRule] = Field(
        default_factory=lambda: [RoutingRule(name="default")], min_length=1, description="Tried in order."
    )
    split: SplitPolicy = Field(default_factory=SplitPolicy)
    backorder: BackorderPolicy = Field(default_factory=BackorderPolicy)
    service_levels: dict[ServiceLevel, ServiceLevelTerms] = Field(default_factory=_default_service_levels)
    owners: Ownership = Field(default_factory=Ownership)
    exception_paths: list[ExceptionRule] = Field(
        default_factory=lambda: [ExceptionRule(on="default")], description="Must include 'default'."
    )
    instructions: list[InstructionRule] = Field(default_factory=list)
    overrides: OverrideRules = Field(default_factory=OverrideRules)
    acknowledge_within_minutes: PositiveInt = Field(
        default=60, description="How long a warehouse has to answer an export before silence counts as a failure."
    )
    sku_requirements: dict[str, list[Annotated[str, Field(pattern=TAG)]]] = Field(
        default_factory=dict, description="Warehouse tags a SKU needs, e.g. {'BATTERY-AA': ['hazmat']}."
    )

    @model_validator(mode="after")
    def _coherent(self) -> PolicyDraft:
        ids = [warehouse.warehouse_id for warehouse in self.warehouses]
        duplicated = sorted({wid for wid in ids if ids.count(wid) > 1})
        if duplicated:
            raise ValueError(f"warehouses: duplicate warehouse_id {', '.join(duplicated)}")
        names = [rule.name for rule in self.routing]
        if len(set(names)) != len(names):
            raise ValueError("routing: two rules share a name")
        for rule in self.routing:
            for routing_filter in rule.filters:
                if isinstance(routing_filter, ExcludeWarehouses):
                    unknown = sorted(set(routing_filter.warehouse_ids) - set(ids))
                    if unknown:
                        raise ValueError(f"routing.{rule.name}: excludes unknown warehouse {', '.join(unknown)}")
        keys = [path.on for path in self.exception_paths]
        if "default" not in keys:
            raise ValueError("exception_paths: a rule with on='default' is required")
        if len(set(keys)) != len(keys):
            raise ValueError("exception_paths: two rules handle the same 'on'")
        return self

    @cached_property
    def warehouse_ids_sorted(self) -> list[str]:
        return sorted(warehouse.warehouse_id for warehouse in self.warehouses)

    def warehouse(self, warehouse_id: str) -> Warehouse:
        return next(warehouse for warehouse in self.warehouses if warehouse.warehouse_id == warehouse_id)

    def exception_rule(self, on: str) -> ExceptionRule:
        """The rule for `on`, else for its family ('rejected:x' -> 'rejected'), else the default."""
        by_key = {path.on: path for path in self.exception_paths}
        return by_key.get(on) or by_key.get(on.split(":")[0]) or by_key["default"]

    def terms(self, level: ServiceLevel) -> ServiceLevelTerms:
        return self.service_levels.get(level) or ServiceLevelTerms()


class TenantPolicy(PolicyDraft):
    """One stored, immutable version of a tenant's policy."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={"$id": POLICY_SCHEMA_ID, "title": "Meshline tenant policy"},
    )

    tenant_id: TenantId
    version: PositiveInt

    @property
    def merchant(self) -> str:
        return f"merchant:{self.tenant_id}"

    @cached_property
    def policy_hash(self) -> str:
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @classmethod
    def from_draft(cls, draft: PolicyDraft, tenant_id: str, version: int) -> TenantPolicy:
        return cls.model_validate({**draft.model_dump(), "tenant_id": tenant_id, "version": version})

    def draft(self) -> PolicyDraft:
        return PolicyDraft.model_validate(self.model_dump(exclude={"tenant_id", "version"}))


class PolicyVersionSummary(_Frozen):
    version: PositiveInt
    policy_hash: str
    created_at: str
    created_by: str
    name: str
