"""Decide takes the first inbox message of each order in its batch together: one read and
one transaction for them all (issue 7, calls per order under load), each order decided as
it would be alone, each seeing the dispatches the ones before it booked. Whatever cannot
go together is decided one at a time, as before.

Each test posts its webhooks before anything is decided, so that the runtime hands decide
several of them in one batch (up to 10, as the template configures the inbox), as SQS does
under load.
"""

import json
from datetime import datetime

from meshline.dal.aws import client
from meshline.domain.orders import ServiceLevel
from meshline.domain.sla import ship_day
from meshline.flows.replay import Replayer
from meshline_local.seed import DEMO_POLICY
from tests.payloads import cancelled_body, routable_body, shopify_headers
from tests.stack.test_acknowledgements import latest, place
from tests.stack.test_cancellation import chain_verified
from tests.stack.test_decide_reads import decide_calls, dynamodb, head_key

PLACED = "2026-11-25T09:30:00-05:00"


def post_order(stack, number, lines=(("TEE-BLK-M", 1),)):
    body = routable_body(number, PLACED, list(lines))
    assert stack.post_webhook(body, shopify_headers(body, event_id=f"evt-{number}"))[0] == 202
    return f"shopify-{number}"


def post_cancellation(stack, number, lines=(("TEE-BLK-M", 1),)):
    body = cancelled_body(number, PLACED, list(lines), cancelled_at="2026-11-25T10:15:00-05:00")
    assert stack.post_webhook(body, shopify_headers(body, event_id=f"evt-cancel-{number}", topic="orders/cancelled"))[0] == 202


def decide_invocations(stack, since):
    return [invocation for invocation in stack.runtime.invoker.invocations[since:] if invocation[0] == "DecideFunction"]


def versions(stack, order_id):
    return sorted(document["version"] for document in stack.exports.history("acme", order_id))


def test_a_batch_of_new_orders_is_read_once_and_stored_in_one_transaction(stack):
    place(stack, 8300, [("TEE-BLK-M", 1)])  # the process learns the active policy (as any after its first order)
    for warehouse in ("east", "west"):
        stack.drain(stack.warehouse_queue(warehouse))
    order_ids = [post_order(stack, number) for number in range(8301, 8307)]
    invoked = len(stack.runtime.invoker.invocations)
    with decide_calls() as calls:
        stack.runtime.settle()

    assert len(decide_invocations(stack, invoked)) == 1
    assert dynamodb(calls) == ["BatchGetItem", "TransactWriteItems"]
    [read] = [call for call in calls if call.operation == "dynamodb:BatchGetItem"]
    exports_table = stack.env["DecideFunction"]["EXPORTS_TABLE"]
    assert read.params["RequestItems"][exports_table]["Keys"] == [head_key(order_id) for order_id in order_ids]
    [write] = [call for call in calls if call.operation == "dynamodb:TransactWriteItems"]
    written = [entry["Put"]["Item"] for entry in write.params["TransactItems"] if "Put" in entry]
    assert sorted(item["pk"]["S"] for item in written if item["sk"]["S"] == "HEAD") == \
        sorted(f"ORDER#acme#{order_id}" for order_id in order_ids)

    replayer = Replayer(stack.exports, stack.tenants)
    for order_id in order_ids:
        assert versions(stack, order_id) == [1]
        assert chain_verified(stack, order_id)
        assert replayer.replay_version("acme", order_id, 1).reproduced
    delivered = [message for warehouse in ("east", "west") for message in stack.drain(stack.warehouse_queue(warehouse))]
    assert sorted(json.loads(message["Body"])["order_id"] for message in delivered) == sorted(order_ids)


def test_each_order_of_a_batch_sees_the_dispatches_the_ones_before_it_booked(stack):
    east = DEMO_POLICY.warehouse("east")
    day = ship_day(east, datetime.fromisoformat(PLACED), DEMO_POLICY.terms(ServiceLevel.STANDARD))
    tenants_table = stack.env["DecideFunction"]["TENANTS_TABLE"]
    dispatches = {"pk": {"S": "TENANT#acme"}, "sk": {"S": f"DISPATCHES#east#{day.isoformat()}"}}
    client("dynamodb").put_item(TableName=tenants_table, Item={**dispatches, "booked": {"N": str(east.daily_capacity - 2)}})
    order_ids = [post_order(stack, number) for number in range(8311, 8315)]
    invoked = len(stack.runtime.invoker.invocations)
    stack.runtime.settle()

    assert len(decide_invocations(stack, invoked)) == 1
    decided = [latest(stack, order_id) for order_id in order_ids]
    assert [export["lines"][0]["warehouse_id"] for export in decided] == ["east", "east", "west", "west"]
    for export in decided[2:]:
        [candidate] = [c for c in export["explanation"]["candidates"] if c["warehouse_id"] == "east"]
        assert (candidate["eliminated_by"], candidate["detail"]) == (
            "capacity_left", f"{east.daily_capacity} of {east.daily_capacity} dispatches booked on {day.isoformat()}")
    booked = client("dynamodb").get_item(TableName=tenants_table, Key=dispatches, ConsistentRead=True)["Item"]["booked"]
    assert int(booked["N"]) == east.daily_capacity
    replayer = Replayer(stack.exports, stack.tenants)
    for order_id in order_ids:  # each from the dispatch counts it saw, the batch's earlier bookings included
        assert replayer.replay_version("acme", order_id, 1).reproduced


def test_when_the_transaction_is_refused_every_order_is_decided_on_its_own(stack):
    """An order stored before every version wrote its HEAD looks new, so the batch's
    transaction claims its version 1 and is cancelled: nothing of the batch is written, and
    each order is then decided alone (that one from its latest version)."""
    place(stack, 8320, [("TEE-BLK-M", 1)])
    client("dynamodb").delete_item(TableName=stack.env["DecideFunction"]["EXPORTS_TABLE"], Key=head_key("shopify-8320"))
    post_cancellation(stack, 8320)
    order_ids = [post_order(stack, number) for number in range(8321, 8324)]
    invoked = len(stack.runtime.invoker.invocations)
    with decide_calls() as calls:
        stack.runtime.settle()

    assert len(decide_invocations(stack, invoked)) == 1
    operations = dynamodb(calls)
    # The batch's read and cancelled transaction; then per order a read and a transaction,
    # and for the order without HEAD its versions' queries and a second transaction.
    assert operations[:2] == ["BatchGetItem", "TransactWriteItems"]
    assert operations.count("TransactWriteItems") == 1 + len(order_ids) + 2
    cancelled = latest(stack, "shopify-8320")
    assert (cancelled["version"], cancelled["intended_action"]) == (2, "cancel")
    assert chain_verified(stack, "shopify-8320")
    for order_id in order_ids:
        assert versions(stack, order_id) == [1]


def test_an_orders_second_message_in_the_batch_is_decided_after_its_first_is_stored(stack):
    post_order(stack, 8331)
    post_cancellation(stack, 8331)
    others = [post_order(stack, number) for number in (8332, 8333)]
    stack.runtime.settle()

    first, second = sorted(stack.exports.history("acme", "shopify-8331"), key=lambda export: export["version"])
    assert (first["intended_action"], second["intended_action"]) == ("route", "cancel")
    assert second["supersedes"]["export_id"] == first["export_id"]
    assert chain_verified(stack, "shopify-8331")
    for order_id in others:
        assert versions(stack, order_id) == [1]


def test_a_batch_delivered_again_after_it_was_stored_writes_nothing_more(stack):
    place(stack, 8340, [("TEE-BLK-M", 1)])
    order_ids = [post_order(stack, number) for number in range(8341, 8345)]
    inbox = stack.env["IngestFunction"]["ORDER_INBOX_QUEUE_URL"]
    messages = client("sqs").receive_message(QueueUrl=inbox, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                             AttributeNames=["All"], MessageAttributeNames=["All"])["Messages"]
    source = next(source for source in stack.runtime.sources if getattr(source, "queue_url", None) == inbox)
    event = {"Records": [source._record(message) for message in messages]}
    assert len(event["Records"]) == len(order_ids)

    with decide_calls() as first:
        assert stack.runtime.invoker.invoke(source.function, event) == {"batchItemFailures": []}
    with decide_calls() as again:  # SQS delivers the batch again: the invocation was lost after the write
        assert stack.runtime.invoker.invoke(source.function, event) == {"batchItemFailures": []}

    assert dynamodb(first) == ["BatchGetItem", "TransactWriteItems"]
    # The read finds every order's HEAD; each names its version, which names the trigger: no write.
    assert dynamodb(again) == ["BatchGetItem"] + ["GetItem"] * len(order_ids)
    for order_id in order_ids:
        assert versions(stack, order_id) == [1]


def test_an_export_that_fails_its_schema_is_quarantined_and_the_rest_of_the_batch_stored_together(stack, monkeypatch):
    from meshline.domain import routing
    from meshline.domain.exports import Export

    real_decide = routing.decide

    def buggy_for_one_order(order, *args, **kwargs):
        export = real_decide(order, *args, **kwargs)
        if order.order_id != "shopify-8352":
            return export
        return Export.model_construct(**{**dict(export), "owning_party": "whoever"})  # slips past pydantic

    monkeypatch.setattr(routing, "decide", buggy_for_one_order)
    place(stack, 8350, [("TEE-BLK-M", 1)])
    order_ids = [post_order(stack, number) for number in range(8351, 8355)]
    with decide_calls() as calls:
        stack.runtime.settle()

    # The batch's read and its transaction, without the bad one; then that order alone:
    # its read and the quarantine's put, once.
    assert dynamodb(calls) == ["BatchGetItem", "TransactWriteItems", "BatchGetItem", "PutItem"]
    [together] = [call for call in calls if call.operation == "dynamodb:TransactWriteItems"]
    heads = [entry["Put"]["Item"]["pk"]["S"] for entry in together.params["TransactItems"]
             if "Put" in entry and entry["Put"]["Item"]["sk"]["S"] == "HEAD"]
    assert sorted(heads) == sorted(f"ORDER#acme#{order_id}" for order_id in order_ids if order_id != "shopify-8352")
    assert versions(stack, "shopify-8352") == []
    items = client("dynamodb").scan(TableName=stack.env["DecideFunction"]["EXPORTS_TABLE"])["Items"]
    assert [item["pk"]["S"] for item in items if item["sk"]["S"].startswith("QUARANTINE#")] == ["ORDER#acme#shopify-8352"]
    for order_id in order_ids:
        if order_id != "shopify-8352":
            assert versions(stack, order_id) == [1]
