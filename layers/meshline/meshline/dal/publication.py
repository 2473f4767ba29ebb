"""Where a stored export goes: its warehouses' FIFO queues, the event bus, the S3 archive.

Every send is safe to repeat, because the stream that drives publication redelivers a
record until it succeeds:
- a warehouse queue deduplicates on the export's hash (grouped per order, so versions stay
  in order); an export too large for a message (1 MiB) is sent as an `ExportByReference`
  to its archived copy, which is written first;
- the archive is written with If-None-Match, so a second put of the same export is a no-op;
- the backorders queue is FIFO too, and deduplicates on the export id;
- the event carries the export id for consumers to deduplicate on (EventBridge has no
  deduplication of its own);
- an inventory watch is a put of the same item.

The sends of a whole stream batch are made together (`send`): SendMessageBatch per queue,
PutEvents and BatchWriteItem with up to 10, 10 and 25 entries. Under load a batch holds
several exports, and a trickle pays what it paid before, one call of each.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from botocore.exceptions import ClientError

from meshline.dal.aws import client
from meshline.domain.events import EVENT_SOURCE, ArchiveLocation, ExportByReference
from meshline.domain.exports import Export, canonical_json
from meshline.domain.payloads import EVENT_ENTRY_LIMIT, SQS_BODY_BUDGET, SQS_MESSAGE_LIMIT, utf8_size
from meshline.domain.types import format_utc


def warehouse_queue_name(stage: str, tenant_id: str, warehouse_id: str) -> str:
    """Every warehouse pulls from its own FIFO queue; the template grants sends by this name pattern."""
    return f"meshline-{stage}-wh-{tenant_id}-{warehouse_id}.fifo"


@cache
def _queue_url(name: str) -> str:
    return client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


@dataclass(frozen=True)
class QueueMessage:
    """One message for a FIFO queue, named (the URL is looked up once per process)."""

    queue: str
    body: str
    group: str
    deduplication_id: str
    attributes: dict[str, str] = field(default_factory=dict)

    def entry(self, entry_id: str) -> dict[str, Any]:
        return {
            "Id": entry_id, "MessageBody": self.body, "MessageGroupId": self.group,
            "MessageDeduplicationId": self.deduplication_id,
            "MessageAttributes": {name: {"DataType": "String", "StringValue": value} for name, value in self.attributes.items()},
        }

    def size(self) -> int:
        return utf8_size(self.body) + sum(utf8_size(name) + utf8_size(value) + 6 for name, value in self.attributes.items())


@dataclass(frozen=True)
class Announcement:
    """One event for the bus."""

    detail_type: str
    detail: str  # canonical JSON

    def entry(self, bus: str) -> dict[str, Any]:
        return {"EventBusName": bus, "Source": EVENT_SOURCE, "DetailType": self.detail_type, "Detail": self.detail,
                "Resources": []}

    def size(self) -> int:
        # As AWS counts a PutEvents entry: source, detail type and detail (no time, no resources).
        return utf8_size(EVENT_SOURCE) + utf8_size(self.detail_type) + utf8_size(self.detail)


@dataclass
class Outbox:
    """What one stored export (one stream record) still has to send once its archive is
    written: its warehouse messages, its events, and items to put (its inventory watches).
    The outboxes of a whole stream batch are sent together by `send`, in as few calls as
    the services' batch limits allow."""

    messages: list[QueueMessage] = field(default_factory=list)
    announcements: list[Announcement] = field(default_factory=list)
    puts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (table, item)

    def announce(self, detail_type: str, detail: dict[str, Any]) -> None:
        self.announcements.append(Announcement(detail_type, canonical_json(detail)))


def warehouse_messages(export: Export, stage: str, archived: ArchiveLocation) -> list[QueueMessage]:
    """The export's message to each warehouse that must act on it. An export too large for
    a message travels by reference to its `archived` copy."""
    body = export.canonical_json()
    kind = "export"
    if utf8_size(body) > SQS_BODY_BUDGET:
        kind = "reference"
        body = canonical_json(ExportByReference(
            export_id=export.export_id, tenant_id=export.tenant_id, order_id=export.order_id, version=export.version,
            intended_action=export.intended_action, content_hash=export.content_hash,
            fetch=f"/exports/{export.export_id}", archive=archived,
        ).model_dump(mode="json"))
    return [
        QueueMessage(
            queue=warehouse_queue_name(stage, export.tenant_id, warehouse_id),
            body=body,
            group=f"{export.tenant_id}:{export.order_id}",
            deduplication_id=export.content_hash,
            attributes={"export_id": export.export_id, "intended_action": str(export.intended_action), "payload": kind},
        )
        for warehouse_id in export.warehouses()
    ]


def archive_key(export: Export) -> str:
    return f"exports/{export.tenant_id}/{export.order_id}/v{export.version:010d}.json"


def archive(export: Export, bucket: str) -> ArchiveLocation:
    key = archive_key(export)
    body = export.canonical_json().encode("utf-8")
    try:
        client("s3").put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            ContentType="application/json",
            IfNoneMatch="*",
            Metadata={"export-id": export.export_id, "content-hash": export.content_hash},
        )
    except ClientError as error:
        # 412: this export was archived by an earlier, interrupted attempt; the key is its identity.
        if error.response["Error"]["Code"] not in {"PreconditionFailed", "412"}:
            raise
    return ArchiveLocation(bucket=bucket, key=key, sha256=hashlib.sha256(body).hexdigest(), size_bytes=len(body))


def enqueue_backorder(queue_url: str, export: Export, line_ids: list[str]) -> None:
    """The backorder queue (FIFO), read by whoever chases stock: one message per export
    version that backorders lines anew, its promise date in an attribute to sort or filter
    on. Its deduplication id is the export's, so a publication the stream retries (after a
    crash past this send) queues nothing new; grouped per order, so versions stay in order."""
    client("sqs").send_message(
        QueueUrl=queue_url,
        MessageGroupId=f"{export.tenant_id}:{export.order_id}",
        MessageDeduplicationId=hashlib.sha256(f"backorder#{export.export_id}".encode()).hexdigest(),
        MessageBody=canonical_json({"export_id": export.export_id, "tenant_id": export.tenant_id,
                                    "order_id": export.order_id, "line_ids": line_ids,
                                    "promised_by": format_utc(export.sla.promised_by) if export.sla.promised_by else None,
                                    "service_level": export.sla.service_level}),
        MessageAttributes={
            "export_id": {"DataType": "String", "StringValue": export.export_id},
            "promised_by": {"DataType": "String",
                            "StringValue": format_utc(export.sla.promised_by) if export.sla.promised_by else "none"},
            "service_level": {"DataType": "String", "StringValue": export.sla.service_level or "unknown"},
        },
    )


class NotSent(Exception):
    """A service refused (or did not process) part of what an outbox had to send; the
    stream record it belongs to is retried."""


def send(outboxes: list[Outbox], bus: str) -> dict[int, Exception]:
    """Send every outbox's messages, then events, then puts, batched across outboxes.
    Returns the outboxes (by index) that were not wholly sent, with why.

    An outbox that fails at one step sends nothing at the later ones, as a record handled
    alone would stop at its first failure. A FIFO queue keeps the order of one group's
    messages within a batch, but a batch can half succeed: so each call carries at most one
    message per group, and a group's next message waits for the call after, and is not sent
    if the one before it failed.
    """
    failed: dict[int, Exception] = {}
    _send_messages(outboxes, failed)
    _send_announcements(outboxes, bus, failed)
    _send_puts(outboxes, failed)
    return failed


def _send_messages(outboxes: list[Outbox], failed: dict[int, Exception]) -> None:
    by_queue: dict[str, list[tuple[int, QueueMessage]]] = {}
    for owner, outbox in enumerate(outboxes):
        for message in outbox.messages:
            by_queue.setdefault(message.queue, []).append((owner, message))
    for queue, pending in by_queue.items():
        stopped: set[str] = set()  # groups whose earlier message was not sent
        while pending:
            this_call: list[tuple[int, QueueMessage]] = []
            later: list[tuple[int, QueueMessage]] = []
            size = 0
            for owner, message in pending:
                if message.group in stopped or owner in failed:
                    if owner not in failed:
                        failed[owner] = NotSent(f"{queue}: an earlier message of group {message.group} was not sent")
                    stopped.add(message.group)
                elif (any(message.group == sent.group for _, sent in this_call) or len(this_call) == 10
                      or size + message.size() > SQS_MESSAGE_LIMIT):
                    later.append((owner, message))
                else:
                    this_call.append((owner, message))
                    size += message.size()
            if this_call:
                _send_message_batch(queue, this_call, failed)
                stopped.update(message.group for owner, message in this_call if owner in failed)
            pending = later


def _send_message_batch(queue: str, this_call: list[tuple[int, QueueMessage]], failed: dict[int, Exception]) -> None:
    try:
        response = client("sqs").send_message_batch(
            QueueUrl=_queue_url(queue), Entries=[message.entry(str(n)) for n, (_, message) in enumerate(this_call)])
    except ClientError as error:
        for owner, _ in this_call:
            failed.setdefault(owner, error)
        return
    for entry in response.get("Failed") or []:
        owner = this_call[int(entry["Id"])][0]
        failed.setdefault(owner, NotSent(f"{queue} refused a message: {entry.get('Code')} {entry.get('Message')}"))


def _send_announcements(outboxes: list[Outbox], bus: str, failed: dict[int, Exception]) -> None:
    pending = [(owner, announcement) for owner, outbox in enumerate(outboxes) if owner not in failed
               for announcement in outbox.announcements]
    while pending:
        this_call, size = [], 0
        while pending and len(this_call) < 10 and (not this_call or size + pending[0][1].size() <= EVENT_ENTRY_LIMIT):
            size += pending[0][1].size()
            this_call.append(pending.pop(0))
        try:
            response = client("events").put_events(Entries=[announcement.entry(bus) for _, announcement in this_call])
        except ClientError as error:
            for owner, _ in this_call:
                failed.setdefault(owner, error)
            continue
        for (owner, announcement), entry in zip(this_call, response["Entries"]):
            if "EventId" not in entry:
                failed.setdefault(owner, NotSent(
                    f"EventBridge refused {announcement.detail_type}: {entry.get('ErrorCode')} {entry.get('ErrorMessage')}"))


def _send_puts(outboxes: list[Outbox], failed: dict[int, Exception]) -> None:
    # One key may come from several outboxes (two versions of one order watch the same
    # SKUs); BatchWriteItem refuses a key twice in a call, so the last outbox's item is put.
    owners: dict[tuple[str, str], list[int]] = {}
    items: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for owner, outbox in enumerate(outboxes):
        if owner in failed:
            continue
        for table, item in outbox.puts:
            key = _put_key(table, item)
            owners.setdefault(key, []).append(owner)
            items[key] = (table, item)
    keys = list(items)
    for start in range(0, len(keys), 25):  # BatchWriteItem's limit
        chunk = keys[start:start + 25]
        pending: dict[str, list[dict[str, Any]]] = {}
        for key in chunk:
            table, item = items[key]
            pending.setdefault(table, []).append({"PutRequest": {"Item": item}})
        for attempt in range(8):
            try:
                pending = client("dynamodb").batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            except ClientError as error:
                for key in chunk:
                    for owner in owners[key]:
                        failed.setdefault(owner, error)
                break
            if not pending:
                break
            time.sleep(min(1.0, 0.05 * 2**attempt))
        else:
            left = {_put_key(table, request["PutRequest"]["Item"]) for table, requests in pending.items() for request in requests}
            for key in left:
                for owner in owners[key]:
                    failed.setdefault(owner, NotSent(f"{key[0]}: items not written after retries"))


def _put_key(table: str, item: dict[str, Any]) -> tuple[str, str]:
    return table, canonical_json({name: item[name] for name in ("pk", "sk") if name in item})
