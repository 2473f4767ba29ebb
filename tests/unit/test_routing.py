"""The first routing rule, its explanation, and its determinism."""

from meshline.domain.exports import IntendedAction, LineAction
from meshline.domain.orders import OrderStatus
from meshline.domain.routing import decide
from meshline.domain.validation import export_schema_errors

from .domain_builders import NOW, order, stock, tenant, trigger


def test_routes_every_line_to_the_highest_priority_warehouse_holding_all_of_them():
    export = decide(order(("A", 2), ("B", 1)), tenant(), stock(A={"east": 5, "west": 5}, B={"west": 1}), trigger(), None, NOW)
    assert export.intended_action is IntendedAction.ROUTE
    assert {(line.sku, line.action, line.warehouse_id) for line in export.lines} == {
        ("A", LineAction.SHIP, "west"),
        ("B", LineAction.SHIP, "west"),
    }
    assert export.owning_party == "3pl:west-fulfil"
    assert export.watchers == ["agency:fulfillment-team", "merchant:acme"]
    east, west = export.explanation
    assert (east.warehouse_id, east.kept, east.rule) == ("east", False, "holds_all_lines")
    assert east.detail == "short of B (needs 1, has 0)"
    assert (west.warehouse_id, west.kept, west.detail) == ("west", True, "holds every line; chosen")
    assert export.exception_path.retry_budget == 2
    assert export_schema_errors(export.model_dump(mode="json")) == []


def test_repeated_skus_are_counted_together_against_stock():
    export = decide(order(("A", 2), ("A", 2)), tenant(), stock(A={"east": 3, "west": 4}), trigger(), None, NOW)
    assert export.warehouses() == ["west"]


def test_backorders_when_no_warehouse_holds_every_line():
    export = decide(order(("A", 9)), tenant(), stock(A={"east": 5, "west": 8}), trigger(), None, NOW)
    assert export.intended_action is IntendedAction.BACKORDER
    assert all(line.action is LineAction.BACKORDER and line.warehouse_id is None for line in export.lines)
    assert export.owning_party == "merchant:acme"
    assert export.exception_path.kind == "human_queue"
    assert export.sla.ship_by is None
    assert [entry.kept for entry in export.explanation] == [False, False]


def test_a_cancelled_order_routes_nothing():
    cancelled = order(("A", 1)).model_copy(update={"status": OrderStatus.CANCELLED})
    export = decide(cancelled, tenant(), stock(A={"east": 5}), trigger(), None, NOW)
    assert export.intended_action is IntendedAction.CANCEL
    assert export.warehouses() == []
    assert export.owning_party == "agency:fulfillment-team"


def test_the_same_inputs_give_the_same_export_byte_for_byte():
    inputs = (order(("A", 1)), tenant(), stock(A={"east": 1}), trigger(), None, NOW)
    assert decide(*inputs).canonical_json() == decide(*inputs).canonical_json()


def test_different_inputs_give_a_different_inputs_hash():
    first = decide(order(("A", 1)), tenant(), stock(A={"east": 1}), trigger(), None, NOW)
    second = decide(order(("A", 1)), tenant(), stock(A={"east": 2}), trigger(), None, NOW)
    assert first.decision_version.inputs_hash != second.decision_version.inputs_hash
    assert first.decision_version.policy_version == "acme/2026-11-01"


def test_a_new_version_supersedes_the_previous_and_extends_its_audit_trail():
    first = decide(order(("A", 1)), tenant(), stock(A={"east": 1}), trigger(), None, NOW)
    second = decide(order(("A", 1)), tenant(), stock(A={"west": 1}), trigger(), first, NOW)
    assert (second.version, second.export_id) == (2, "acme:shopify-1001:v2")
    assert second.supersedes is not None
    assert (second.supersedes.export_id, second.supersedes.content_hash) == (first.export_id, first.content_hash)
    assert second.audit_trail[:1] == first.audit_trail
    assert second.audit_trail[1].change.startswith("v2 (order_created): route 1 line(s) to west")
