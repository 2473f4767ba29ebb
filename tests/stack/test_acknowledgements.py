"""Warehouse answers through the local stack: the API and the results queue, rejection and
re-route, refusals, and the order's hash chain as stored (tampering included)."""

import json
from datetime import UTC, datetime

from meshline.dal.aws import client
from meshline.domain.audit import verify_chain
from tests.payloads import routable_body, shopify_headers


def place(stack, number, lines, placed="2026-11-25T09:30:00-05:00"):
    body = routable_body(number, placed, lines)
    status, _ = stack.post_webhook(body, shopify_headers(body, event_id=f"evt-{number}"))
    assert status == 202
    stack.runtime.settle()
    return f"shopify-{number}"


def latest(stack, order_id):
    return max(stack.exports.history("acme", order_id), key=lambda document: document["version"])


def answer(export, warehouse_id, kind, ack_id, **fields):
    return {"ack_id": ack_id, "export_id": export["export_id"], "warehouse_id": warehouse_id, "kind": kind,
            "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), **fields}


def post(stack, body, as_=None):
    status, answer = stack.call("POST", "/acknowledgements", body, as_=as_ or body["warehouse_id"])
    stack.runtime.settle()
    return status, answer


def send_to_results_queue(stack, body):
    url = client("sqs").get_queue_url(QueueName="meshline-local-warehouse-results")["QueueUrl"]
    client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(body))
    stack.runtime.settle()


def warehouse_of(export, position=0):
    return export["lines"][position]["warehouse_id"]


def line_id(export, position):
    return export["lines"][position]["line_id"]


def other(warehouse_id):
    return {"east": "west", "west": "east"}[warehouse_id]


def chain_report(stack, order_id):
    return verify_chain(stack.exports.history("acme", order_id), stack.exports.acknowledgement_documents("acme", order_id))


def test_reject_reroute_accept_ship(stack):
    order_id = place(stack, 3001, [("TEE-BLK-M", 1)])
    first = latest(stack, order_id)
    rejecting = warehouse_of(first)
    stack.drain(stack.warehouse_queue(rejecting))

    status, receipt = post(stack, answer(first, rejecting, "rejected", "rej-1", reason_code="out_of_stock"))
    assert status == 200, receipt
    assert receipt["outcome"] == "recorded" and receipt["new_export_id"] == f"acme:{order_id}:v2"
    second = latest(stack, order_id)
    taker = other(rejecting)
    assert second["version"] == 2 and warehouse_of(second) == taker
    assert second["trigger"]["kind"] == "warehouse_rejected"
    assert second["explanation"]["summary"] == (
        f"warehouse {rejecting} rejected line(s) {line_id(first, 0)} (out_of_stock): re-route 1 of 2, 1 line(s) to {taker}"
    )
    [delivered] = stack.drain(stack.warehouse_queue(taker))
    assert json.loads(delivered["Body"]) == second

    send_to_results_queue(stack, answer(second, taker, "accepted", "acc-1", estimated_ship_date="2026-11-27"))
    status, receipt = post(stack, answer(second, taker, "shipped", "shp-1", carrier="UPS", tracking_number="1Z999AA10123456784"))
    assert (status, receipt["outcome"], receipt["sequence"]) == (200, "recorded", 2)

    answers = stack.exports.acknowledgements("acme", order_id)
    assert [(a.export_version, a.sequence, a.request.kind.value) for a in answers] == [
        (1, 1, "rejected"), (2, 1, "accepted"), (2, 2, "shipped")
    ]
    assert answers[-1].request.tracking_number == "1Z999AA10123456784"
    assert second["acknowledged"] == {"count": 1, "last_hash": answers[0].content_hash}
    report = chain_report(stack, order_id)
    assert report.verified and report.versions == 2, report.problems


def test_a_partial_rejection_reroutes_only_the_rejected_lines(stack):
    order_id = place(stack, 3002, [("TEE-BLK-M", 1), ("MUG-CLASSIC", 1)])
    first = latest(stack, order_id)
    holder = warehouse_of(first, 0)
    assert warehouse_of(first, 1) == holder

    rejected_line = line_id(first, 1)
    status, _ = post(stack, answer(first, holder, "rejected", "rej-2", reason_code="damaged", lines=[{"line_id": rejected_line}]))
    assert status == 200
    second = latest(stack, order_id)
    assert (warehouse_of(second, 0), warehouse_of(second, 1)) == (holder, other(holder))
    assert second["intended_action"] == "split"
    kept = next(s for s in second["shipments"] if s["warehouse_id"] == holder)
    assert kept["line_ids"] == [line_id(first, 0)] and kept["ship_by"] == first["shipments"][0]["ship_by"]


def test_rejected_by_every_warehouse_the_order_is_held_for_a_person(stack):
    order_id = place(stack, 3003, [("TEE-BLK-M", 1)])
    first = latest(stack, order_id)
    post(stack, answer(first, warehouse_of(first), "rejected", "rej-a", reason_code="out_of_stock"))
    second = latest(stack, order_id)
    post(stack, answer(second, warehouse_of(second), "rejected", "rej-b", reason_code="capacity"))
    third = latest(stack, order_id)
    assert third["intended_action"] == "hold_for_review"
    assert [line["action"] for line in third["lines"]] == ["hold"]
    assert third["owning_party"] == "agency:fulfillment-team"
    assert third["exception_path"]["kind"] == "auto_escalate"
    assert [step["contact"] for step in third["exception_path"]["ladder"]] == ["agency:fulfillment-team", "ops@acme-outfitters.example"]
    assert chain_report(stack, order_id).verified


def test_an_incorrect_address_goes_straight_to_the_merchant(stack):
    order_id = place(stack, 3004, [("TEE-BLK-M", 1)])
    first = latest(stack, order_id)
    post(stack, answer(first, warehouse_of(first), "rejected", "rej-addr", reason_code="incorrect_address"))
    held = latest(stack, order_id)
    assert held["intended_action"] == "hold_for_review"
    assert held["exception_path"]["on"] == "rejected:incorrect_address"
    assert [step["contact"] for step in held["exception_path"]["ladder"]] == ["merchant:acme"]


def test_answers_that_cannot_be_accepted_are_refused_clearly_and_recorded(stack):
    order_id = place(stack, 3005, [("TEE-BLK-M", 1)])
    first = latest(stack, order_id)
    holder = warehouse_of(first)
    post(stack, answer(first, holder, "rejected", "rej-5", reason_code="out_of_stock"))
    second = latest(stack, order_id)

    stale = post(stack, answer(first, holder, "accepted", "late-1"))
    assert stale == (409, {"error": "conflict", "message": f"acme:{order_id}:v1 is not the current version of order {order_id}: answer acme:{order_id}:v2 instead"})
    # Through the API a warehouse cannot even see an export that does not name it...
    assert post(stack, answer(second, holder, "accepted", "probe")) == (
        404, {"error": "not_found", "message": f"no export acme:{order_id}:v2"})
    # ...while the results queue (the WMS integration, trusted by IAM) records it as refused.
    send_to_results_queue(stack, answer(second, holder, "accepted", "wrong-wh"))
    unknown = post(stack, answer({"export_id": "acme:shopify-404:v1"}, holder, "accepted", "nope"))
    assert unknown[0] == 404 and unknown[1]["message"] == "no export acme:shopify-404:v1"
    status, invalid = post(stack, {**answer(second, other(holder), "rejected", "no-reason")})
    assert status == 422 and invalid["message"] == "body: Value error, reason_code is required when kind is 'rejected'"

    refused = stack.exports.refused("acme", order_id)
    assert sorted((r["request"]["ack_id"], r["reason"]) for r in refused) == [
        ("late-1", stale[1]["message"]),
        ("wrong-wh", f"warehouse {holder} was sent no line of acme:{order_id}:v2"),
    ]
    # Refusals are records, not chain entries: the chain holds the one accepted answer.
    assert len(stack.exports.acknowledgements("acme", order_id)) == 1
    assert chain_report(stack, order_id).verified


def test_the_same_answer_sent_twice_is_recorded_once(stack):
    order_id = place(stack, 3006, [("TEE-BLK-M", 1)])
    first = latest(stack, order_id)
    body = answer(first, warehouse_of(first), "rejected", "rej-twice", reason_code="out_of_stock")
    assert post(stack, body)[1]["outcome"] == "recorded"
    send_to_results_queue(stack, body)
    again = post(stack, body)
    assert again == (200, {"outcome": "already_recorded", "message": "rej-twice was already recorded", "sequence": None, "new_export_id": None})
    assert len(stack.exports.history("acme", order_id)) == 2
    assert len(stack.exports.acknowledgements("acme", order_id)) == 1


def test_tampering_with_a_stored_answer_or_version_is_detected(stack):
    order_id = place(stack, 3007, [("TEE-BLK-M", 1)])
    first = latest(stack, order_id)
    post(stack, answer(first, warehouse_of(first), "received", "rcv-7"))
    post(stack, answer(first, warehouse_of(first), "rejected", "rej-7", reason_code="out_of_stock"))
    assert chain_report(stack, order_id).verified

    table = stack.env["DecideFunction"]["EXPORTS_TABLE"]
    dynamodb = client("dynamodb")
    key = {"pk": {"S": f"ORDER#acme#{order_id}"}, "sk": {"S": "A#0000000001#000001"}}
    item = dynamodb.get_item(TableName=table, Key=key)["Item"]
    original = item["document"]["S"]
    forged = json.loads(original)
    forged["request"]["kind"] = "accepted"
    dynamodb.put_item(TableName=table, Item={**item, "document": {"S": json.dumps(forged)}})
    report = chain_report(stack, order_id)
    assert not report.verified
    assert report.problems == [f"acme:{order_id}:v1 acknowledgement 1: content_hash does not match its content (altered after it was recorded)"]

    dynamodb.delete_item(TableName=table, Key=key)  # removing it instead breaks the links around it
    problems = chain_report(stack, order_id).problems
    assert any("does not follow the entry before it" in problem for problem in problems), problems
    assert any("names 2 acknowledgement(s)" in problem for problem in problems), problems
    dynamodb.put_item(TableName=table, Item={**item, "document": {"S": original}})  # restored for the replay check
    assert chain_report(stack, order_id).verified
