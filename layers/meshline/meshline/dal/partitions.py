"""Orders as whole partitions: one order's items sorted by kind, and the cohort of a
tenant's orders placed in a window, each read in one query, for the reports.

A report reads the `TenantOrders` index of the exports table and of the receipts table
(one range query each, bounded: more than `at_most` orders is refused, not truncated),
then each order's partition in one Query (with `ExportStore.order_items`, without the
decision inputs), a few at a time. Every read goes through stores built for the
caller's scope.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import dataclass
from typing import Any

from meshline.dal.aws import client
from meshline.dal.escalations import ESCALATION_PREFIX, handed_rung
from meshline.dal.exports import ACK_PREFIX, REFUSED_PREFIX, VERSION_PREFIX, ExportStore, document_text
from meshline.dal.receipts import WebhookReceipts
from meshline.dal.tenant_orders import TooManyOrders
from meshline.domain.acknowledgements import Acknowledgement, RefusedAcknowledgement
from meshline.domain.escalations import HandedRung
from meshline.domain.exports import Export
from meshline.domain.reports import OrderRecord, ReportWindow

PARALLEL_READS = 16  # partitions read at once: 5,000 one-item-page queries in a few seconds


@dataclass(frozen=True)
class OrderPartition:
    versions: list[dict[str, Any]]  # export documents, oldest first
    answers: list[dict[str, Any]]  # acknowledgement documents, in chain order
    refused: list[dict[str, Any]]  # refused answers, as kept
    escalations: list[HandedRung]

    @classmethod
    def of(cls, items: Iterable[dict[str, Any]]) -> OrderPartition:
        by_prefix: dict[str, list[dict[str, Any]]] = {prefix: [] for prefix in
                                                      (VERSION_PREFIX, ACK_PREFIX, REFUSED_PREFIX, ESCALATION_PREFIX)}
        for item in items:  # sorted by sort key, as a Query returns them
            prefix = next((p for p in by_prefix if item["sk"]["S"].startswith(p)), None)
            if prefix is not None:
                by_prefix[prefix].append(item)

        def documents(prefix: str) -> list[dict[str, Any]]:
            # `document_text`: a version too large for an item keeps its document in S3.
            return [json.loads(document_text(item)) for item in by_prefix[prefix]]

        return cls(versions=documents(VERSION_PREFIX), answers=documents(ACK_PREFIX),
                   refused=documents(REFUSED_PREFIX), escalations=[handed_rung(i) for i in by_prefix[ESCALATION_PREFIX]])


def gather_orders(exports: ExportStore, receipts: WebhookReceipts, window: ReportWindow,
                  at_most: int) -> list[OrderRecord]:
    """The tenant's orders placed in the window: every one that was exported or whose
    creation was received, with its whole partition and its receipts, oldest first.
    TooManyOrders when there are more than `at_most`."""
    tenant_id = window.tenant_id
    exported = exports.placed_between(tenant_id, window.from_date, window.to_date, at_most)
    received = receipts.created_between(tenant_id, window.from_date, window.to_date, at_most)
    placed = {**{order_id: when for order_id, (when, _) in received.items()}, **exported}
    if len(placed) > at_most:
        raise TooManyOrders(f"more than {at_most} orders were placed from {window.from_date} to {window.to_date}: "
                            "ask for a shorter window")
    order_ids = sorted(placed, key=lambda order_id: (placed[order_id], order_id))
    def read(order_id: str) -> OrderPartition:
        return OrderPartition.of(exports.order_items(tenant_id, order_id, True))

    client("dynamodb")  # created once, before the threads share it
    with ThreadPoolExecutor(max_workers=PARALLEL_READS) as pool:
        # Each read runs in a copy of this context, so it goes with the same AWS session
        # (meshline.dal.aws.acting_for: the caller's tenant's, where there is one).
        reads = [pool.submit(copy_context().run, read, order_id) for order_id in order_ids]
        partitions = [done.result() for done in reads]
        return [
            OrderRecord(
                order_id=order_id, placed_at=placed[order_id],
                versions=tuple(Export.model_validate(document) for document in partition.versions),
                answers=tuple(Acknowledgement.model_validate(answer) for answer in partition.answers),
                refusals=tuple(RefusedAcknowledgement.model_validate(refusal) for refusal in partition.refused),
                escalations=tuple(partition.escalations),
                receipts=tuple(received.get(order_id, (None, []))[1]),
            )
            for order_id, partition in zip(order_ids, partitions, strict=True)
        ]
