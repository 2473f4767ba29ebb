"""Orders and exports too large for a DynamoDB item (400 KB) or an SQS message (1 MiB)
travel by reference through S3, named and checked by their sha256 (meshline.dal.payloads).

The orders are the real Shopify sample's shape with thousands of lines, as a B2B
replenishment order has: 2,000 lines make an export and inputs of ~600 KB as JSON (22 KB
gzipped, as the item keeps them); 7,200 lines (3.7 MB of webhook, compact as Shopify
sends it) make an order and an export over 1 MiB.
"""

import gzip
import hashlib
import json

from meshline.dal.aws import client
from meshline.dal.exports import stored_text
from meshline.domain.exports import Export, content_hash
from meshline.domain.payloads import DYNAMODB_ITEM_LIMIT, EVENT_ENTRY_LIMIT, SQS_MESSAGE_LIMIT
from tests.payloads import routable_body, shopify_headers

SKUS = ["TEE-BLK-M", "MUG-CLASSIC", "706405908216", "706405907431"]


def b2b_order(order_id: int, line_count: int) -> bytes:
    document = json.loads(routable_body(order_id, "2026-11-24T10:00:00Z",
                                        [(SKUS[i % len(SKUS)], 1) for i in range(line_count)]))
    for number, line in enumerate(document["line_items"], 1):  # a wholesale catalogue's titles
        line["title"] = f"{line['sku']} case of 24, store #{number:05d} replenishment"
    return json.dumps(document, separators=(",", ":")).encode()  # compact, as Shopify sends it


def export_item(stack, order_id: str, version: int = 1) -> dict:
    return client("dynamodb").get_item(
        TableName=stack.env["DecideFunction"]["EXPORTS_TABLE"],
        Key={"pk": {"S": f"ORDER#acme#{order_id}"}, "sk": {"S": f"V#{version:010d}"}},
    )["Item"]


def payload_of(reference_json: str) -> bytes:
    reference = json.loads(reference_json)
    body = client("s3").get_object(Bucket=reference["bucket"], Key=reference["key"])["Body"].read()
    assert reference["key"] == f"payloads/exports/acme/{reference['sha256']}.json"
    assert hashlib.sha256(body).hexdigest() == reference["sha256"] and len(body) == reference["size_bytes"]
    return body


def bus_events(stack) -> list[dict]:
    return [json.loads(message["Body"]) for message in stack.drain(stack.tap_url)]


def test_an_export_too_large_for_an_item_as_json_is_stored_gzipped(stack):
    body = b2b_order(7001, 2000)
    status, answer = stack.post_webhook(body, shopify_headers(body))
    assert status == 202, answer
    stack.runtime.settle(timeout=120)

    # As JSON the document and inputs are over 400 KB: they could not be one item. Gzipped
    # they are a few tens of KB, and stay in it.
    item = export_item(stack, "shopify-7001")
    assert {"document", "inputs", "document_ref", "inputs_ref"}.isdisjoint(item)
    document, inputs = stored_text(item, "document").encode(), stored_text(item, "inputs").encode()
    assert len(document) + len(inputs) > DYNAMODB_ITEM_LIMIT
    assert len(item["document_gz"]["B"]) + len(item["inputs_gz"]["B"]) < DYNAMODB_ITEM_LIMIT / 10
    export = Export.model_validate_json(document)
    assert len(export.lines) == 2000
    assert export.content_hash == content_hash(export.model_dump(mode="json", exclude={"content_hash"}))
    assert item["content_hash"]["S"] == export.content_hash

    # Published as any export: archived byte for byte, on its warehouses' queues whole
    # (it fits in a message), and announced by reference (it does not fit in an event).
    archived = stack.archived()[f"exports/acme/shopify-7001/v{1:010d}.json"]
    assert archived == document
    for warehouse_id in export.warehouses():
        [message] = stack.drain(stack.warehouse_queue(warehouse_id))
        assert message["Body"].encode() == document
        assert message["MessageAttributes"]["payload"]["StringValue"] == "export"
    [event] = [e for e in bus_events(stack) if e["detail-type"] == "ExportPublished"]
    assert len(document) > EVENT_ENTRY_LIMIT
    assert event["detail"]["export"] is None and event["detail"]["export_id"] == export.export_id
    assert event["detail"]["archive"]["sha256"] == hashlib.sha256(document).hexdigest()

    # Read back through the operators' API, whole, with the chain verified.
    status, read = stack.call("GET", f"/exports/{export.export_id}")
    assert status == 200 and Export.model_validate(read) == export
    status, history = stack.call("GET", "/tenants/acme/orders/shopify-7001/history")
    assert status == 200 and history["chain"]["verified"], history["chain"]


def test_an_export_too_large_for_an_item_even_gzipped_keeps_its_inputs_in_s3(stack, monkeypatch):
    # A webhook is at most 4 MiB, and gzip takes even 7,200 lines under 100 KB: an item
    # budget of 16 KB stands in for an order that would not compress as well.
    monkeypatch.setattr("meshline.dal.exports.EXPORT_ITEM_BUDGET", 16 * 1024)
    body = b2b_order(7003, 2000)
    assert stack.post_webhook(body, shopify_headers(body))[0] == 202
    stack.runtime.settle(timeout=120)

    # The inputs move first (only a replay reads them), as plain JSON; the document then fits, and stays.
    item = export_item(stack, "shopify-7003")
    assert {"inputs", "inputs_gz", "document", "document_ref"}.isdisjoint(item)
    inputs = payload_of(item["inputs_ref"]["S"])
    assert stored_text(item, "inputs").encode() == inputs
    assert len(gzip.compress(inputs)) + len(item["document_gz"]["B"]) > 16 * 1024  # it could not have been one item
    export = Export.model_validate_json(stored_text(item, "document"))
    assert len(export.lines) == 2000
    status, history = stack.call("GET", "/tenants/acme/orders/shopify-7003/history")
    assert status == 200 and history["chain"]["verified"], history["chain"]
    status, replay = stack.call("GET", "/tenants/acme/orders/shopify-7003/replay")  # from the inputs in S3
    assert status == 200 and replay["reproduced"] is True, replay


def test_an_order_too_large_for_a_message_reaches_decide_and_the_warehouses_by_reference(stack):
    body = b2b_order(7002, 7200)
    assert len(body) > 3_000_000
    status, answer = stack.post_webhook(body, shopify_headers(body))
    assert status == 202, answer
    stack.runtime.settle(timeout=120)

    orders = client("s3").list_objects_v2(Bucket=stack.env["PublishFunction"]["ARCHIVE_BUCKET"],
                                          Prefix="payloads/orders/acme/").get("Contents", [])
    assert len(orders) == 1 and orders[0]["Size"] > SQS_MESSAGE_LIMIT  # the order could not travel inline

    item = export_item(stack, "shopify-7002")
    assert "document_ref" not in item and "inputs_ref" not in item  # over 1 MiB as JSON, 69 KB gzipped
    export = Export.model_validate_json(stored_text(item, "document"))
    assert len(export.lines) == 7200
    canonical = export.canonical_json().encode()
    assert len(canonical) > SQS_MESSAGE_LIMIT
    for warehouse_id in export.warehouses():
        [message] = stack.drain(stack.warehouse_queue(warehouse_id))
        assert message["MessageAttributes"]["payload"]["StringValue"] == "reference"
        reference = json.loads(message["Body"])
        assert reference["message_type"] == "ExportByReference" and reference["export_id"] == export.export_id
        assert reference["content_hash"] == export.content_hash
        assert reference["archive"]["sha256"] == hashlib.sha256(canonical).hexdigest()
        # What a warehouse does with it: GET the export with its own credential, check the hash.
        status, fetched = stack.call("GET", reference["fetch"], as_=warehouse_id)
        assert status == 200, fetched
        assert fetched["content_hash"] == reference["content_hash"]
        assert content_hash({k: v for k, v in fetched.items() if k != "content_hash"}) == reference["content_hash"]

    # The lines no warehouse can fill are announced to the customer in parts that each fit in an event.
    events = bus_events(stack)
    [published] = [e for e in events if e["detail-type"] == "ExportPublished"]
    assert published["detail"]["export"] is None and published["detail"]["export_id"] == export.export_id
    notifications = [e["detail"] for e in events if e["detail-type"] == "CustomerNotificationRequested"]
    backordered = [line.line_id for line in export.lines if line.action == "backorder"]
    assert len(notifications) > 1 and {n["parts"] for n in notifications} == {len(notifications)}
    assert sorted(n["part"] for n in notifications) == list(range(1, len(notifications) + 1))
    assert [line["line_id"] for n in sorted(notifications, key=lambda n: n["part"]) for line in n["lines"]] == backordered
    assert all(len(json.dumps(n, separators=(",", ":")).encode()) < EVENT_ENTRY_LIMIT for n in notifications)

    # Reports read the version behind its reference too.
    status, report = stack.call("GET", "/tenants/acme/reports/reconciliation?from=2026-11-24&to=2026-11-24")
    assert status == 200, report
    assert report["orders"] == 1 and report["discrepancies"] == [], report


def test_a_reference_whose_object_was_changed_is_refused_not_trusted(stack):
    import pytest

    from meshline.dal.payloads import PayloadUnreadable, put_payload, read_payload

    bucket = stack.env["PublishFunction"]["ARCHIVE_BUCKET"]
    reference = put_payload(bucket, "exports", "acme", b'{"lines": []}')
    assert read_payload(reference) == b'{"lines": []}'
    assert put_payload(bucket, "exports", "acme", b'{"lines": []}') == reference  # the same bytes, the same key
    # Someone with write access puts a new version of the object under the same key.
    client("s3").put_object(Bucket=bucket, Key=reference.key, Body=b'{"lines": [1]}', ChecksumAlgorithm="SHA256")
    with pytest.raises(PayloadUnreadable, match="does not hold the bytes its reference names"):
        read_payload(reference)
    with pytest.raises(PayloadUnreadable, match="NoSuchKey"):
        read_payload(reference.model_copy(update={"key": "payloads/exports/acme/missing.json"}))
