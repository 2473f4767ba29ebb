"""A shop-side cancellation (orders/cancelled) becomes a cancellation request to the
warehouse as a new export version, which the warehouse accepts or refuses."""

from meshline.domain.audit import verify_chain
from tests.payloads import cancelled_body, routable_body, shopify_headers
from tests.stack.test_acknowledgements import answer, latest, place, post, warehouse_of

PLACED = "2026-11-25T09:30:00-05:00"


def cancel(stack, number, lines, event_id=None):
    body = cancelled_body(number, PLACED, lines, cancelled_at="2026-11-25T10:15:00-05:00")
    status, _ = stack.post_webhook(body, shopify_headers(body, event_id=event_id or f"evt-cancel-{number}", topic="orders/cancelled"))
    assert status == 202
    stack.runtime.settle()


def chain_verified(stack, order_id):
    return verify_chain(stack.exports.history("acme", order_id), stack.exports.acknowledgement_documents("acme", order_id)).verified


def test_a_cancellation_is_requested_from_the_warehouse_which_accepts_it(stack):
    lines = [("TEE-BLK-M", 1)]
    order_id = place(stack, 7001, lines)
    first = latest(stack, order_id)
    asked = warehouse_of(first)
    stack.drain(stack.warehouse_queue(asked))
    cancel(stack, 7001, lines)
    request = latest(stack, order_id)
    assert (request["version"], request["intended_action"], request["trigger"]["kind"]) == (2, "cancel", "order_cancelled")
    assert [(line["action"], line["warehouse_id"]) for line in request["lines"]] == [("cancel", asked)]
    assert request["explanation"]["summary"] == f"cancel: the order was cancelled (customer); nothing ships; cancellation requested from {asked}"
    [delivered] = stack.drain(stack.warehouse_queue(asked))
    assert delivered["MessageAttributes"]["intended_action"]["StringValue"] == "cancel"

    status, receipt = post(stack, answer(request, asked, "cancel_accepted", "cx-ok"))
    assert (status, receipt["outcome"]) == (200, "recorded")
    assert latest(stack, order_id)["version"] == 2
    assert chain_verified(stack, order_id)


def test_a_refused_cancellation_goes_to_a_person(stack):
    lines = [("TEE-BLK-M", 1)]
    order_id = place(stack, 7002, lines)
    first = latest(stack, order_id)
    asked = warehouse_of(first)
    assert post(stack, answer(first, asked, "shipped", "shp-7002", tracking_number="1Z7002"))[0] == 200
    cancel(stack, 7002, lines)
    request = latest(stack, order_id)
    status, receipt = post(stack, answer(request, asked, "cancel_refused", "cx-no", reason_code="already_shipped"))
    assert status == 200 and receipt["new_export_id"] == f"acme:{order_id}:v3"
    held = latest(stack, order_id)
    line_id = first["lines"][0]["line_id"]
    assert held["intended_action"] == "hold_for_review" and [line["action"] for line in held["lines"]] == ["hold"]
    assert held["explanation"]["summary"] == (
        f"warehouse {asked} refused to cancel line(s) {line_id} (already_shipped): policy 'default' says hold_for_review; "
        f"line(s) {line_id} held for a person"
    )
    assert held["exception_path"]["on"] == "default" and held["owning_party"] == "agency:fulfillment-team"
    assert chain_verified(stack, order_id)


def test_a_cancellation_that_overtakes_the_creation_is_final(stack):
    lines = [("TEE-BLK-M", 1)]
    cancel(stack, 7003, lines)
    body = routable_body(7003, PLACED, lines)
    assert stack.post_webhook(body, shopify_headers(body, event_id="evt-7003"))[0] == 202
    stack.runtime.settle()
    [only] = stack.exports.history("acme", "shopify-7003")
    assert only["intended_action"] == "cancel" and [line["warehouse_id"] for line in only["lines"]] == [None]
