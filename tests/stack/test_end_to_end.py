"""From a signed webhook to an export in the table, on the warehouse queue, on the bus and in S3."""

import gzip
import json

from meshline.domain.audit import verify_chain
from meshline.domain.validation import export_schema_errors
from meshline_local.freezing import freeze_time
from tests.payloads import (
    SAMPLE_BODY,
    generic_body,
    generic_headers,
    routable_body,
    shopify_headers,
    woocommerce_body,
    woocommerce_headers,
)


def test_the_real_shopify_sample_becomes_a_cancel_export_everywhere_but_on_a_warehouse_queue(stack):
    status, answer = stack.post_webhook(SAMPLE_BODY, shopify_headers(SAMPLE_BODY, event_id="evt-sample"))
    assert (status, answer["status"], answer["order_id"]) == (202, "accepted", "shopify-820982911946154508")
    stack.runtime.settle()

    [document] = stack.exports.history("acme", "shopify-820982911946154508")
    assert document["intended_action"] == "cancel"
    assert [line["action"] for line in document["lines"]] == ["cancel", "cancel"]
    assert document["trigger"]["delivery_ids"]["event_id"] == "evt-sample"
    assert export_schema_errors(document) == []
    # What it really is: an order that arrived cancelled, so no warehouse is asked to ship it.
    assert stack.drain(stack.warehouse_queue("east")) == stack.drain(stack.warehouse_queue("west")) == []
    [event] = [json.loads(m["Body"]) for m in stack.drain(stack.tap_url)]
    assert (event["source"], event["detail-type"]) == ("meshline.exports", "ExportPublished")
    assert event["detail"]["export"] == document
    archive = stack.archived()
    assert json.loads(archive["exports/acme/shopify-820982911946154508/v0000000001.json"]) == document


def test_a_routable_order_reaches_its_warehouse_queue_with_the_same_export_everywhere(stack):
    body = routable_body(1002, "2026-11-25T09:30:00-05:00", [("TEE-BLK-M", 1), ("MUG-CLASSIC", 5)])
    status, _ = stack.post_webhook(body, shopify_headers(body, event_id="evt-1002"))
    assert status == 202
    stack.runtime.settle()

    [stored] = stack.exports.history("acme", "shopify-1002")
    assert stored["intended_action"] == "route" and stored["owning_party"] == "3pl:west-fulfil"
    [message] = stack.drain(stack.warehouse_queue("west"))
    assert stack.drain(stack.warehouse_queue("east")) == []
    [event] = [json.loads(m["Body"]) for m in stack.drain(stack.tap_url)]
    archived = stack.archived()["exports/acme/shopify-1002/v0000000001.json"]

    # One export, byte for byte: the table's document, the queue message, the archive object.
    table_bytes = client_document_bytes(stack, "shopify-1002")
    assert message["Body"].encode() == table_bytes == archived
    assert event["detail"]["export"] == stored
    assert event["detail"]["warehouse_queues"] == ["meshline-local-wh-acme-west.fifo"]
    assert message["MessageAttributes"]["export_id"]["StringValue"] == "acme:shopify-1002:v1"
    assert message["Attributes"]["MessageGroupId"] == "acme:shopify-1002"
    assert export_schema_errors(json.loads(message["Body"])) == []
    assert verify_chain([stored]).verified


def client_document_bytes(stack, order_id):
    from meshline.dal.aws import client
    from meshline.dal.exports import document_text

    item = client("dynamodb").get_item(
        TableName=stack.env["DecideFunction"]["EXPORTS_TABLE"],
        Key={"pk": {"S": f"ORDER#acme#{order_id}"}, "sk": {"S": "V#0000000001"}},
    )["Item"]
    # Stored gzipped (half the write units), unzipped to the same bytes.
    assert "document" not in item and gzip.decompress(item["document_gz"]["B"]) == document_text(item).encode()
    assert len(item["document_gz"]["B"]) < len(document_text(item).encode()) / 2
    return document_text(item).encode()


def test_the_same_webhook_five_times_over_five_hours_yields_one_export(stack):
    body = routable_body(1001, "2026-11-25T09:30:00-05:00", [("TEE-BLK-M", 2)])
    headers = shopify_headers(body, event_id="evt-1001")
    answers = []
    with freeze_time("2026-11-25T14:31:00Z") as clock:
        for minutes in (0, 1, 30, 120, 300):  # Shopify's retries reach 4 h; the last one 5 h after the first
            clock.move_to(f"2026-11-25T{14 + (31 + minutes) // 60:02d}:{(31 + minutes) % 60:02d}:00Z")
            answers.append(stack.post_webhook(body, headers))
            stack.runtime.settle()
    assert [status for status, _ in answers] == [202, 200, 200, 200, 200]
    assert [answer["status"] for _, answer in answers] == ["accepted"] + ["duplicate"] * 4
    # The last answer comes from Meshline's own memory (days), not SQS FIFO's 5-minute window.
    assert answers[-1][1]["first_received_at"] == "2026-11-25T14:31:00Z"
    assert len(stack.exports.history("acme", "shopify-1001")) == 1
    assert len(stack.drain(stack.warehouse_queue("east"))) == 1


def test_the_same_event_id_with_another_body_is_refused_and_recorded(stack):
    first = routable_body(1001, "2026-11-25T09:30:00-05:00", [("TEE-BLK-M", 2)])
    second = routable_body(1001, "2026-11-25T09:30:00-05:00", [("TEE-BLK-M", 9)])
    assert stack.post_webhook(first, shopify_headers(first, event_id="evt-1001"))[0] == 202
    status, answer = stack.post_webhook(second, shopify_headers(second, event_id="evt-1001"))
    assert status == 409 and "different body" in answer["message"]
    stack.runtime.settle()
    [document] = stack.exports.history("acme", "shopify-1001")
    assert document["lines"][0]["quantity"] == 2
    from meshline.dal.aws import client

    receipts = client("dynamodb").scan(TableName=stack.env["IngestFunction"]["RECEIPTS_TABLE"])["Items"]
    refusals = [item for item in receipts if item["pk"]["S"].startswith("REFUSED#")]
    assert len(refusals) == 1 and refusals[0]["reason"]["S"] == "delivery id already received with a different body"


def test_forged_malformed_and_unknown_tenant_webhooks_store_nothing(stack):
    body = routable_body(1001, "2026-11-25T09:30:00-05:00", [("TEE-BLK-M", 2)])
    forged = stack.post_webhook(body, shopify_headers(body, secret="guessed", event_id="evt-f"))
    unsigned_headers = {k: v for k, v in shopify_headers(body, event_id="evt-u").items() if k != "X-Shopify-Hmac-Sha256"}
    unsigned = stack.post_webhook(body, unsigned_headers)
    bad = body.replace(b'"quantity": 2', b'"quantity": -1', 1)
    malformed = stack.post_webhook(bad, shopify_headers(bad, event_id="evt-m"))
    not_json = stack.post_webhook(b"{oops", shopify_headers(b"{oops", event_id="evt-j"))
    unknown = stack.post_webhook(body, shopify_headers(body, event_id="evt-x"), tenant_id="nobody")

    assert forged == (401, {"error": "unauthorized", "message": "X-Shopify-Hmac-Sha256 does not match the body signed with this tenant's secret"})
    assert unsigned == (401, {"error": "unauthorized", "message": "missing X-Shopify-Hmac-Sha256 header"})
    assert malformed == (400, {"error": "bad_request", "message": "cannot read the order: line_items[0].quantity must be a positive integer, got -1"})
    assert not_json[0] == 400 and not_json[1]["message"].startswith("cannot read the order: body is not valid JSON")
    assert unknown == (404, {"error": "not_found", "message": "unknown tenant 'nobody' (no Shopify webhook secret is configured)"})
    stack.runtime.settle()
    from meshline.dal.aws import client

    assert client("dynamodb").scan(TableName=stack.env["IngestFunction"]["RECEIPTS_TABLE"])["Items"] == []
    assert stack.all_exports() == []
    assert stack.drain(stack.tap_url) == []


def inbox_record(stack, body, event_id):
    """The decide function and the inbox record a webhook became, taken off the queue before
    the runtime delivers it, so that a test can deliver it itself (and again)."""
    from meshline.dal.aws import client

    stack.post_webhook(body, shopify_headers(body, event_id=event_id))
    inbox = stack.env["IngestFunction"]["ORDER_INBOX_QUEUE_URL"]
    [message] = client("sqs").receive_message(
        QueueUrl=inbox, VisibilityTimeout=0, AttributeNames=["All"], MessageAttributeNames=["All"]
    )["Messages"]
    inbox_source = next(source for source in stack.runtime.sources if getattr(source, "queue_url", None) == inbox)
    return inbox_source.function, inbox_source._record(message)


def test_a_redelivered_inbox_message_creates_no_second_export(stack):
    body = routable_body(1001, "2026-11-25T09:30:00-05:00", [("TEE-BLK-M", 2)])
    # SQS redelivers the very same message (at-least-once) after it was processed once.
    decide, record = inbox_record(stack, body, "evt-1001")
    first = stack.runtime.invoker.invoke(decide, {"Records": [record]})
    again = stack.runtime.invoker.invoke(decide, {"Records": [{**record, "messageId": "m-2"}]})
    assert first == again == {"batchItemFailures": []}
    stack.runtime.settle()
    assert len(stack.exports.history("acme", "shopify-1001")) == 1
    assert len(stack.drain(stack.warehouse_queue("east"))) == 1


def test_archived_exports_are_object_locked(stack):
    import pytest
    from botocore.exceptions import ClientError

    from meshline.dal.aws import client

    body = routable_body(1001, "2026-11-25T09:30:00-05:00", [("TEE-BLK-M", 2)])
    stack.post_webhook(body, shopify_headers(body, event_id="evt-1001"))
    stack.runtime.settle()
    s3, bucket = client("s3"), stack.env["PublishFunction"]["ARCHIVE_BUCKET"]
    key = "exports/acme/shopify-1001/v0000000001.json"
    [version] = s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    # (moto answers GetObjectRetention with a 500 for default retention; the refusal below is the proof.)
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])
    assert s3.get_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])["Body"].read()


def post_woocommerce(stack, body, headers):
    status, _, payload = stack.runtime.handle_http("POST", "/local/webhooks/woocommerce/acme", headers, body)
    return status, json.loads(payload or b"{}")


def test_the_real_woocommerce_sample_travels_to_an_export_on_its_warehouse_queue(stack):
    body = woocommerce_body()
    status, answer = post_woocommerce(stack, body, woocommerce_headers(body, delivery_id="wc-d-727"))
    assert (status, answer["status"], answer["order_id"]) == (202, "accepted", "woocommerce-727")
    stack.runtime.settle()
    [export] = stack.exports.history("acme", "woocommerce-727")
    assert export["trigger"]["source"] == "woocommerce:order.created"
    assert export["trigger"]["delivery_ids"] == {"delivery_id": "wc-d-727", "webhook_id": "7",
                                                 "source": "https://shop.acme-outfitters.example/"}
    assert [(line["line_id"], line["sku"], line["quantity"], line["warehouse_id"]) for line in export["lines"]] == [
        ("315", "product-93", 2, "east"), ("316", "Bar3", 1, "east")
    ]
    [delivered] = stack.drain(stack.warehouse_queue("east"))
    assert json.loads(delivered["Body"]) == export

    again = post_woocommerce(stack, body, woocommerce_headers(body, delivery_id="wc-d-727"))
    forged = post_woocommerce(stack, body, woocommerce_headers(body, secret="wrong", delivery_id="wc-d-x"))
    update = post_woocommerce(stack, body, woocommerce_headers(body, delivery_id="wc-d-u", topic="order.updated"))
    assert again[0] == 200 and again[1]["status"] == "duplicate"
    assert forged == (401, {"error": "unauthorized", "message": "X-WC-Webhook-Signature does not match the body signed with this tenant's secret"})
    assert update[0] == 200 and update[1]["status"] == "ignored"  # not a cancellation: nothing to decide
    stack.runtime.settle()
    assert len(stack.exports.history("acme", "woocommerce-727")) == 1


def post_generic(stack, body, headers):
    status, _, payload = stack.runtime.handle_http("POST", "/local/webhooks/generic/acme", headers, body)
    return status, json.loads(payload or b"{}")


def test_a_generic_source_order_travels_to_an_export_and_a_bad_one_is_refused_naming_the_field(stack):
    body = generic_body("A-1042", [("TEE-BLK-M", 2)])
    status, answer = post_generic(stack, body, generic_headers(body, delivery_id="g-1042"))
    assert (status, answer["status"], answer["order_id"]) == (202, "accepted", "generic-A-1042")
    stack.runtime.settle()
    [export] = stack.exports.history("acme", "generic-A-1042")
    assert export["intended_action"] == "route" and export["trigger"]["source"] == "generic:order.created"

    cancel = generic_body("A-1042", [("TEE-BLK-M", 2)], status="cancelled", cancelled_at="2026-11-25T15:00:00Z")
    assert post_generic(stack, cancel, generic_headers(cancel, delivery_id="g-1042-c", topic="order.cancelled"))[0] == 202
    stack.runtime.settle()
    assert stack.exports.history("acme", "generic-A-1042")[-1]["intended_action"] == "cancel"

    bad = generic_body("A-1043", [("TEE-BLK-M", 0)])
    status, refused = post_generic(stack, bad, generic_headers(bad, delivery_id="g-1043"))
    assert (status, refused["message"]) == (400, "cannot read the order: lines.0.quantity: Input should be greater than 0")
    unsigned = post_generic(stack, body, {**generic_headers(body, delivery_id="g-x"), "X-Meshline-Signature": ""})
    assert unsigned == (401, {"error": "unauthorized", "message": "missing X-Meshline-Signature header"})
