"""Poison messages: after the queue's retries they land in its DLQ with the reason kept;
the redrive command lists them with it and, once the cause is fixed, replays them."""

import json

from meshline.dal.aws import client
from meshline_local.redrive import dead_letters
from meshline_local.seed import OTHER_TENANT_POLICY, seed_tenant

EVENT = json.loads((__import__("pathlib").Path(__file__).resolve().parents[2] / "events" / "decide-order-received.json").read_text())


def queue_url(name):
    return client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


def test_a_poison_message_reaches_the_dlq_with_its_reason_and_is_replayed_once_fixed(stack):
    inbox = queue_url("meshline-local-order-inbox.fifo")
    message = json.loads(EVENT["Records"][0]["body"])
    # An order for a merchant not onboarded yet: every attempt fails the same way.
    message["order"]["tenant_id"] = "initech"
    client("sqs").send_message(QueueUrl=inbox, MessageBody=json.dumps(message), MessageGroupId="initech:order",
                               MessageDeduplicationId="poison-1")
    client("sqs").send_message(QueueUrl=inbox, MessageBody="{not json", MessageGroupId="garbage",
                               MessageDeduplicationId="poison-2")
    receipts = stack.env["DecideFunction"]["DEAD_LETTERS_TABLE"]
    letters = stack.runtime.run_until(lambda: len(found := dead_letters(receipts)) == 2 and found, timeout=60,
                                      what="both poison messages in the inbox's DLQ")
    by_reason = sorted(letters, key=lambda letter: letter.reason)
    assert [letter.queue for letter in letters] == ["meshline-local-order-inbox-dlq.fifo"] * 2
    assert by_reason[0].reason.startswith("UnknownTenant: unknown tenant 'initech'")
    assert by_reason[1].reason.startswith("ValidationError") and "Invalid JSON" in by_reason[1].reason
    assert {letter.attempts for letter in letters} == {"5"}  # the queue's maxReceiveCount
    assert stack.exports.history("initech", message["order"]["order_id"]) == []

    seed_tenant(stack.runtime, OTHER_TENANT_POLICY.model_copy(update={"tenant_id": "initech"}), operators=())
    replayed = dead_letters(receipts, apply=True)
    assert all(letter.redriven and letter.source == "meshline-local-order-inbox.fifo" for letter in replayed)
    stack.runtime.run_until(lambda: stack.exports.history("initech", message["order"]["order_id"]), timeout=30,
                            what="the replayed order's export")
    [export] = stack.exports.history("initech", message["order"]["order_id"])
    assert export["trigger"]["trigger_id"] == message["trigger"]["trigger_id"]
    # The garbage goes back to the DLQ after its retries, still saying why.
    [left] = stack.runtime.run_until(lambda: dead_letters(receipts), timeout=60, what="the garbage back in the DLQ")
    assert left.reason.startswith("ValidationError")
