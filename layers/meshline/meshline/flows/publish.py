"""Flow 3, publish: after an export is stored, deliver it, announce it and archive it.

Driven by the exports table's stream, so publication happens only after the write and a
crash in between is repaired by the stream's redelivery. Each record is checked and
archived on its own; what it sends waits in its outbox until the batch's records are all
handled, and the batch's sends are then made together (`complete`). Quarantined exports take the
exception path instead: an `ExportQuarantined` event, never a warehouse delivery.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from meshline.dal import publication
from meshline.dal.publication import Outbox
from meshline.dal.exports import QUARANTINE_PREFIX, VERSION_PREFIX, ExportStore, stored_document
from meshline.dal.tenants import TenantStore
from meshline.domain.events import (
    BackorderedLine,
    CustomerNotificationRequested,
    ExportPublished,
    ExportQuarantined,
)
from meshline.domain.exports import Export, LineAction
from meshline.domain.payloads import EVENT_DETAIL_BUDGET, PayloadReference, utf8_size
from meshline.domain.validation import export_schema_errors
from meshline.flows.escalate import start_if_escalating
from meshline.observability import MetricUnit, logger, metrics
from meshline.settings import PublishSettings


class Published(StrEnum):
    PUBLISHED = "published"
    QUARANTINED = "quarantined"
    IGNORED = "ignored"


@dataclass
class Publication:
    """One stream record's publication: what it is, and what it still has to send."""

    outcome: Published
    export: Export | None = None
    outbox: Outbox = field(default_factory=Outbox)


def publish_stored_item(settings: PublishSettings, new_image: dict[str, Any], now: datetime) -> Publication:
    """The first half of a record's publication: checks and the archive. `new_image` is the
    stream record's NewImage, already deserialized to plain values. Its sends wait in its
    outbox for `complete`, which makes those of the whole batch together."""
    sort_key = str(new_image.get("sk", ""))
    if sort_key.startswith(VERSION_PREFIX):
        return _publish_export(settings, stored_document(new_image), now)
    if sort_key.startswith(QUARANTINE_PREFIX):
        publication = Publication(Published.QUARANTINED)
        _announce_quarantine(publication.outbox, new_image)
        return publication
    return Publication(Published.IGNORED)


def complete(settings: PublishSettings, publications: list[Publication]) -> dict[int, Exception]:
    """Make the sends of a batch of publications, then start the escalations they call for.
    Returns the publications (by index) that did not complete, with why: their records are
    retried, and everything they send is safe to send again."""
    failed = publication.send([p.outbox for p in publications], settings.event_bus_name)
    for index, done in enumerate(publications):
        if index in failed or done.export is None:
            continue
        try:
            # Started after the announcement: a redelivered record starts it again, which
            # finds the same execution (its name is the export's).
            start_if_escalating(settings.escalation_state_machine_arn, settings.escalation_seconds_per_minute, done.export)
        except Exception as error:  # noqa: BLE001 - this record is retried; the others stand
            failed[index] = error
            continue
        metrics.add_metric(name="ExportsPublished", unit=MetricUnit.Count, value=1)
        logger.info("export published", extra={"export_id": done.export.export_id,
                                                "archive_key": publication.archive_key(done.export),
                                                "warehouse_queues": [m.queue for m in done.outbox.messages]})
    return failed


def _publish_export(settings: PublishSettings, document: dict[str, Any], now: datetime) -> Publication:
    # Checked again here: the stored item is what leaves Meshline, whatever wrote it.
    errors = export_schema_errors(document)
    if errors:
        # Kept in the table under QUARANTINE#, whose own stream record raises the event.
        exports = ExportStore(settings.exports_table, payloads_bucket=settings.payloads_bucket)
        exports.quarantine(document, [f"at publication: {e}" for e in errors], now)
        metrics.add_metric(name="ExportsQuarantined", unit=MetricUnit.Count, value=1)
        logger.error("stored export failed its schema at publication", extra={"export_id": document.get("export_id")})
        return Publication(Published.QUARANTINED)
    export = Export.model_validate(document)
    archived = publication.archive(export, settings.archive_bucket)
    done = Publication(Published.PUBLISHED, export)
    done.outbox.messages = publication.warehouse_messages(export, settings.stage, archived)
    # The archived bytes are the export's canonical JSON: their size is the export's in the event.
    inline = export if archived.size_bytes <= EVENT_DETAIL_BUDGET else None  # else consumers read the archive
    detail = ExportPublished(export_id=export.export_id, export=inline, archive=archived,
                             warehouse_queues=[message.queue for message in done.outbox.messages])
    done.outbox.announce("ExportPublished", detail.model_dump(mode="json"))
    done.outbox.puts = TenantStore(settings.tenants_table).watches(export)
    _announce_backorders(settings, export, done.outbox)
    return done


def _announce_backorders(settings: PublishSettings, export: Export, outbox: Outbox) -> None:
    """Lines this version backorders that the previous one did not: queue them for the
    people chasing stock, and ask for the customer to be told (once per line)."""
    backordered = [line for line in export.lines if line.action is LineAction.BACKORDER]
    if not backordered:
        return
    exports = ExportStore(settings.exports_table)  # reads only
    before = exports.stored(export.tenant_id, export.order_id, export.version - 1) if export.version > 1 else None
    already = {line.line_id for line in before.export.lines if line.action is LineAction.BACKORDER} if before else set()
    new = [line for line in backordered if line.line_id not in already]
    if not new:
        return
    publication.enqueue_backorder(settings.backorders_queue_url, export, [line.line_id for line in new])
    lines = [BackorderedLine(line_id=line.line_id, sku=line.sku, quantity=line.quantity) for line in new]
    parts = _event_parts(lines)
    for number, part in enumerate(parts, 1):
        detail = CustomerNotificationRequested(
            tenant_id=export.tenant_id, order_id=export.order_id, export_id=export.export_id,
            service_level=export.sla.service_level, promised_by=export.sla.promised_by,
            lines=part, part=number, parts=len(parts),
        )
        outbox.announce("CustomerNotificationRequested", detail.model_dump(mode="json"))
    metrics.add_metric(name="BackorderedLines", unit=MetricUnit.Count, value=len(new))


def _event_parts(lines: list[BackorderedLine]) -> list[list[BackorderedLine]]:
    """Consecutive runs of lines, each small enough for one event."""
    parts: list[list[BackorderedLine]] = [[]]
    size = 0
    for line in lines:
        line_size = utf8_size(line.model_dump_json()) + 1
        if parts[-1] and size + line_size > EVENT_DETAIL_BUDGET:
            parts.append([])
            size = 0
        parts[-1].append(line)
        size += line_size
    return parts


def _announce_quarantine(outbox: Outbox, new_image: dict[str, Any]) -> None:
    detail = ExportQuarantined(
        export_id=new_image["export_id"],
        tenant_id=new_image["tenant_id"],
        order_id=new_image["order_id"],
        quarantined_at=new_image["quarantined_at"],
        errors=list(new_image["errors"]),
        document=json.loads(new_image["document"]) if "document" in new_image else None,
        document_reference=PayloadReference.model_validate_json(new_image["document_ref"]) if "document_ref" in new_image else None,
    )
    if detail.document is not None and utf8_size(detail.model_dump_json()) > EVENT_DETAIL_BUDGET:
        # Kept inline in the item, but too large for the event: the item is where to repair it.
        detail = detail.model_copy(update={"document": None})
    outbox.announce("ExportQuarantined", detail.model_dump(mode="json"))
