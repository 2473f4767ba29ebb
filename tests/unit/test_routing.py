"""The routing engine: rules, filters, sorts, split and backorder policies, ownership,
exception paths, instructions and the explanation, one behaviour per test."""

from datetime import date, timedelta

import pytest
from pydantic import ValidationError

from meshline.domain.exports import IntendedAction, LineAction
from meshline.domain.inventory import StockSnapshot
from meshline.domain.orders import Address, GeoPoint, OrderLine, OrderStatus
from meshline.domain.policy import PolicyDraft, TenantPolicy, Warehouse
from meshline.domain.routing import decide
from meshline.domain.validation import export_schema_errors

from .domain_builders import EAST, KENTUCKY, NOW, WEST, order, policy, stock, trigger


def route(the_order, the_policy, the_stock, previous=None, now=NOW):
    export = decide(the_order, the_policy, the_stock, trigger(the_order.order_id), previous, now)
    assert export_schema_errors(export.model_dump(mode="json")) == []
    return export


def shipped(export):
    return {line.line_id: line.warehouse_id for line in export.lines if line.action is LineAction.SHIP}


def candidate(export, warehouse_id):
    return next(c for c in export.explanation.candidates if c.warehouse_id == warehouse_id)


# --- the default policy ------------------------------------------------------------------


def test_ships_everything_from_the_best_ranked_warehouse_that_holds_every_line():
    export = route(order(("A", 2), ("B", 1)), policy(), stock(A={"east": 5, "west": 5}, B={"west": 1}))
    assert export.intended_action is IntendedAction.ROUTE
    assert shipped(export) == {"1": "west", "2": "west"}
    assert export.owning_party == "3pl:west-fulfil"
    assert export.watchers == ["agency:fulfillment-team", "merchant:acme"]
    east = candidate(export, "east")
    assert (east.kept, east.rank, east.score, east.allocated_lines) == (True, 1, {"priority": 1}, [])
    assert east.detail == "short of Bx1 (can ship 0)"
    west = candidate(export, "west")
    assert (west.rank, west.allocated_lines) == (2, ["1", "2"])
    [shipment] = export.shipments
    assert (shipment.warehouse_id, shipment.line_ids, shipment.ship_by) == ("west", ["1", "2"], export.sla.ship_by)


def test_repeated_skus_are_counted_together_against_stock():
    export = route(order(("A", 2), ("A", 2)), policy(), stock(A={"east": 3, "west": 4}))
    assert set(shipped(export).values()) == {"west"}


def test_backorders_everything_when_no_warehouse_holds_every_line_by_default():
    export = route(order(("A", 9)), policy(), stock(A={"east": 5, "west": 8}))
    assert export.intended_action is IntendedAction.BACKORDER
    assert [line.action for line in export.lines] == [LineAction.BACKORDER]
    assert export.owning_party == "merchant:acme"
    assert export.sla.ship_by is None
    assert export.sla.promised_by == NOW + timedelta(days=7)
    assert export.valid_until == NOW + timedelta(hours=24)
    assert export.exception_path.on == "default"


def test_a_cancelled_order_routes_nothing():
    cancelled = order(("A", 1)).model_copy(update={"status": OrderStatus.CANCELLED})
    export = route(cancelled, policy(), stock(A={"east": 5}))
    assert export.intended_action is IntendedAction.CANCEL
    assert export.warehouses() == []
    assert export.owning_party == "agency:fulfillment-team"


def test_an_order_with_nothing_to_ship_goes_to_no_warehouse():
    digital = order(OrderLine(line_id="1", sku="GIFT-CARD", quantity=1, requires_shipping=False))
    export = route(digital, policy(), stock())
    assert export.intended_action is IntendedAction.NOTHING_TO_SHIP
    assert [line.action for line in export.lines] == [LineAction.NO_SHIPPING]
    assert export.shipments == [] and export.owning_party == "merchant:acme"


# --- filters -----------------------------------------------------------------------------


def test_filters_eliminate_warehouses_and_the_explanation_names_the_filter():
    canada_only = Warehouse(warehouse_id="toronto", priority=0, operator="3pl:north", serves=["CA"])
    cold = Warehouse(warehouse_id="cold", priority=1, operator="3pl:cold", tags=["cold-chain"])
    rules = [{"name": "main", "filters": [{"kind": "serves_destination"}, {"kind": "required_tags", "tags": ["cold-chain"]}]}]
    export = route(order(("A", 1)), policy(canada_only, cold, EAST, routing=rules), stock(A={"toronto": 9, "cold": 9, "east": 9}))
    assert shipped(export) == {"1": "cold"}
    toronto, east = candidate(export, "toronto"), candidate(export, "east")
    assert (toronto.kept, toronto.eliminated_by, toronto.rank) == (False, "serves_destination", None)
    assert toronto.detail == "does not serve US-KY (serves CA)"
    assert (east.eliminated_by, east.detail) == ("required_tags", "lacks tag cold-chain")


def test_a_region_served_counts_for_that_region_only():
    kentucky = Warehouse(warehouse_id="ky", priority=0, operator="3pl:ky", serves=["US-KY"])
    rules = [{"name": "main", "filters": [{"kind": "serves_destination"}]}]
    ohio = Address(line1="1 Main St", city="Columbus", region_code="OH", country_code="US")
    assert shipped(route(order(("A", 1)), policy(kentucky, WEST, routing=rules), stock(A={"ky": 1, "west": 1}))) == {"1": "ky"}
    assert shipped(route(order(("A", 1), destination=ohio), policy(kentucky, WEST, routing=rules), stock(A={"ky": 1, "west": 1}))) == {"1": "west"}


def test_safety_stock_is_never_allocated():
    rules = [{"name": "main", "filters": [{"kind": "safety_stock", "units": 2, "per_sku": {"B": 0}}]}]
    export = route(order(("A", 3), ("B", 1)), policy(routing=rules), stock(A={"east": 4, "west": 5}, B={"east": 1, "west": 1}))
    assert set(shipped(export).values()) == {"west"}  # east has 4 - 2 = 2 of A above safety stock
    assert candidate(export, "east").detail == "short of Ax3 (can ship 2)"


def test_sku_requirements_keep_hazmat_away_from_warehouses_without_the_tag():
    hazmat = Warehouse(warehouse_id="haz", priority=5, operator="3pl:haz", tags=["hazmat"])
    the_policy = policy(EAST, hazmat, sku_requirements={"BATTERY": ["hazmat"]})
    export = route(order(("BATTERY", 1)), the_policy, stock(BATTERY={"east": 10, "haz": 1}))
    assert shipped(export) == {"1": "haz"}
    assert (candidate(export, "east").eliminated_by, candidate(export, "east").detail) == (
        "sku_requirements", "lacks hazmat needed by the order's SKUs")


def test_excluded_warehouses_and_capacity_left():
    full = Warehouse(warehouse_id="full", priority=0, operator="3pl:full", daily_capacity=2, time_zone="America/New_York")
    rules = [{"name": "main", "filters": [{"kind": "exclude_warehouses", "warehouse_ids": ["east"]}, {"kind": "capacity_left"}]}]
    snapshot = StockSnapshot(levels={"A": {"full": 5, "east": 5, "west": 5}}, dispatches={"full": {date(2026, 11, 25): 2}})
    export = route(order(("A", 1)), policy(full, EAST, WEST, routing=rules), snapshot)
    assert shipped(export) == {"1": "west"}
    assert candidate(export, "east").eliminated_by == "exclude_warehouses"
    assert candidate(export, "full").detail == "2 of 2 dispatches booked on 2026-11-25"
    one_left = StockSnapshot(levels=snapshot.levels, dispatches={"full": {date(2026, 11, 25): 1}})
    assert shipped(route(order(("A", 1)), policy(full, EAST, WEST, routing=rules), one_left)) == {"1": "full"}


# --- sorts ------------------------------------------------------------------------------


def test_sorts_apply_in_order_and_score_every_kept_warehouse():
    near = Warehouse(warehouse_id="near", priority=9, operator="3pl:a", location=GeoPoint(latitude=38.2, longitude=-85.7),
                     cost_per_shipment_cents=900)
    far = Warehouse(warehouse_id="far", priority=1, operator="3pl:b", location=GeoPoint(latitude=34.0, longitude=-118.2),
                    cost_per_shipment_cents=400)
    louisville = KENTUCKY.model_copy(update={"location": GeoPoint(latitude=38.25, longitude=-85.76)})
    the_order = order(("A", 1), destination=louisville)
    levels = stock(A={"near": 3, "far": 8})
    by = lambda *sorts: policy(near, far, routing=[{"name": "r", "sorts": list(sorts)}])  # noqa: E731
    assert shipped(route(the_order, by("distance"), levels)) == {"1": "near"}
    assert shipped(route(the_order, by("priority"), levels)) == {"1": "far"}
    assert shipped(route(the_order, by("cost"), levels)) == {"1": "far"}
    assert shipped(route(the_order, by("stock_level"), levels)) == {"1": "far"}
    export = route(the_order, by("distance", "cost"), levels)
    assert candidate(export, "near").score == {"distance": 8, "cost": 900}
    assert candidate(export, "far").score["distance"] == 2_936  # Louisville to Los Angeles, about 1,824 miles


def test_makes_cutoff_prefers_a_warehouse_that_can_still_ship_today():
    # 14:00 UTC on a Wednesday is 15:00 in Berlin (cutoff 14:00, missed) and 09:00 in New York.
    berlin = Warehouse(warehouse_id="berlin", priority=0, operator="3pl:eu", time_zone="Europe/Berlin", cutoff_local="14:00")
    rules = [{"name": "r", "sorts": ["makes_cutoff", "priority"]}]
    export = route(order(("A", 1)), policy(berlin, EAST, routing=rules), stock(A={"berlin": 1, "east": 1}))
    assert shipped(export) == {"1": "east"}
    assert candidate(export, "berlin").score == {"makes_cutoff": 0, "priority": 0}
    assert candidate(export, "east").score == {"makes_cutoff": 1, "priority": 1}


def test_rules_are_tried_in_order_until_one_ships_every_line():
    rules = [
        {"name": "east-only", "filters": [{"kind": "exclude_warehouses", "warehouse_ids": ["west"]}]},
        {"name": "anywhere"},
    ]
    export = route(order(("A", 4)), policy(routing=rules), stock(A={"east": 1, "west": 9}))
    assert shipped(export) == {"1": "west"}
    assert export.explanation.applied_rule == "anywhere"
    assert [(trial.rule, trial.outcome) for trial in export.explanation.rules_tried] == [
        ("east-only", "no allowed combination of warehouses ships every line"),
        ("anywhere", "ships every line from 1 warehouse(s)"),
    ]


# --- split and backorder policies -------------------------------------------------------------


def three_warehouses(**rules):
    third = Warehouse(warehouse_id="south", priority=3, operator="3pl:south")
    return policy(EAST, WEST, third, **rules)


SPREAD = stock(A={"east": 1}, B={"west": 1}, C={"south": 1})


def test_never_split_with_ship_available_ships_what_one_warehouse_has():
    export = route(order(("A", 1), ("B", 1), ("C", 1)), three_warehouses(backorder={"mode": "ship_available"}), SPREAD)
    assert shipped(export) == {"1": "east"}
    assert [line.action for line in export.lines] == [LineAction.SHIP, LineAction.BACKORDER, LineAction.BACKORDER]
    assert export.intended_action is IntendedAction.ROUTE
    assert export.sla.promised_by == NOW + timedelta(days=7)


def test_minimize_shipments_covers_the_order_with_as_few_warehouses_as_it_can():
    export = route(order(("A", 1), ("B", 1), ("C", 1)), three_warehouses(split={"mode": "minimize_shipments"}),
                   stock(A={"east": 1, "south": 1}, B={"west": 1, "south": 1}, C={"south": 1}))
    assert set(shipped(export).values()) == {"south"}
    spread = route(order(("A", 1), ("B", 1), ("C", 1)), three_warehouses(split={"mode": "minimize_shipments"}), SPREAD)
    assert spread.intended_action is IntendedAction.SPLIT
    assert shipped(spread) == {"1": "east", "2": "west", "3": "south"}
    assert [s.warehouse_id for s in spread.shipments] == ["east", "west", "south"]
    assert spread.owning_party == "agency:fulfillment-team"


def test_up_to_n_shipments_backorders_beyond_the_limit_or_waits():
    limited = three_warehouses(split={"mode": "up_to", "max_shipments": 2}, backorder={"mode": "ship_available"})
    export = route(order(("A", 1), ("B", 1), ("C", 1)), limited, SPREAD)
    assert len(export.shipments) == 2
    assert [line.action for line in export.lines].count(LineAction.BACKORDER) == 1
    waiting = three_warehouses(split={"mode": "up_to", "max_shipments": 2})
    assert route(order(("A", 1), ("B", 1), ("C", 1)), waiting, SPREAD).intended_action is IntendedAction.BACKORDER


def test_kit_components_ship_together():
    kit = [OrderLine(line_id="1", sku="A", quantity=1, kit_id="k1"), OrderLine(line_id="2", sku="B", quantity=1, kit_id="k1")]
    the_stock = stock(A={"east": 1, "west": 1}, B={"west": 1})
    together = route(order(*kit), policy(split={"mode": "minimize_shipments"}), the_stock)
    assert shipped(together) == {"1": "west", "2": "west"}
    apart = route(order(*kit, OrderLine(line_id="3", sku="C", quantity=1)),
                  policy(split={"mode": "minimize_shipments", "keep_kits_together": False}),
                  stock(A={"east": 1}, B={"west": 1}, C={"east": 1}))
    assert shipped(apart) == {"1": "east", "2": "west", "3": "east"}


def test_cancel_after_n_days_waits_then_cancels():
    the_policy = policy(backorder={"mode": "cancel_after", "cancel_after_days": 3, "review_every_hours": 48})
    waiting = route(order(("A", 5)), the_policy, stock(A={"east": 1}), now=NOW + timedelta(days=2))
    assert waiting.intended_action is IntendedAction.BACKORDER
    assert waiting.valid_until == NOW + timedelta(days=3)  # the cancel deadline comes before the next review
    cancelled = route(order(("A", 5)), the_policy, stock(A={"east": 1}), now=NOW + timedelta(days=3))
    assert cancelled.intended_action is IntendedAction.CANCEL
    assert all(line.action is LineAction.CANCEL for line in cancelled.lines)
    assert "still short 3 day(s)" in cancelled.explanation.summary


# --- ownership, exception paths, instructions ----------------------------------------------------


def test_ownership_exception_paths_and_watchers_come_from_the_policy():
    the_policy = policy(
        watchers=["agency:night-desk"],
        owners={"route": "agency:dispatch-desk", "backorder": "agency"},
        exception_paths=[
            {"on": "default"},
            {"on": "dispatch", "retry_budget": 2, "fallback": "reroute",
             "ladder": [{"contact": "ops@acme.example", "within_minutes": 30}, {"contact": "agency:lead", "within_minutes": 120}]},
            {"on": "backorder", "ladder": [{"contact": "merchant:acme", "within_minutes": 1440}]},
        ],
    )
    routed = route(order(("A", 1)), the_policy, stock(A={"east": 1}))
    assert routed.owning_party == "agency:dispatch-desk"
    assert routed.watchers == ["agency:night-desk", "agency:fulfillment-team", "merchant:acme"]
    path = routed.exception_path
    assert (path.on, path.kind, path.retry_budget, path.fallback) == ("dispatch", "auto_retry", 2, "reroute")
    assert path.contacts == ["ops@acme.example", "agency:lead"]
    backordered = route(order(("A", 9)), the_policy, stock(A={"east": 1}))
    assert backordered.owning_party == "agency:fulfillment-team"
    assert (backordered.exception_path.on, backordered.exception_path.kind) == ("backorder", "auto_escalate")


def test_instructions_attach_to_the_shipped_lines_they_match():
    the_policy = policy(instructions=[
        {"kind": "gift_wrap", "text": "Wrap in kraft paper", "order_tags": ["gift"]},
        {"kind": "promotional_insert", "text": "Add the winter catalogue", "promotions": ["WINTER26"]},
        {"kind": "packing", "text": "Bubble-wrap the mug", "skus": ["MUG"]},
    ])
    the_order = order(("MUG", 1), ("TEE", 1), tags=["gift"], promotions=["WINTER26"])
    export = route(the_order, the_policy, stock(MUG={"east": 1}, TEE={"east": 1}))
    assert [(i.line_id, i.kind) for i in export.instructions] == [
        ("1", "gift_wrap"), ("1", "promotional_insert"), ("1", "packing"), ("2", "gift_wrap"), ("2", "promotional_insert")]
    plain = route(order(("MUG", 1), ("TEE", 1)), the_policy, stock(MUG={"east": 1}, TEE={"east": 1}))
    assert [(i.line_id, i.kind) for i in plain.instructions] == [("1", "packing")]


# --- versions, determinism, hashes -------------------------------------------------------


def test_the_same_inputs_give_the_same_export_byte_for_byte():
    inputs = (order(("A", 1)), policy(), stock(A={"east": 1}), trigger(), None, NOW)
    assert decide(*inputs).canonical_json() == decide(*inputs).canonical_json()


def test_the_decision_names_the_policy_version_and_hashes_every_input():
    first = route(order(("A", 1)), policy(), stock(A={"east": 1}))
    assert (first.decision_version.policy_version, first.decision_version.policy_hash) == (1, policy().policy_hash)
    changed_stock = route(order(("A", 1)), policy(), stock(A={"east": 2}))
    changed_policy = route(order(("A", 1)), policy(version=2), stock(A={"east": 1}))
    reordered = route(order(("A", 1)), policy(), StockSnapshot(levels={"A": {"west": 0, "east": 1}}))
    assert first.decision_version.inputs_hash != changed_stock.decision_version.inputs_hash
    assert first.decision_version.inputs_hash != changed_policy.decision_version.inputs_hash
    assert first.decision_version.inputs_hash == reordered.decision_version.inputs_hash  # same facts, other order


def test_a_new_version_supersedes_the_previous_and_extends_its_audit_trail():
    first = route(order(("A", 1)), policy(), stock(A={"east": 1}))
    second = route(order(("A", 1)), policy(), stock(A={"west": 1}), previous=first)
    assert (second.version, second.export_id) == (2, "acme:shopify-1001:v2")
    assert (second.supersedes.export_id, second.supersedes.content_hash) == (first.export_id, first.content_hash)
    assert second.audit_trail[:1] == first.audit_trail
    assert second.audit_trail[1].change == "v2 (order_created): rule 'default': ship 1 line(s) from west"


def test_an_order_is_never_decided_under_another_tenants_policy():
    other = TenantPolicy(tenant_id="globex", version=1, warehouses=[EAST])
    with pytest.raises(ValueError, match="tenant 'acme' cannot be decided under a policy of 'globex'"):
        decide(order(("A", 1)), other, stock(), trigger(), None, NOW)


# --- a bad policy is refused, naming the field ---------------------------------------------------


@pytest.mark.parametrize(
    ("draft", "message"),
    [
        ({"warehouses": []}, "warehouses"),
        ({"warehouses": [{"warehouse_id": "a", "operator": "3pl:a", "time_zone": "Mars/Olympus"}]}, "unknown IANA time zone 'Mars/Olympus'"),
        ({"warehouses": [{"warehouse_id": "a", "operator": "3pl:a", "cutoff_local": "25:00"}]}, "warehouses.0.cutoff_local"),
        ({"warehouses": [{"warehouse_id": "a", "operator": "3pl:a", "opens_local": "16:00"}]}, "opens_local 16:00 must be before cutoff_local 15:00"),
        ({"warehouses": [{"warehouse_id": "a", "operator": "3pl:a"}] * 2}, "duplicate warehouse_id a"),
        ({"warehouses": [{"warehouse_id": "a", "operator": "3pl:a"}],
          "routing": [{"name": "r", "filters": [{"kind": "exclude_warehouses", "warehouse_ids": ["b"]}]}]}, "excludes unknown warehouse b"),
        ({"warehouses": [{"warehouse_id": "a", "operator": "3pl:a"}], "routing": [{"name": "r", "filters": [{"kind": "teleport"}]}]},
         "routing.0.filters.0"),
        ({"warehouses": [{"warehouse_id": "a", "operator": "3pl:a"}], "backorder": {"mode": "cancel_after"}}, "requires cancel_after_days"),
        ({"warehouses": [{"warehouse_id": "a", "operator": "3pl:a"}], "exception_paths": [{"on": "dispatch"}]}, "on='default' is required"),
        ({"warehouses": [{"warehouse_id": "a", "operator": "3pl:a"}], "split": {"mode": "sometimes"}}, "split.mode"),
    ],
)
def test_a_bad_policy_is_refused_with_an_error_naming_the_field(draft, message):
    with pytest.raises(ValidationError) as error:
        PolicyDraft.model_validate(draft)
    assert message in str(error.value)


def test_the_inputs_hash_ignores_the_order_in_which_a_trigger_was_parsed():
    from meshline.domain.exports import Trigger

    first = Trigger(kind="order_created", trigger_id="t", source="s", received_at=NOW, delivery_ids={"a": "1", "b": "2"})
    second = Trigger(kind="order_created", trigger_id="t", source="s", received_at=NOW, delivery_ids={"b": "2", "a": "1"})
    decided = [decide(order(("A", 1)), policy(), stock(A={"east": 1}), t, None, NOW) for t in (first, second)]
    assert decided[0].canonical_json() == decided[1].canonical_json()
