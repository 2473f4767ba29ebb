"""The export store: append-only versions per order, in one DynamoDB partition per order.

Items of one order (pk `ORDER#<tenant>#<order>`):
- `V#<version>`: an export, its canonical JSON gzipped in `document_gz` (the exact bytes
  that are hashed, published and archived, once unzipped), and in `inputs_gz` the order
  and stock it was decided from, so that it can be replayed (the export's `inputs_hash`
  seals them). Gzipped, a one-line order's two are 1.6 KB instead of 3.3 (write units are
  per KB, doubled in the version's transaction), a 250-line order's 5.7 KB instead of
  79, 7,200 lines' 69 KB instead of 2.2 MB (tests/stack/test_large_orders.py's shape).
  When the two would still not fit in an item (400 KB), the inputs and then the document
  move to S3 and the item keeps `inputs_ref`/`document_ref` in their place
  (`meshline.dal.payloads`: the plain JSON, named by its hash, checked on every read).
  Versions stored before 2026-11-26 hold plain `document`/`inputs`, read as well. Version 1
  also carries `tenant_orders`/`placed_key`, the keys of the sparse index of a tenant's
  orders by placed-at time (the dry run's "last N orders");
- `TRIGGER#<trigger id>`: written in the same transaction as the export it caused, so a
  redelivered trigger can never produce a second export;
- `QUARANTINE#<export id>`: an export that failed its schema, kept for repair, never published;
- `A#<version>#<sequence>`: a warehouse's acknowledgement of that version, a chain entry;
- `ACK#<warehouse>#<ack id>`: written with it, so a resent acknowledgement is recorded once;
- `REFUSED#<warehouse>#<ack id>`: an acknowledgement that was refused, and why;
- `HEAD`: the latest version (`version`), and what the order waits for next and until
  when (`meshline.domain.follow_ups`), rewritten in the transaction of every version and
  answer. It is the one item that is overwritten: a projection, not a record. While
  something is due it carries `due_shard`/`due_at`, the keys of the sparse `FollowUps`
  index the sweep reads. The decide flow reads it beside the tenant's policy and stock
  (`head_keys`, `latest_after`), so a new order costs no read of its own partition.

Only PutItem (inside a transaction) ever writes here; nothing updates or deletes, and only
HEAD is ever put twice. An
acknowledgement and a new export version of the same order are ordered by conditions
on each other's next key: an answer is stored only while its version is still the
latest, and a new version only while no answer has arrived since it read the chain.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from meshline.dal.aws import client
from meshline.dal.batch_reads import Keys
from meshline.dal.payloads import EXPORTS, put_payload, read_payload
from meshline.dal.scope import SYSTEM, Scope, order_not_found
from meshline.dal.tenant_orders import TENANT_ORDERS_INDEX, placed_at_of, placed_between, placed_key
from meshline.domain.access import NotVisible
from meshline.domain.acknowledgements import Acknowledgement, AcknowledgementRequest
from meshline.domain.exports import Export, canonical_json
from meshline.domain.follow_ups import Attention, FollowUp, attention, next_follow_up
from meshline.domain.payloads import EXPORT_ITEM_BUDGET, PayloadReference, utf8_size
from meshline.domain.replay import DecisionInputs
from meshline.domain.types import format_utc

VERSION_PREFIX = "V#"
TRIGGER_PREFIX = "TRIGGER#"
QUARANTINE_PREFIX = "QUARANTINE#"
ACK_PREFIX = "A#"
ACK_MARKER_PREFIX = "ACK#"
REFUSED_PREFIX = "REFUSED#"


FOLLOW_UPS_INDEX = "FollowUps"
ATTENTION_INDEX = "TenantAttention"
HEAD = "HEAD"
DOCUMENTS = {"ProjectionExpression": "sk, #document, document_gz, document_ref, handed_at",
             "ExpressionAttributeNames": {"#document": "document"}}
DUE_SHARDS = 4  # the sweep reads this many partitions of the index: no hot key at scale
NOT_YET = "attribute_not_exists(pk)"


@dataclass(frozen=True)
class StoredExport:
    document: dict[str, Any]
    inputs: DecisionInputs | None

    @property
    def export(self) -> Export:
        return Export.model_validate(self.document)


def stored_text(item: dict[str, Any], attribute: str) -> str | None:
    """An attribute of a stored item: gzipped in `<attribute>_gz`, plain, or behind its
    `<attribute>_ref`. Takes items as the DynamoDB API returns them (`{"S": ...}`,
    `{"B": bytes}`) and as stream handlers see them (plain values; a binary one as Lambda
    delivers it, base64 text)."""

    def plain(name: str) -> Any:
        value = item.get(name)
        return next(iter(value.values())) if isinstance(value, dict) else value

    packed = plain(f"{attribute}_gz")
    if packed is not None:
        return gzip.decompress(packed if isinstance(packed, bytes) else base64.b64decode(packed)).decode("utf-8")
    inline = plain(attribute)
    if inline is not None:
        return inline
    reference = plain(f"{attribute}_ref")
    if reference is None:
        return None
    return read_payload(PayloadReference.model_validate_json(reference)).decode("utf-8")


def document_text(item: dict[str, Any]) -> str:
    text = stored_text(item, "document")
    if text is None:
        raise KeyError(f"item {item.get('sk')} holds no document")
    return text


def stored_document(item: dict[str, Any]) -> dict[str, Any]:
    return json.loads(document_text(item))


def _stored(item: dict[str, Any]) -> StoredExport:
    inputs = stored_text(item, "inputs")
    return StoredExport(
        document=stored_document(item),
        inputs=DecisionInputs.model_validate_json(inputs) if inputs else None,
    )


class Appended(StrEnum):
    WRITTEN = "written"
    TRIGGER_ALREADY_APPLIED = "trigger_already_applied"


class VersionTaken(RuntimeError):
    """Another writer stored this version first, or an acknowledgement arrived since the
    chain was read; re-read the latest version and decide again."""


class AckSequenceTaken(RuntimeError):
    """Another acknowledgement took this place in the chain first; re-read and try again."""


class Recorded(StrEnum):
    RECORDED = "recorded"
    ALREADY_RECORDED = "already_recorded"


def ack_key(version: int, sequence: int) -> str:
    return f"{ACK_PREFIX}{version:010d}#{sequence:06d}"


def ack_marker_key(request: AcknowledgementRequest) -> str:
    return f"{ACK_MARKER_PREFIX}{request.warehouse_id}#{request.ack_id}"


def order_key(tenant_id: str, order_id: str) -> str:
    return f"ORDER#{tenant_id}#{order_id}"


def version_key(version: int) -> str:
    return f"{VERSION_PREFIX}{version:010d}"


class ExportStore:
    def __init__(self, table: str, scope: Scope = SYSTEM, payloads_bucket: str | None = None):
        """`payloads_bucket`: where documents too large for an item go; only writers need it
        (a reference names its own bucket)."""
        self.table = table
        self.scope = scope
        self.payloads_bucket = payloads_bucket

    def _order_pk(self, tenant_id: str, order_id: str) -> dict[str, str]:
        """Every read and write of an order's items is keyed through here, so all are scoped."""
        self.scope.require_tenant(tenant_id, order_not_found(tenant_id, order_id))
        return {"S": order_key(tenant_id, order_id)}

    def _latest_item(self, tenant_id: str, order_id: str) -> dict[str, Any] | None:
        response = client("dynamodb").query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :versions)",
            ExpressionAttributeValues={":pk": self._order_pk(tenant_id, order_id), ":versions": {"S": VERSION_PREFIX}},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = response.get("Items", [])
        return items[0] if items else None

    def latest(self, tenant_id: str, order_id: str) -> Export | None:
        item = self._latest_item(tenant_id, order_id)
        return Export.model_validate_json(document_text(item)) if item else None

    def head_keys(self, tenant_id: str, order_id: str) -> Keys:
        """The key of the order's HEAD, for a caller to read beside keys of another table in
        one strongly consistent BatchGetItem; `latest_after` then takes what it found."""
        return {self.table: [{"pk": self._order_pk(tenant_id, order_id), "sk": {"S": HEAD}}]}

    def latest_after(self, tenant_id: str, order_id: str, found: Mapping[str, list[dict[str, Any]]]) -> Export | None:
        """The order's latest export, given what a strongly consistent read of `head_keys`
        found. Every version puts HEAD in its own transaction, and the other writers of HEAD
        (an answer, the sweep) put it only while the version it names has no successor, so
        HEAD names the latest version: no HEAD, no export (and no further read); else one
        GetItem of that version. The version's transaction still guards against a writer
        that came between (its conditions on V#<version> and TRIGGER#)."""
        [head] = found.get(self.table) or [None]
        if head is None:
            return None
        item = self._version_item(tenant_id, order_id, int(head["version"]["N"]))
        if item is None:  # no writer leaves HEAD naming a missing version; after a hand edit, the versions say
            item = self._latest_item(tenant_id, order_id)
        return Export.model_validate_json(document_text(item)) if item else None

    def history(self, tenant_id: str, order_id: str) -> list[dict[str, Any]]:
        """Every stored export document of an order, oldest first."""
        return [stored_document(item) for item in self._query_prefix(tenant_id, order_id, VERSION_PREFIX)]

    def append(
        self,
        export: Export,
        inputs: DecisionInputs | None = None,
        also: list[dict] | None = None,
        acknowledgement: Acknowledgement | None = None,
    ) -> Appended:
        """Store a new version and mark its trigger as applied, with `also` (e.g. dispatch
        bookings) and the `acknowledgement` that caused it (a rejection) in the same
        transaction: all or nothing."""
        items = self.version_items(export, inputs, acknowledgement)
        reasons = self._transact([*items, *(also or [])])
        if reasons is None:
            return Appended.WRITTEN
        if reasons[1] == "ConditionalCheckFailed":
            return Appended.TRIGGER_ALREADY_APPLIED
        if reasons[0] == "ConditionalCheckFailed" or (export.version > 1 and reasons[2] == "ConditionalCheckFailed"):
            raise VersionTaken(f"{export.export_id} was already written, or an answer arrived since the chain was read")
        if acknowledgement is not None and "ConditionalCheckFailed" in reasons[3:5]:
            raise AckSequenceTaken(f"another acknowledgement took place {acknowledgement.sequence} first")
        raise RuntimeError(f"transaction cancelled: {reasons}")

    def append_together(self, versions: list[list[dict[str, Any]]], also: list[dict[str, Any]]) -> str | None:
        """Store several orders' new versions, each as `version_items` gives it, and `also`
        in one transaction. None when it committed; else why not (a trigger already applied,
        a version taken, a conflict with another writer, a request too large): nothing was
        written, and the caller appends them one by one, where each reason has its answer."""
        items = [item for version in versions for item in version]
        try:
            reasons = self._transact([*items, *also])
        except ClientError as error:
            return f"{error.response['Error']['Code']}: {error.response['Error'].get('Message', '')}"
        return None if reasons is None else f"transaction cancelled: {reasons}"

    def version_items(self, export: Export, inputs: DecisionInputs | None = None,
                      acknowledgement: Acknowledgement | None = None) -> list[dict[str, Any]]:
        """The transaction entries of a new version, in the order `append` reads their
        cancellation reasons: the version, its trigger marker, [no answer since the chain
        was read,] [the acknowledgement,] HEAD."""
        pk = self._order_pk(export.tenant_id, export.order_id)
        export_item = {
            "pk": pk,
            "sk": {"S": version_key(export.version)},
            "item_type": {"S": "export"},
            "export_id": {"S": export.export_id},
            "tenant_id": {"S": export.tenant_id},
            "order_id": {"S": export.order_id},
            "version": {"N": str(export.version)},
            "content_hash": {"S": export.content_hash},
            "created_at": {"S": format_utc(export.created_at)},
            **self._documents(export, inputs),
        }
        if inputs is not None:
            if export.version == 1:
                export_item["tenant_orders"] = {"S": export.tenant_id}
                export_item["placed_key"] = {"S": placed_key(inputs.order.placed_at, export.order_id)}
        trigger_item = {
            "pk": pk,
            "sk": {"S": f"{TRIGGER_PREFIX}{export.trigger.trigger_id}"},
            "item_type": {"S": "trigger"},
            "export_id": {"S": export.export_id},
        }
        items = [
            {"Put": {"TableName": self.table, "Item": export_item, "ConditionExpression": NOT_YET}},
            {"Put": {"TableName": self.table, "Item": trigger_item, "ConditionExpression": NOT_YET}},
        ]
        if export.version > 1:
            # No answer to the superseded version may have arrived after the ones this one names.
            answered = export.acknowledged.count if export.acknowledged else 0
            items.append(self._absent(pk, ack_key(export.version - 1, answered + 1)))
        if acknowledgement is not None:
            items += self._acknowledgement_puts(acknowledgement)
        items.append(self._head_put(export, next_follow_up(export, [])))
        return items

    def _documents(self, export: Export, inputs: DecisionInputs | None) -> dict[str, Any]:
        """The export's document and inputs as item attributes, gzipped: inline while they
        fit in an item, else moved to S3 as plain JSON, the inputs first (only a replay
        reads them)."""
        texts = {"document": export.canonical_json()}
        if inputs is not None:
            texts["inputs"] = inputs.model_dump_json()
        # mtime=0: the same text always packs to the same bytes.
        attributes: dict[str, Any] = {f"{name}_gz": {"B": gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0)}
                                      for name, text in texts.items()}
        for name in ("inputs", "document"):
            if sum(len(value["B"]) if "B" in value else utf8_size(value["S"]) for value in attributes.values()) <= EXPORT_ITEM_BUDGET:
                break
            if name not in texts:
                continue
            if self.payloads_bucket is None:
                raise RuntimeError(f"{export.export_id} is too large for an item and this store has no payloads bucket")
            reference = put_payload(self.payloads_bucket, EXPORTS, export.tenant_id, texts[name].encode("utf-8"))
            del attributes[f"{name}_gz"]
            attributes[f"{name}_ref"] = {"S": reference.model_dump_json()}
        return attributes

    def record_acknowledgement(self, acknowledgement: Acknowledgement, current: Export, follow_up: FollowUp | None) -> Recorded:
        """Store an answer as the next chain entry, only while its export version (`current`)
        is the latest; `follow_up` is what the order waits for once it is recorded."""
        pk = self._order_pk(acknowledgement.tenant_id, acknowledgement.order_id)
        items = [
            *self._acknowledgement_puts(acknowledgement),
            self._absent(pk, version_key(acknowledgement.export_version + 1)),
            self._head_put(current, follow_up),
        ]
        reasons = self._transact(items)
        if reasons is None:
            return Recorded.RECORDED
        if reasons[0] == "ConditionalCheckFailed":
            return Recorded.ALREADY_RECORDED
        if reasons[2] == "ConditionalCheckFailed":
            raise VersionTaken(f"a newer version of order {acknowledgement.order_id} was written meanwhile")
        if reasons[1] == "ConditionalCheckFailed":
            raise AckSequenceTaken(f"another acknowledgement took place {acknowledgement.sequence} first")
        raise RuntimeError(f"transaction cancelled: {reasons}")

    def was_recorded(self, tenant_id: str, order_id: str, request: AcknowledgementRequest) -> bool:
        item = client("dynamodb").get_item(
            TableName=self.table,
            Key={"pk": self._order_pk(tenant_id, order_id), "sk": {"S": ack_marker_key(request)}},
            ConsistentRead=True,
        ).get("Item")
        return item is not None

    def acknowledgements(self, tenant_id: str, order_id: str, version: int | None = None) -> list[Acknowledgement]:
        """The answers recorded against one version (or every version), in chain order."""
        prefix = f"{ACK_PREFIX}{version:010d}#" if version is not None else ACK_PREFIX
        return [Acknowledgement.model_validate_json(item["document"]["S"]) for item in self._query_prefix(tenant_id, order_id, prefix)]

    def acknowledgement_documents(self, tenant_id: str, order_id: str) -> list[dict[str, Any]]:
        return [json.loads(item["document"]["S"]) for item in self._query_prefix(tenant_id, order_id, ACK_PREFIX)]

    def order_items(self, tenant_id: str, order_id: str, documents_only: bool = False) -> list[dict[str, Any]]:
        """Every item of an order's partition (versions, answers, refusals, escalation rungs) in one query;
        `documents_only`: their keys, documents and hand-over times, without the decision inputs."""
        return self._query_prefix(tenant_id, order_id, "", DOCUMENTS if documents_only else None)

    def refused(self, tenant_id: str, order_id: str) -> list[dict[str, Any]]:
        return [json.loads(item["document"]["S"]) for item in self._query_prefix(tenant_id, order_id, REFUSED_PREFIX)]

    def record_refusal(self, tenant_id: str, order_id: str, request: dict[str, Any], reason: str, now: datetime) -> None:
        """Keep a refused answer as a record; outside the chain, never acted on."""
        document = {"request": request, "reason": reason, "refused_at": format_utc(now)}
        try:
            client("dynamodb").put_item(
                TableName=self.table,
                Item={
                    "pk": self._order_pk(tenant_id, order_id),
                    "sk": {"S": f"{REFUSED_PREFIX}{request.get('warehouse_id')}#{request.get('ack_id')}"},
                    "item_type": {"S": "refused_acknowledgement"},
                    "document": {"S": canonical_json(document)},
                },
                ConditionExpression=NOT_YET,
            )
        except ClientError as error:  # the same answer sent again: the first refusal stands
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def _acknowledgement_puts(self, acknowledgement: Acknowledgement) -> list[dict[str, Any]]:
        pk = self._order_pk(acknowledgement.tenant_id, acknowledgement.order_id)
        request = acknowledgement.request
        marker = {
            "pk": pk,
            "sk": {"S": ack_marker_key(request)},
            "item_type": {"S": "acknowledgement_marker"},
            "chain_key": {"S": ack_key(acknowledgement.export_version, acknowledgement.sequence)},
        }
        entry = {
            "pk": pk,
            "sk": {"S": ack_key(acknowledgement.export_version, acknowledgement.sequence)},
            "item_type": {"S": "acknowledgement"},
            "tenant_id": {"S": acknowledgement.tenant_id},
            "order_id": {"S": acknowledgement.order_id},
            "warehouse_id": {"S": request.warehouse_id},
            "kind": {"S": str(request.kind)},
            "recorded_at": {"S": format_utc(acknowledgement.recorded_at)},
            "content_hash": {"S": acknowledgement.content_hash},
            "document": {"S": canonical_json(acknowledgement.model_dump(mode="json"))},
        }
        return [
            {"Put": {"TableName": self.table, "Item": marker, "ConditionExpression": NOT_YET}},
            {"Put": {"TableName": self.table, "Item": entry, "ConditionExpression": NOT_YET}},
        ]

    def _head_put(self, export: Export, follow_up: FollowUp | None, needs: Attention | None = None) -> dict[str, Any]:
        item: dict[str, Any] = {
            "pk": self._order_pk(export.tenant_id, export.order_id),
            "sk": {"S": HEAD},
            "item_type": {"S": "head"},
            "tenant_id": {"S": export.tenant_id},
            "order_id": {"S": export.order_id},
            "version": {"N": str(export.version)},
        }
        needs = needs or attention(export, follow_up)
        if needs is not None:
            item.update(
                attention_tenant={"S": export.tenant_id},
                attention_at={"S": format_utc(needs.deadline)},
                attention={"S": needs.model_dump_json()},
            )
        if follow_up is not None:
            shard = int(export.content_hash[:8], 16) % DUE_SHARDS
            item.update(
                follow_up={"S": str(follow_up.kind)},
                due_shard={"S": f"DUE#{shard}"},
                due_at={"S": format_utc(follow_up.due_at)},
            )
        return {"Put": {"TableName": self.table, "Item": item}}

    def put_head(self, export: Export, follow_up: FollowUp | None, needs: Attention | None = None) -> None:
        """Rewrite what the order waits for (the sweep, after acting without a new version);
        `needs`: what the exception queue shows, when the sweep knows better (it escalated)."""
        client("dynamodb").transact_write_items(TransactItems=[
            self._head_put(export, follow_up, needs),
            # Only while `export` is still the latest version: a newer one wrote its own HEAD.
            self._absent(self._order_pk(export.tenant_id, export.order_id), version_key(export.version + 1)),
        ])

    def due(self, now: datetime, limit: int = 100) -> list[tuple[str, str, int]]:
        """(tenant, order, version) of orders whose follow-up is due, earliest first per shard."""
        found: list[tuple[str, str, int]] = []
        for shard in range(DUE_SHARDS):
            request: dict[str, Any] = {
                "TableName": self.table,
                "IndexName": FOLLOW_UPS_INDEX,
                "KeyConditionExpression": "due_shard = :shard AND due_at <= :now",
                "ExpressionAttributeValues": {":shard": {"S": f"DUE#{shard}"}, ":now": {"S": format_utc(now)}},
                "Limit": limit,
            }
            items = client("dynamodb").query(**request).get("Items", [])
            found += [(i["tenant_id"]["S"], i["order_id"]["S"], int(i["version"]["N"])) for i in items]
        return found[:limit * DUE_SHARDS]

    def needing_attention(self, tenant_id: str, until: datetime, limit: int,
                          after: dict[str, Any] | None = None) -> tuple[list[tuple[str, int, Attention]], dict | None]:
        """(order, version, attention) of a tenant's open exceptions with a deadline before
        `until`, earliest first; and the key to continue after, if there are more."""
        self.scope.require_tenant(tenant_id, order_not_found(tenant_id, "*"))
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": ATTENTION_INDEX,
            "KeyConditionExpression": "attention_tenant = :tenant AND attention_at <= :until",
            "ExpressionAttributeValues": {":tenant": {"S": tenant_id}, ":until": {"S": format_utc(until)}},
            "Limit": limit,
        }
        if after:
            request["ExclusiveStartKey"] = after
        response = client("dynamodb").query(**request)
        found = [(item["order_id"]["S"], int(item["version"]["N"]), Attention.model_validate_json(item["attention"]["S"]))
                 for item in response.get("Items", [])]
        return found, response.get("LastEvaluatedKey")

    def _absent(self, pk: dict[str, str], sort_key: str) -> dict[str, Any]:
        return {
            "ConditionCheck": {
                "TableName": self.table,
                "Key": {"pk": pk, "sk": {"S": sort_key}},
                "ConditionExpression": NOT_YET,
            }
        }

    def _transact(self, items: list[dict[str, Any]]) -> list[str | None] | None:
        """Run a transaction; None when it committed, else each item's cancellation code."""
        try:
            client("dynamodb").transact_write_items(TransactItems=items)
            return None
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
            return reasons + [None] * (len(items) - len(reasons))

    def _query_prefix(self, tenant_id: str, order_id: str, prefix: str,
                      projection: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": self._order_pk(tenant_id, order_id), ":prefix": {"S": prefix}},
            "ConsistentRead": True,
            **(projection or {}),
        }
        if not prefix:  # the whole partition
            request["KeyConditionExpression"] = "pk = :pk"
            del request["ExpressionAttributeValues"][":prefix"]
        while True:
            response = client("dynamodb").query(**request)
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def visible(self, tenant_id: str, order_id: str, version: int) -> dict[str, Any]:
        """One export version's document, if it exists and the scope may see it; else NotVisible."""
        missing = f"export {tenant_id}:{order_id}:v{version}"
        self.scope.require_tenant(tenant_id, lambda: NotVisible(missing))
        stored = self.stored(tenant_id, order_id, version)
        if stored is None:
            raise NotVisible(missing)
        return self.scope.require_export(stored.document)

    def stored(self, tenant_id: str, order_id: str, version: int) -> StoredExport | None:
        item = self._version_item(tenant_id, order_id, version)
        return _stored(item) if item else None

    def _version_item(self, tenant_id: str, order_id: str, version: int) -> dict[str, Any] | None:
        return client("dynamodb").get_item(
            TableName=self.table,
            Key={"pk": self._order_pk(tenant_id, order_id), "sk": {"S": version_key(version)}},
            ConsistentRead=True,
        ).get("Item")

    def latest_stored(self, tenant_id: str, order_id: str) -> StoredExport | None:
        item = self._latest_item(tenant_id, order_id)
        return _stored(item) if item else None

    def recent_orders(self, tenant_id: str, limit: int) -> list[str]:
        """The tenant's last `limit` orders by placed-at time, newest first (sparse index)."""
        self.scope.require_tenant(tenant_id, order_not_found(tenant_id, "*"))
        order_ids: list[str] = []
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": TENANT_ORDERS_INDEX,
            "KeyConditionExpression": "tenant_orders = :tenant",
            "ExpressionAttributeValues": {":tenant": {"S": tenant_id}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        while len(order_ids) < limit:
            response = client("dynamodb").query(**request)
            order_ids.extend(item["order_id"]["S"] for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
            request["Limit"] = limit - len(order_ids)
        return order_ids[:limit]

    def placed_between(self, tenant_id: str, first_day: date, last_day: date, at_most: int) -> dict[str, datetime]:
        """Order -> placed-at time of the tenant's orders placed from `first_day` to
        `last_day` (UTC, included); TooManyOrders beyond `at_most` (sparse index)."""
        self.scope.require_tenant(tenant_id, order_not_found(tenant_id, "*"))
        return {item["order_id"]["S"]: placed_at_of(item)
                for item in placed_between(self.table, tenant_id, first_day, last_day, at_most)}

    def every_stored(self) -> Iterator[StoredExport]:
        """Every stored export version, in no particular order (replaying a whole table)."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "item_type = :export",
            "ExpressionAttributeValues": {":export": {"S": "export"}},
        }
        while True:
            response = client("dynamodb").scan(**request)
            yield from (_stored(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _quarantined_document(self, document: dict[str, Any]) -> dict[str, Any]:
        text = canonical_json(document)
        if utf8_size(text) <= EXPORT_ITEM_BUDGET or self.payloads_bucket is None:
            return {"document": {"S": text}}
        reference = put_payload(self.payloads_bucket, EXPORTS, str(document.get("tenant_id")), text.encode("utf-8"))
        return {"document_ref": {"S": reference.model_dump_json()}}

    def quarantine(self, document: dict[str, Any], errors: list[str], now: datetime) -> bool:
        """Keep an export that failed validation; False if it was already quarantined."""
        try:
            client("dynamodb").put_item(
                TableName=self.table,
                Item={
                    "pk": {"S": order_key(str(document.get("tenant_id")), str(document.get("order_id")))},
                    "sk": {"S": f"{QUARANTINE_PREFIX}{document.get('export_id')}"},
                    "item_type": {"S": "quarantine"},
                    "export_id": {"S": str(document.get("export_id"))},
                    "tenant_id": {"S": str(document.get("tenant_id"))},
                    "order_id": {"S": str(document.get("order_id"))},
                    "quarantined_at": {"S": format_utc(now)},
                    "errors": {"L": [{"S": error} for error in errors]},
                    **self._quarantined_document(document),
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
            return True
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
