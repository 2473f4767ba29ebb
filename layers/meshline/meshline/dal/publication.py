"""Where a stored export goes: its warehouses' FIFO queues, the event bus, the S3 archive.

Every send is safe to repeat, because the stream that drives publication redelivers a
record until it succeeds:
- a warehouse queue deduplicates on the export's hash (grouped per order, so versions stay
  in order); an export too large for a message (1 MiB) is sent as an `ExportByReference`
  to its archived copy, which is written first;
- the archive is written with If-None-Match, so a second put of the same export is a no-op;
- the backorders queue is FIFO too, and deduplicates on the export id;
- the event carries the export id for consumers to deduplicate on (EventBridge has no
  deduplication of its own), and is sent last, so it only repeats if it was itself interrupted.
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

from botocore.exceptions import ClientError

from meshline.dal.aws import client
from meshline.domain.events import EVENT_SOURCE, ArchiveLocation, ExportByReference
from meshline.domain.exports import Export, canonical_json
from meshline.domain.payloads import SQS_BODY_BUDGET, utf8_size
from meshline.domain.types import format_utc


def warehouse_queue_name(stage: str, tenant_id: str, warehouse_id: str) -> str:
    """Every warehouse pulls from its own FIFO queue; the template grants sends by this name pattern."""
    return f"meshline-{stage}-wh-{tenant_id}-{warehouse_id}.fifo"


@cache
def _queue_url(name: str) -> str:
    return client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


def deliver_to_warehouses(export: Export, stage: str, archived: ArchiveLocation) -> list[str]:
    """Send the export to each warehouse that must act on it; returns the queue names. An
    export too large for a message travels by reference to its `archived` copy."""
    body = export.canonical_json()
    kind = "export"
    if utf8_size(body) > SQS_BODY_BUDGET:
        kind = "reference"
        body = canonical_json(ExportByReference(
            export_id=export.export_id, tenant_id=export.tenant_id, order_id=export.order_id, version=export.version,
            intended_action=export.intended_action, content_hash=export.content_hash,
            fetch=f"/exports/{export.export_id}", archive=archived,
        ).model_dump(mode="json"))
    names = []
    for warehouse_id in export.warehouses():
        name = warehouse_queue_name(stage, export.tenant_id, warehouse_id)
        client("sqs").send_message(
            QueueUrl=_queue_url(name),
            MessageBody=body,
            MessageGroupId=f"{export.tenant_id}:{export.order_id}",
            MessageDeduplicationId=export.content_hash,
            MessageAttributes={
                "export_id": {"DataType": "String", "StringValue": export.export_id},
                "intended_action": {"DataType": "String", "StringValue": str(export.intended_action)},
                "payload": {"DataType": "String", "StringValue": kind},
            },
        )
        names.append(name)
    return names


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


def put_event(bus: str, detail_type: str, detail: dict[str, Any], resources: list[str] | None = None) -> str:
    response = client("events").put_events(
        Entries=[
            {
                "EventBusName": bus,
                "Source": EVENT_SOURCE,
                "DetailType": detail_type,
                "Detail": canonical_json(detail),
                "Resources": resources or [],
            }
        ]
    )
    entry = response["Entries"][0]
    if response.get("FailedEntryCount") or "EventId" not in entry:
        raise RuntimeError(f"EventBridge refused {detail_type}: {entry.get('ErrorCode')} {entry.get('ErrorMessage')}")
    return entry["EventId"]
