"""Re-evaluation on inventory changes through the local stack: an InventoryLevelChanged
event on the bus reaches the re-evaluating function by the template's rule and queue."""

import json
from datetime import UTC, datetime

from meshline.dal.aws import client
from meshline.domain.audit import verify_chain
from tests.stack.test_acknowledgements import answer, latest, other, place, post, warehouse_of


def stock_changed(stack, sku, warehouse_id, available):
    bus = stack.env["PublishFunction"]["EVENT_BUS_NAME"]
    detail = {"tenant_id": "acme", "sku": sku, "warehouse_id": warehouse_id, "available": available,
              "changed_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    response = client("events").put_events(Entries=[{"EventBusName": bus, "Source": "meshline.inventory",
                                                    "DetailType": "InventoryLevelChanged", "Detail": json.dumps(detail)}])
    assert response["FailedEntryCount"] == 0
    stack.runtime.settle()


def test_a_stock_drop_reroutes_an_open_export(stack):
    order_id = place(stack, 8001, [("TEE-BLK-M", 2)])
    first = latest(stack, order_id)
    before = warehouse_of(first)
    stock_changed(stack, "TEE-BLK-M", before, 1)
    second = latest(stack, order_id)
    after = other(before)
    assert (second["version"], warehouse_of(second), second["trigger"]["kind"]) == (2, after, "inventory_changed")
    assert second["explanation"]["summary"] == (
        f"stock changed at warehouse {before}: line(s) {first['lines'][0]['line_id']} decided again: 1 line(s) to {after}"
    )
    assert stack.tenants.load("acme", stack.exports.stored("acme", order_id, 1).inputs.order)[1].available("TEE-BLK-M", before) == 1
    assert verify_chain(stack.exports.history("acme", order_id), stack.exports.acknowledgement_documents("acme", order_id)).verified


def test_backordered_lines_ship_when_stock_arrives(stack):
    order_id = place(stack, 8002, [("JERSEY-LTD", 3)])
    first = latest(stack, order_id)
    assert first["intended_action"] == "backorder"
    [notification] = [e for e in map(lambda m: json.loads(m["Body"]), stack.drain(stack.tap_url))
                      if e["detail-type"] == "CustomerNotificationRequested"]
    assert notification["detail"] == {
        "reason": "backorder", "tenant_id": "acme", "order_id": order_id, "export_id": first["export_id"],
        "service_level": "standard", "promised_by": first["sla"]["promised_by"],
        "lines": [{"line_id": first["lines"][0]["line_id"], "sku": "JERSEY-LTD", "quantity": 3}],
        "part": 1, "parts": 1,
    }
    [queued] = stack.drain(client("sqs").get_queue_url(QueueName="meshline-local-backorders.fifo")["QueueUrl"])
    assert queued["MessageAttributes"]["promised_by"]["StringValue"] == first["sla"]["promised_by"]
    assert json.loads(queued["Body"])["line_ids"] == [first["lines"][0]["line_id"]]
    stock_changed(stack, "JERSEY-LTD", "east", 2)  # east 2 + west 2: still no single warehouse holds 3
    assert latest(stack, order_id)["version"] == 1  # decided again, nothing changed, nothing written
    stock_changed(stack, "JERSEY-LTD", "west", 5)
    shipped = latest(stack, order_id)
    assert (shipped["version"], shipped["intended_action"], warehouse_of(shipped)) == (2, "route", "west")
    assert shipped["sla"]["promised_by"] is None and shipped["sla"]["ship_by"] is not None
    assert [e["detail-type"] for e in map(lambda m: json.loads(m["Body"]), stack.drain(stack.tap_url))] == ["ExportPublished"]


def test_lines_a_warehouse_accepted_stay_with_it(stack):
    order_id = place(stack, 8003, [("TEE-BLK-M", 1)])
    first = latest(stack, order_id)
    assert post(stack, answer(first, warehouse_of(first), "accepted", "acc-8003"))[0] == 200
    stock_changed(stack, "TEE-BLK-M", warehouse_of(first), 0)
    assert latest(stack, order_id)["version"] == 1
