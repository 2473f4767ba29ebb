"""Publish sends a stream batch's messages, events and watches together, in batched calls,
and a send that fails is retried without breaking the order of an order's versions.

Each test holds the exports stream back from publish while orders are decided, then hands
publish the stored exports' real stream records in one batch, as the event source mapping
does under load.
"""

import json

import pytest

from bench.aws_calls import CallCounter, instrument
from bench.fault_harness import _hook_clients
from meshline.dal.aws import client
from meshline_local.runtime import StreamSource
from tests.payloads import cancelled_body, routable_body, shopify_headers

PLACED = "2026-11-25T09:30:00-05:00"


@pytest.fixture
def held_stream(stack):
    """Publish's stream source, taken out of the runtime so that stored exports wait."""
    [source] = [s for s in stack.runtime.sources if isinstance(s, StreamSource) and s.function.logical_id == "PublishFunction"]
    stack.runtime.sources.remove(source)
    yield source
    if source not in stack.runtime.sources:
        stack.runtime.sources.append(source)


def place(stack, number, lines=(("TEE-BLK-M", 1),)):
    body = routable_body(number, PLACED, list(lines))
    assert stack.post_webhook(body, shopify_headers(body, event_id=f"evt-{number}"))[0] == 202


def cancel(stack, number, lines=(("TEE-BLK-M", 1),)):
    body = cancelled_body(number, PLACED, list(lines), cancelled_at="2026-11-25T10:15:00-05:00")
    assert stack.post_webhook(body, shopify_headers(body, event_id=f"evt-cancel-{number}", topic="orders/cancelled"))[0] == 202


def waiting_records(source):
    """Every record on the exports stream that publish's filters let through, in order."""
    return [record for _, record in source.waiting()]


def publish(stack, source, records, counter):
    undo = instrument(counter)
    try:
        return stack.runtime.invoker.invoke(source.function, {"Records": records})
    finally:
        undo()


def export_ids(messages):
    return [message["MessageAttributes"]["export_id"]["StringValue"] for message in messages]


def announced(stack):
    return [json.loads(message["Body"]) for message in stack.drain(stack.tap_url)]


def test_a_batch_of_exports_is_delivered_announced_and_watched_in_one_call_of_each(stack, held_stream):
    numbers = range(8101, 8107)
    for number in numbers:
        place(stack, number)
    stack.runtime.settle()
    records = waiting_records(held_stream)
    assert len(records) == len(numbers)

    counter = CallCounter()
    result = publish(stack, held_stream, records, counter)

    assert result == {"batchItemFailures": []}
    exports = {f"shopify-{n}": stack.exports.history("acme", f"shopify-{n}")[0] for n in numbers}
    calls = {operation: count for (function, operation), count in counter.calls.items() if function == "PublishFunction"}
    queues = {line["warehouse_id"] for export in exports.values() for line in export["lines"]}
    assert calls == {"s3:PutObject": len(numbers), "sqs:SendMessageBatch": len(queues), "sqs:GetQueueUrl": len(queues),
                     "events:PutEvents": 1, "dynamodb:BatchWriteItem": 1}
    delivered = [m for warehouse in queues for m in stack.drain(stack.warehouse_queue(warehouse))]
    assert sorted(export_ids(delivered)) == sorted(export["export_id"] for export in exports.values())
    for message in delivered:
        body = json.loads(message["Body"])
        assert body == exports[body["order_id"]]
    events = announced(stack)
    assert sorted(e["detail"]["export_id"] for e in events if e["detail-type"] == "ExportPublished") == \
        sorted(export["export_id"] for export in exports.values())
    for order_id in exports:
        assert order_id in stack.tenants.watchers("acme", "TEE-BLK-M")


def test_two_versions_of_an_order_in_one_batch_reach_its_warehouse_in_order(stack, held_stream):
    place(stack, 8201)
    stack.runtime.settle()
    cancel(stack, 8201)
    stack.runtime.settle()
    records = waiting_records(held_stream)
    first, request = sorted(stack.exports.history("acme", "shopify-8201"), key=lambda export: export["version"])
    assert request["intended_action"] == "cancel" and len(records) == 2

    counter = CallCounter()
    assert publish(stack, held_stream, records, counter) == {"batchItemFailures": []}

    # One message per group and call: the cancellation waited for the call after the order's.
    assert counter.calls[("PublishFunction", "sqs:SendMessageBatch")] == 2
    delivered = stack.drain(stack.warehouse_queue(first["lines"][0]["warehouse_id"]))
    assert export_ids(delivered) == [first["export_id"], request["export_id"]]


def test_two_versions_watching_the_same_sku_in_one_batch_leave_the_later_version_watched(stack, held_stream):
    place(stack, 8251)
    stack.runtime.settle()
    [first] = stack.exports.history("acme", "shopify-8251")
    rejected_by = first["lines"][0]["warehouse_id"]
    status, _ = stack.call("POST", "/acknowledgements", as_=rejected_by, body={
        "ack_id": "rej-8251", "export_id": first["export_id"], "warehouse_id": rejected_by, "kind": "rejected",
        "reason_code": "out_of_stock", "at": "2026-11-25T15:00:00Z"})
    assert status == 200
    stack.runtime.settle()
    rerouted = max(stack.exports.history("acme", "shopify-8251"), key=lambda export: export["version"])
    assert rerouted["version"] == 2 and rerouted["lines"][0]["action"] == "ship"
    assert rerouted["lines"][0]["warehouse_id"] != rejected_by

    counter = CallCounter()
    # Both versions put WATCH#TEE-BLK-M#shopify-8251: BatchWriteItem refuses a key twice in one call.
    assert publish(stack, held_stream, waiting_records(held_stream), counter) == {"batchItemFailures": []}
    assert counter.calls[("PublishFunction", "dynamodb:BatchWriteItem")] == 1
    watched = client("dynamodb").get_item(
        TableName=stack.env["PublishFunction"]["TENANTS_TABLE"],
        Key={"pk": {"S": "TENANT#acme"}, "sk": {"S": "WATCH#TEE-BLK-M#shopify-8251"}})["Item"]
    assert watched["watched_version"] == {"N": "2"}


def refusing_the_first_message():
    """A hook that makes SQS report the first entry of the first SendMessageBatch as failed."""
    refused = []

    def refuse(parsed, **_):
        if not refused and parsed.get("Successful"):
            entry = parsed["Successful"].pop(0)
            parsed.setdefault("Failed", []).append({"Id": entry["Id"], "SenderFault": False, "Code": "InternalError",
                                                    "Message": "injected by the test"})
            refused.append(entry["Id"])

    return {"after-call.sqs.SendMessageBatch": refuse}, refused


def test_a_refused_message_fails_its_record_and_holds_back_the_later_version_until_the_retry(stack, held_stream):
    place(stack, 8301)
    place(stack, 8302)
    stack.runtime.settle()
    cancel(stack, 8301)
    stack.runtime.settle()
    records = waiting_records(held_stream)
    by_export = {r["dynamodb"]["NewImage"]["export_id"]["S"]: r["dynamodb"]["SequenceNumber"] for r in records}
    assert sorted(by_export) == ["acme:shopify-8301:v1", "acme:shopify-8301:v2", "acme:shopify-8302:v1"]

    hooks, refused = refusing_the_first_message()
    undo = _hook_clients(hooks, lambda function, event: None)
    try:
        counter = CallCounter()
        result = publish(stack, held_stream, records, counter)
    finally:
        undo()

    assert refused == ["0"]
    # The refused message was 8301's first version: both its versions are retried, the
    # cancellation never sent before it; 8302 stands.
    failed = sorted(item["itemIdentifier"] for item in result["batchItemFailures"])
    assert failed == sorted([by_export["acme:shopify-8301:v1"], by_export["acme:shopify-8301:v2"]])
    events = announced(stack)
    assert [e["detail"]["export_id"] for e in events if e["detail-type"] == "ExportPublished"] == ["acme:shopify-8302:v1"]

    # The event source mapping's retry (from the first failed record on) completes the order in order.
    retried = [r for r in records if int(r["dynamodb"]["SequenceNumber"]) >= int(min(failed, key=int))]
    assert publish(stack, held_stream, retried, CallCounter()) == {"batchItemFailures": []}
    warehouse = stack.exports.history("acme", "shopify-8301")[0]["lines"][0]["warehouse_id"]
    delivered = [m for m in stack.drain(stack.warehouse_queue(warehouse))
                 if m["MessageAttributes"]["export_id"]["StringValue"].startswith("acme:shopify-8301")]
    # SQS had the first version already (the "failure" came after it was queued): it
    # deduplicated the resend on the export's hash.
    assert export_ids(delivered) == ["acme:shopify-8301:v1", "acme:shopify-8301:v2"]
    assert {e["detail"]["export_id"] for e in announced(stack) if e["detail-type"] == "ExportPublished"} >= \
        {"acme:shopify-8301:v1", "acme:shopify-8301:v2"}


def test_publish_batch_size_counts_the_records_its_filters_let_through(stack, held_stream):
    # Each version's transaction puts 3 records on the stream (the version, HEAD, its trigger
    # marker); the filters pass 1. As on AWS, a batch of up to 100 holds up to 100 exports.
    for number in range(8401, 8441):
        place(stack, number)
    stack.runtime.settle()
    assert len(waiting_records(held_stream)) == 40
    stack.runtime.sources.append(held_stream)

    counter = CallCounter(keep=True)
    undo = instrument(counter)
    try:
        held_stream.poll(stack.runtime.invoker)
    finally:
        undo()

    [(function, event)] = counter.events
    assert function == "PublishFunction" and len(event["Records"]) == 40
    stack.runtime.settle()  # the checkpoint is past them all: nothing is published twice
    delivered = [m for warehouse in ("east", "west") for m in stack.drain(stack.warehouse_queue(warehouse))]
    assert len(delivered) == 40 and len(set(export_ids(delivered))) == 40


def test_exports_beyond_one_batch_wait_for_the_next_and_none_is_skipped_or_repeated(stack, held_stream):
    for number in range(8501, 8541):
        place(stack, number)
    stack.runtime.settle()
    held_stream.batch_size = 15  # smaller than the template's, so that 40 exports take 3 batches
    stack.runtime.sources.append(held_stream)

    counter = CallCounter(keep=True)
    undo = instrument(counter)
    try:
        stack.runtime.settle()
    finally:
        undo()

    assert [len(event["Records"]) for function, event in counter.events if function == "PublishFunction"] == [15, 15, 10]
    delivered = [m for warehouse in ("east", "west") for m in stack.drain(stack.warehouse_queue(warehouse))]
    assert sorted(export_ids(delivered)) == sorted(f"acme:shopify-{n}:v1" for n in range(8501, 8541))
