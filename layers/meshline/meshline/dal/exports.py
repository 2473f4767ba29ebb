"""The export store: append-only versions per order, in one DynamoDB partition per order.

Items of one order (pk `ORDER#<tenant>#<order>`):
- `V#<version>`: an export, its canonical JSON in `document` (the exact bytes that are
  hashed, published and archived), and in `inputs` the order and stock it was decided
  from, so that it can be replayed (the export's `inputs_hash` seals them). Version 1
  also carries `tenant_orders`/`placed_key`, the keys of the sparse index of a tenant's
  orders by placed-at time (the dry run's "last N orders");
- `TRIGGER#<trigger id>`: written in the same transaction as the export it caused, so a
  redelivered trigger can never produce a second export;
- `QUARANTINE#<export id>`: an export that failed its schema, kept for repair, never published.

Only PutItem (inside a transaction) ever writes here; nothing updates or deletes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from meshline.dal.aws import client
from meshline.domain.exports import Export, canonical_json
from meshline.domain.replay import DecisionInputs
from meshline.domain.types import format_utc

VERSION_PREFIX = "V#"
TRIGGER_PREFIX = "TRIGGER#"
QUARANTINE_PREFIX = "QUARANTINE#"


TENANT_ORDERS_INDEX = "TenantOrders"


@dataclass(frozen=True)
class StoredExport:
    document: dict[str, Any]
    inputs: DecisionInputs | None

    @property
    def export(self) -> Export:
        return Export.model_validate(self.document)


def _stored(item: dict[str, Any]) -> StoredExport:
    inputs = item.get("inputs", {}).get("S")
    return StoredExport(
        document=json.loads(item["document"]["S"]),
        inputs=DecisionInputs.model_validate_json(inputs) if inputs else None,
    )


class Appended(StrEnum):
    WRITTEN = "written"
    TRIGGER_ALREADY_APPLIED = "trigger_already_applied"


class VersionTaken(RuntimeError):
    """Another writer stored this version first; re-read the latest version and decide again."""


def order_key(tenant_id: str, order_id: str) -> str:
    return f"ORDER#{tenant_id}#{order_id}"


def version_key(version: int) -> str:
    return f"{VERSION_PREFIX}{version:010d}"


class ExportStore:
    def __init__(self, table: str):
        self.table = table

    def _latest_item(self, tenant_id: str, order_id: str) -> dict[str, Any] | None:
        response = client("dynamodb").query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :versions)",
            ExpressionAttributeValues={":pk": {"S": order_key(tenant_id, order_id)}, ":versions": {"S": VERSION_PREFIX}},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = response.get("Items", [])
        return items[0] if items else None

    def latest(self, tenant_id: str, order_id: str) -> Export | None:
        item = self._latest_item(tenant_id, order_id)
        return Export.model_validate_json(item["document"]["S"]) if item else None

    def history(self, tenant_id: str, order_id: str) -> list[dict[str, Any]]:
        """Every stored export document of an order, oldest first."""
        documents: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :versions)",
            "ExpressionAttributeValues": {
                ":pk": {"S": order_key(tenant_id, order_id)},
                ":versions": {"S": VERSION_PREFIX},
            },
            "ConsistentRead": True,
        }
        while True:
            response = client("dynamodb").query(**request)
            documents.extend(json.loads(item["document"]["S"]) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return documents
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def append(
        self, export: Export, inputs: DecisionInputs | None = None, also: list[dict] | None = None
    ) -> Appended:
        """Store a new version and mark its trigger as applied, with `also` (e.g. dispatch
        bookings) in the same transaction: all or nothing."""
        pk = {"S": order_key(export.tenant_id, export.order_id)}
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
            "document": {"S": export.canonical_json()},
        }
        if inputs is not None:
            export_item["inputs"] = {"S": inputs.model_dump_json()}
            if export.version == 1:
                export_item["tenant_orders"] = {"S": export.tenant_id}
                export_item["placed_key"] = {"S": f"{format_utc(inputs.order.placed_at)}#{export.order_id}"}
        trigger_item = {
            "pk": pk,
            "sk": {"S": f"{TRIGGER_PREFIX}{export.trigger.trigger_id}"},
            "item_type": {"S": "trigger"},
            "export_id": {"S": export.export_id},
        }
        not_yet = "attribute_not_exists(pk)"
        try:
            client("dynamodb").transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": self.table, "Item": export_item, "ConditionExpression": not_yet}},
                    {"Put": {"TableName": self.table, "Item": trigger_item, "ConditionExpression": not_yet}},
                    *(also or []),
                ]
            )
            return Appended.WRITTEN
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
            if len(reasons) >= 2 and reasons[1] == "ConditionalCheckFailed":
                return Appended.TRIGGER_ALREADY_APPLIED
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise VersionTaken(f"{export.export_id} was already written by another decision") from error
            raise

    def stored(self, tenant_id: str, order_id: str, version: int) -> StoredExport | None:
        item = client("dynamodb").get_item(
            TableName=self.table,
            Key={"pk": {"S": order_key(tenant_id, order_id)}, "sk": {"S": version_key(version)}},
            ConsistentRead=True,
        ).get("Item")
        return _stored(item) if item else None

    def latest_stored(self, tenant_id: str, order_id: str) -> StoredExport | None:
        item = self._latest_item(tenant_id, order_id)
        return _stored(item) if item else None

    def recent_orders(self, tenant_id: str, limit: int) -> list[str]:
        """The tenant's last `limit` orders by placed-at time, newest first (sparse index)."""
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
                    "document": {"S": canonical_json(document)},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
            return True
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
