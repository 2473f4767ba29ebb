"""Dead letters: list each with why it failed, and replay them once the cause is fixed.

    python3 dev.py redrive                 every DLQ's messages, with their last failure's reason
    python3 dev.py redrive --apply         ... and send each back to the queue it came from
    python3 dev.py redrive --queue NAME    one DLQ only

A message is sent back before it is deleted from the DLQ: a crash in between leaves it in
both, and every consumer is idempotent by business key, so it is decided once. FIFO
messages keep their group (their order's sequence) and get a new deduplication id, since
SQS would drop a resend within five minutes of the first. Against the local stack by
default, or with --aws and --receipts-table (the stack's ReceiptsTableName output).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from meshline.dal.aws import client
from meshline.dal.dead_letters import failure_of

DLQ_SUFFIXES = ("-dlq", "-dlq.fifo")


@dataclass
class DeadLetter:
    queue: str
    message_id: str
    source: str | None
    reason: str
    attempts: str
    redriven: bool = False


def dead_letters(receipts_table: str, queue: str | None = None, apply: bool = False) -> list[DeadLetter]:
    sqs = client("sqs")
    found: list[DeadLetter] = []
    for url in sqs.list_queues(QueueNamePrefix="").get("QueueUrls", []):
        name = url.rsplit("/", 1)[1]
        if not name.endswith(DLQ_SUFFIXES) or (queue and name != queue):
            continue
        sources = sqs.list_dead_letter_source_queues(QueueUrl=url).get("queueUrls", [])
        source = sources[0] if len(sources) == 1 else None  # a DLQ shared by several queues: replay by hand
        source_name = source.rsplit("/", 1)[1] if source else None
        held = []
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60,
                                           AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages"):
            held += batch
        for message in held:
            failure = failure_of(receipts_table, source_name, message["MessageId"]) if source_name else None
            letter = DeadLetter(name, message["MessageId"], source_name,
                                failure["reason"] if failure else "(no reason recorded)",
                                failure["attempts"] if failure else message["Attributes"].get("ApproximateReceiveCount", "?"))
            if apply and source:
                _send_back(sqs, source, message)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                letter.redriven = True
            else:
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
            found.append(letter)
    return found


def _send_back(sqs, source_url: str, message: dict) -> None:  # noqa: ANN001 - a boto3 client
    request = {"QueueUrl": source_url, "MessageBody": message["Body"]}
    attributes = {name: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
                  for name, value in message.get("MessageAttributes", {}).items()}
    if attributes:
        request["MessageAttributes"] = attributes
    if source_url.endswith(".fifo"):
        request["MessageGroupId"] = message["Attributes"]["MessageGroupId"]
        request["MessageDeduplicationId"] = f"redrive-{message['MessageId']}"[:128]
    sqs.send_message(**request)


def run_redrive(args: argparse.Namespace) -> int:
    from meshline_local.operate import _tables

    table = _tables(args, "ReceiptsTable")["ReceiptsTable"]
    letters = dead_letters(table, args.queue, args.apply)
    if not letters:
        print("no dead letters")
        return 0
    for letter in letters:
        where = f"-> sent back to {letter.source}" if letter.redriven else (
            f"(from {letter.source})" if letter.source else "(several source queues: replay by hand)")
        print(f"{letter.queue}  {letter.message_id}  after {letter.attempts} attempt(s): {letter.reason}  {where}")
    if not args.apply:
        print("\nfix the cause, then: python3 dev.py redrive --apply")
    return 0
