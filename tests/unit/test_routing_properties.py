"""Properties of the routing engine over random orders, stocks, policies and clocks (hypothesis).

Each property is checked from the export alone against the inputs, without reusing the
engine's own helpers, so a bug in the engine cannot hide itself."""

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshline.domain.exports import (
    IntendedAction,
    LineAction,
    LineChange,
    OperatorSignature,
    OverrideRecord,
    TriggerKind,
    content_hash,
)
from meshline.domain.inventory import StockSnapshot
from meshline.domain.orders import Address, GeoPoint, Order, OrderLine, OrderStatus, Platform, ServiceLevel
from meshline.domain.policy import FallbackAction, SafetyStock, SplitMode, TenantPolicy, Weekday
from meshline.domain.rejections import Reroute
from meshline.domain.routing import decide
from meshline.domain.validation import export_schema_errors

from .domain_builders import trigger

ZONES = ["America/New_York", "America/Los_Angeles", "America/Chicago", "Europe/Berlin", "Europe/London",
         "Asia/Tokyo", "Australia/Sydney", "UTC"]
SKUS = ["A", "B", "C", "D", "E", "F"]
TAGS = ["hazmat", "cold-chain"]
DESTINATIONS = [("US", "KY"), ("US", "CA"), ("CA", "ON"), ("DE", None)]

hhmm = lambda lo, hi: st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(lo, hi), st.sampled_from([0, 15, 30, 45]))  # noqa: E731
instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC))


@st.composite
def warehouses(draw, index):
    holidays = draw(st.lists(st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 1, 31)), max_size=30))
    return {
        "warehouse_id": f"w{index}",
        "operator": f"3pl:op-{index}",
        "priority": draw(st.integers(0, 5)),
        "time_zone": draw(st.sampled_from(ZONES)),
        "opens_local": draw(hhmm(5, 10)),
        "cutoff_local": draw(hhmm(12, 20)),
        "calendar": {"working_days": draw(st.lists(st.sampled_from(list(Weekday)), min_size=1, max_size=7, unique=True)),
                     "holidays": holidays},
        "daily_capacity": draw(st.none() | st.integers(1, 3)),
        "cost_per_shipment_cents": draw(st.integers(0, 1000)),
        "tags": draw(st.lists(st.sampled_from(TAGS), unique=True)),
        "serves": draw(st.sampled_from([[], ["US"], ["US", "CA"], ["US-KY"], ["DE"]])),
        "location": draw(st.none() | st.builds(lambda la, lo: {"latitude": la, "longitude": lo},
                                               st.floats(-60, 60), st.floats(-170, 170))),
    }


filters = st.lists(
    st.one_of(
        st.just({"kind": "serves_destination"}),
        st.builds(lambda tags: {"kind": "required_tags", "tags": tags}, st.lists(st.sampled_from(TAGS), max_size=1, unique=True)),
        st.builds(lambda units: {"kind": "safety_stock", "units": units}, st.integers(0, 3)),
        st.just({"kind": "capacity_left"}),
    ),
    max_size=3,
    unique_by=lambda f: f["kind"],
)


@st.composite
def policies(draw):
    count = draw(st.integers(1, 6))
    rules = [
        {"name": f"rule-{i}", "filters": draw(filters),
         "sorts": draw(st.lists(st.sampled_from(["priority", "distance", "stock_level", "cost", "makes_cutoff"]),
                                min_size=1, max_size=5, unique=True))}
        for i in range(draw(st.integers(1, 3)))
    ]
    backorder = draw(st.sampled_from([{"mode": "wait"}, {"mode": "ship_available"},
                                      {"mode": "cancel_after", "cancel_after_days": 3}]))
    return TenantPolicy.model_validate({
        "tenant_id": "acme",
        "version": draw(st.integers(1, 9)),
        "warehouses": [draw(warehouses(i)) for i in range(count)],
        "routing": rules,
        "split": {"mode": draw(st.sampled_from(list(SplitMode))), "max_shipments": draw(st.integers(1, 4)),
                  "keep_kits_together": draw(st.booleans())},
        "backorder": backorder,
        "service_levels": {level: {"handling_days": draw(st.integers(0, 3))} for level in ServiceLevel},
        "sku_requirements": draw(st.dictionaries(st.sampled_from(SKUS), st.lists(st.sampled_from(TAGS), max_size=1), max_size=2)),
    })


@st.composite
def orders(draw):
    country, region = draw(st.sampled_from(DESTINATIONS))
    lines = [
        OrderLine(line_id=str(i), sku=draw(st.sampled_from(SKUS)), quantity=draw(st.integers(1, 5)),
                  requires_shipping=draw(st.booleans().map(lambda b: b or draw(st.booleans()))),
                  kit_id=draw(st.sampled_from([None, None, "k1", "k2"])))
        for i in range(1, draw(st.integers(1, 8)) + 1)
    ]
    location = draw(st.none() | st.builds(GeoPoint, latitude=st.floats(-60, 60), longitude=st.floats(-170, 170)))
    return Order(tenant_id="acme", order_id="shopify-1", platform=Platform.SHOPIFY, platform_order_id="1",
                 placed_at=draw(instants), service_level=draw(st.sampled_from(list(ServiceLevel))),
                 destination=Address(line1="1 Main St", city="Town", country_code=country, region_code=region, location=location),
                 lines=lines)


@st.composite
def stocks(draw, the_policy):
    ids = [w.warehouse_id for w in the_policy.warehouses]
    levels = {sku: {wid: draw(st.integers(0, 8)) for wid in ids} for sku in SKUS if draw(st.booleans())}
    dispatches = {wid: {draw(st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 1, 31))): draw(st.integers(0, 3))}
                  for wid in ids if draw(st.booleans())}
    return StockSnapshot(levels=levels, dispatches=dispatches)


@st.composite
def decisions(draw):
    the_policy = draw(policies())
    the_order = draw(orders())
    the_stock = draw(stocks(the_policy))
    now = the_order.placed_at + draw(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=6)))
    return the_order, the_policy, the_stock, now


PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(decisions())
def test_every_line_is_covered_exactly_once_and_never_over_allocated(case):
    the_order, the_policy, the_stock, now = case
    export = decide(the_order, the_policy, the_stock, trigger("shopify-1"), None, now)
    assert [line.line_id for line in export.lines] == [line.line_id for line in the_order.lines]
    for line, decided in zip(the_order.lines, export.lines, strict=True):
        assert (decided.sku, decided.quantity) == (line.sku, line.quantity)
        if not line.requires_shipping:
            assert decided.action is LineAction.NO_SHIPPING
    shipped = Counter()
    for line in export.lines:
        if line.action is LineAction.SHIP:
            shipped[(line.sku, line.warehouse_id)] += line.quantity
    rule = next(r for r in the_policy.routing if r.name == export.explanation.applied_rule) if shipped else None
    safety = next((f for f in rule.filters if isinstance(f, SafetyStock)), None) if rule else None
    for (sku, warehouse_id), units in shipped.items():
        reserve = safety.reserve(sku) if safety else 0
        assert units <= the_stock.available(sku, warehouse_id) - reserve
        needed = set(the_policy.sku_requirements.get(sku, []))
        assert needed <= set(the_policy.warehouse(warehouse_id).tags)
    assert export_schema_errors(export.model_dump(mode="json")) == []


@PROPERTY_SETTINGS
@given(decisions())
def test_the_decision_is_deterministic_and_blind_to_dictionary_order(case):
    the_order, the_policy, the_stock, now = case
    first = decide(the_order, the_policy, the_stock, trigger("shopify-1"), None, now)
    shuffled = StockSnapshot(
        levels={sku: dict(reversed(row.items())) for sku, row in reversed(the_stock.levels.items())},
        dispatches=dict(reversed(the_stock.dispatches.items())),
    )
    again = decide(the_order.model_copy(), the_policy.model_copy(), shuffled, trigger("shopify-1"), None, now)
    assert first.canonical_json() == again.canonical_json()


@PROPERTY_SETTINGS
@given(decisions())
def test_split_limits_and_kits_are_respected(case):
    the_order, the_policy, the_stock, now = case
    export = decide(the_order, the_policy, the_stock, trigger("shopify-1"), None, now)
    used = {line.warehouse_id for line in export.lines if line.warehouse_id}
    if the_policy.split.mode is SplitMode.NEVER:
        assert len(used) <= 1
    elif the_policy.split.mode is SplitMode.UP_TO:
        assert len(used) <= the_policy.split.max_shipments
    assert len(export.shipments) == len(used)
    if the_policy.split.keep_kits_together:
        by_kit: dict[str, set] = {}
        for line, decided in zip(the_order.lines, export.lines, strict=True):
            if line.kit_id and line.requires_shipping:
                by_kit.setdefault(line.kit_id, set()).add((decided.action, decided.warehouse_id))
        assert all(len(outcomes) == 1 for outcomes in by_kit.values())
    if export.intended_action is IntendedAction.ROUTE:
        assert len(used) == 1


@PROPERTY_SETTINGS
@given(decisions())
def test_ship_by_is_a_cutoff_on_a_business_day_never_before_placed_at(case):
    the_order, the_policy, the_stock, now = case
    export = decide(the_order, the_policy, the_stock, trigger("shopify-1"), None, now)
    handling = the_policy.terms(the_order.service_level).handling_days
    for shipment in export.shipments:
        warehouse = the_policy.warehouse(shipment.warehouse_id)
        zone = ZoneInfo(warehouse.time_zone)
        local = shipment.ship_by.astimezone(zone)
        assert shipment.ship_by > the_order.placed_at
        assert warehouse.calendar.is_business_day(local.date())
        assert local.time() == time.fromisoformat(warehouse.cutoff_local)  # opens..cutoff never straddles a DST gap here
        assert the_order.placed_at <= shipment.pick_window.start < shipment.pick_window.end == shipment.ship_by
        assert shipment.pick_window.start.astimezone(zone).time() >= time.fromisoformat(warehouse.opens_local)
        # Nothing earlier would do: exactly `handling` business days lie between the first
        # possible dispatch day and the ship day.
        day, business_days_before = local.date() - timedelta(days=1), 0
        while True:
            cutoff = datetime.combine(day, time.fromisoformat(warehouse.cutoff_local), tzinfo=zone)
            if cutoff <= the_order.placed_at:
                break
            business_days_before += warehouse.calendar.is_business_day(day)
            day -= timedelta(days=1)
        assert business_days_before == handling
    if export.shipments:
        assert export.sla.ship_by == min(s.ship_by for s in export.shipments)


@PROPERTY_SETTINGS
@given(decisions(), st.data())
def test_the_content_hash_is_the_sha256_of_the_canonical_json_on_every_path(case, data):
    # The engine writes exports directly in their canonical form (seal_document) rather than
    # dumping the validated model; the hash must still be the one canonical_json defines,
    # for a first decision, a re-route, an override and a cancellation alike.
    the_order, the_policy, the_stock, now = case
    first = decide(the_order, the_policy, the_stock, trigger("shopify-1"), None, now)
    later = now + timedelta(minutes=data.draw(st.integers(0, 3000)))
    exports = [first]
    shipped = [line for line in first.lines if line.action is LineAction.SHIP]
    if shipped:
        rejected = [line.line_id for line in shipped if line.warehouse_id == shipped[0].warehouse_id]
        reroute = Reroute(
            rejected_by=shipped[0].warehouse_id, failure=data.draw(st.sampled_from(["rejected", "silent", "stock_changed"])),
            reason_code="out_of_stock", line_ids=rejected, excluded={line_id: [shipped[0].warehouse_id] for line_id in rejected},
            reroutes_before=data.draw(st.integers(0, 2)), fallback=data.draw(st.sampled_from(list(FallbackAction))),
            exception_path="default", retry_budget=data.draw(st.integers(0, 3)),
        )
        exports.append(decide(the_order, the_policy, the_stock, trigger("shopify-1", TriggerKind.WAREHOUSE_REJECTED),
                              first, later, reroute=reroute))
        cancelled = the_order.model_copy(update={"status": OrderStatus.CANCELLED, "cancel_reason": "customer"})
        exports.append(decide(cancelled, the_policy, the_stock, trigger("shopify-1", TriggerKind.ORDER_CANCELLED), first, later))
    line = data.draw(st.sampled_from(first.lines))
    action = data.draw(st.sampled_from(list(LineAction)))
    change = LineChange(line_id=line.line_id, action=action,
                        warehouse_id=the_policy.warehouses[0].warehouse_id if action is LineAction.SHIP else None)
    signature = OperatorSignature(operator="agency:ops", key_id="alias/ops", value="c2lnbmF0dXJlLWJ5dGVz")
    override = OverrideRecord(expected_version=1, reason_code="manual_reroute", changes=[change], signed_by=signature)
    exports.append(decide(the_order, the_policy, the_stock, trigger("shopify-1", TriggerKind.MANUAL_OVERRIDE), first, later,
                          override=override, justification="the customer asked for it by phone"))
    for export in exports:
        assert export.content_hash == content_hash(export.model_dump(mode="json", exclude={"content_hash"}))
