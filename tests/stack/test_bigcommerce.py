"""The real BigCommerce callback, through the local API, to an export on a warehouse queue;
what is refused or ignored stores nothing; a store that cannot answer loses nothing."""

import json
import time

from meshline.dal import bigcommerce_store
from meshline.dal.aws import client
from meshline.domain.validation import export_schema_errors
from tests.payloads import bigcommerce_body, bigcommerce_headers


def post(stack, body, headers, tenant_id="acme"):
    status, _, payload = stack.runtime.handle_http("POST", f"/local/webhooks/bigcommerce/{tenant_id}", headers, body)
    return status, json.loads(payload or b"{}")


def receipts(stack):
    return client("dynamodb").scan(TableName=stack.env["IngestFunction"]["RECEIPTS_TABLE"])["Items"]


def signed(document, webhook_id):
    body = json.dumps(document).encode()
    return body, bigcommerce_headers(body, webhook_id=webhook_id)


def test_the_real_callback_travels_to_an_export_on_its_warehouse_queue(stack):
    body = bigcommerce_body()
    status, answer = post(stack, body, bigcommerce_headers(body, webhook_id="msg_250_created"))
    assert (status, answer["status"], answer["order_id"], answer["delivery_id"]) == (
        202, "accepted", "bigcommerce-250", "msg_250_created")
    stack.runtime.settle()

    [export] = stack.exports.history("acme", "bigcommerce-250")
    assert export["trigger"]["source"] == "bigcommerce:store/order/created"
    assert export["trigger"]["delivery_ids"] == {"webhook_id": "msg_250_created"}
    assert export["intended_action"] == "route" and export["owning_party"] == "3pl:west-fulfil"
    # The documented towel and the brewing system bundled with it: only the west holds both.
    assert [(line["line_id"], line["sku"], line["quantity"], line["warehouse_id"]) for line in export["lines"]] == [
        ("65", "S-ORAN", 1, "west"), ("66", "ABS", 1, "west")]
    assert export_schema_errors(export) == []
    [delivered] = stack.drain(stack.warehouse_queue("west"))
    assert json.loads(delivered["Body"]) == export and stack.drain(stack.warehouse_queue("east")) == []

    # BigCommerce sends a message again with the same webhook-id and a new timestamp.
    again = post(stack, body, bigcommerce_headers(body, webhook_id="msg_250_created", timestamp=int(time.time()) + 5))
    assert again[0] == 200 and again[1]["status"] == "duplicate"
    stack.runtime.settle()
    assert len(stack.exports.history("acme", "bigcommerce-250")) == 1


def test_forged_stale_and_unsigned_callbacks_are_refused_and_store_nothing(stack):
    body = bigcommerce_body()
    forged = post(stack, body, bigcommerce_headers(body, secret="guessed", webhook_id="msg_f"))
    stale = post(stack, body, bigcommerce_headers(body, webhook_id="msg_s", timestamp=int(time.time()) - 600))
    unsigned = post(stack, body, {k: v for k, v in bigcommerce_headers(body, webhook_id="msg_u").items()
                                  if k != "webhook-signature"})
    not_json = post(stack, b"{oops", bigcommerce_headers(b"{oops", webhook_id="msg_j"))
    unknown = post(stack, body, bigcommerce_headers(body, webhook_id="msg_x"), tenant_id="nobody")

    assert forged == (401, {"error": "unauthorized",
                            "message": "webhook-signature does not match the delivery signed with this tenant's secret"})
    assert stale[0] == 401 and stale[1]["message"].endswith(
        "s old; a delivery more than 300 s from Meshline's clock is refused as a possible replay")
    assert unsigned == (401, {"error": "unauthorized",
                              "message": "missing webhook-signature header: BigCommerce signs each delivery (Standard Webhooks)"})
    assert not_json[0] == 400 and not_json[1]["message"].startswith("cannot read the callback: body is not valid JSON")
    assert unknown == (404, {"error": "not_found", "message": "unknown tenant 'nobody' (no BigCommerce webhook secret is configured)"})
    stack.runtime.settle()
    assert receipts(stack) == [] and stack.all_exports() == []


def test_events_meshline_does_not_act_on_are_answered_ignored(stack):
    product, product_headers = signed({"scope": "store/product/updated", "store_id": "1025646",
                                       "data": {"type": "product", "id": 77}}, "msg_p")
    shipped, shipped_headers = signed({"scope": "store/order/statusUpdated", "store_id": "1025646",
                                       "data": {"type": "order", "id": 250,
                                                "status": {"previous_status_id": 11, "new_status_id": 2}}}, "msg_st")
    archived, archived_headers = signed({"scope": "store/order/archived", "data": {"type": "order", "id": 250}}, "msg_a")

    def answer(body, headers):
        status, answered = post(stack, body, headers)
        return status, {key: value for key, value in answered.items() if key != "first_received_at"}

    assert answer(product, product_headers) == (200, {"status": "ignored", "order_id": None, "delivery_id": "msg_p"})
    # A status change other than a cancellation is ignored without asking the store.
    assert answer(shipped, shipped_headers) == (200, {"status": "ignored", "order_id": "bigcommerce-250",
                                                      "delivery_id": "msg_st"})
    assert post(stack, archived, archived_headers)[1]["status"] == "ignored"
    stack.runtime.settle()
    assert receipts(stack) == [] and stack.all_exports() == []


def test_an_order_the_store_cannot_answer_is_refused_retryably_and_arrives_with_the_retry(stack, monkeypatch):
    """Nothing is lost: the 503 stores nothing, so BigCommerce's retry of the same message
    is a first delivery, read and accepted once the store answers again."""
    opened = bigcommerce_store.open_store
    outage = {"on": True}

    class DownWhileTheOutageLasts:
        def __init__(self, store):
            self.store = store

        def order(self, order_id):
            return self.store.order(order_id)  # the order is read; its products are not

        def order_products(self, order_id):
            if outage["on"]:
                raise bigcommerce_store.StoreApiError(f"GET /orders/{order_id}/products: timed out")
            return self.store.order_products(order_id)

        def order_shipping_addresses(self, order_id):
            return self.store.order_shipping_addresses(order_id)

    monkeypatch.setattr(bigcommerce_store, "open_store", lambda *args: DownWhileTheOutageLasts(opened(*args)))
    body = bigcommerce_body()
    refused = post(stack, body, bigcommerce_headers(body, webhook_id="msg_250_outage"))
    assert refused == (503, {"error": "unavailable", "message": (
        "order 250 could not be read from the store, so this delivery was not accepted (send it again): "
        "GET /orders/250/products: timed out")})
    stack.runtime.settle()
    assert receipts(stack) == [] and stack.all_exports() == []

    outage["on"] = False  # BigCommerce retries the message (same webhook-id, a new timestamp)
    status, answer = post(stack, body, bigcommerce_headers(body, webhook_id="msg_250_outage", timestamp=int(time.time()) + 1))
    assert (status, answer["status"]) == (202, "accepted")
    stack.runtime.settle()
    [export] = stack.exports.history("acme", "bigcommerce-250")
    assert export["trigger"]["delivery_ids"] == {"webhook_id": "msg_250_outage"}
    assert len(stack.drain(stack.warehouse_queue("west"))) == 1


def test_a_store_configuration_outside_the_allow_list_is_never_called(stack):
    prefix = stack.env["IngestFunction"]["TENANT_PARAMETER_PREFIX"]
    client("ssm").put_parameter(Name=f"{prefix}/acme/bigcommerce-store", Type="String", Overwrite=True,
                                Value=json.dumps({"store_hash": "abcde", "api_base": "https://169.254.169.254"}))
    body = bigcommerce_body()
    status, answer = post(stack, body, bigcommerce_headers(body, webhook_id="msg_250_ssrf"))
    assert status == 503 and answer["message"].endswith(
        "BigCommerce API base 'https://169.254.169.254' refused: an IP address may not be called, only an allowed host name")
    assert receipts(stack) == []


def test_a_status_update_to_cancelled_cancels_the_order(stack, monkeypatch):
    body = bigcommerce_body()
    assert post(stack, body, bigcommerce_headers(body, webhook_id="msg_250_created"))[0] == 202
    stack.runtime.settle()

    opened = bigcommerce_store.open_store

    class CancelledInTheStore:
        def __init__(self, store):
            self.store = store
            self.order_products = store.order_products
            self.order_shipping_addresses = store.order_shipping_addresses

        def order(self, order_id):
            return {**self.store.order(order_id), "status_id": 5, "status": "Cancelled",
                    "date_modified": "Wed, 25 Nov 2026 15:00:00 +0000"}

    monkeypatch.setattr(bigcommerce_store, "open_store", lambda *args: CancelledInTheStore(opened(*args)))
    update, headers = signed({"scope": "store/order/statusUpdated", "store_id": "1025646",
                              "data": {"type": "order", "id": 250, "status": {"previous_status_id": 7, "new_status_id": 5}}},
                             "msg_250_cancelled")
    status, answer = post(stack, update, headers)
    assert (status, answer["status"], answer["order_id"]) == (202, "accepted", "bigcommerce-250")
    stack.runtime.settle()
    first, second = stack.exports.history("acme", "bigcommerce-250")
    assert second["trigger"]["source"] == "bigcommerce:store/order/statusUpdated"
    assert second["intended_action"] == "cancel" and second["supersedes"]["export_id"] == first["export_id"]
