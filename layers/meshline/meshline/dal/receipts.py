"""The memory of webhook deliveries: one conditional write per delivery, kept for days.

Not Powertools' idempotency utility, on purpose: it costs two writes per new delivery
(INPROGRESS, then COMPLETED) and answers a changed body with an error it does not record.
Here one conditional PutItem both claims the delivery id and remembers the body's hash;
a replay with another body is refused *and* recorded. The step after ingest (decide) is
idempotent on its own business key, so a crash between this write and the enqueue is
repaired by the platform's retry.

A receipt of an order's creation also carries `tenant_orders`/`placed_key` (tenant; the
order's placed-at time and id), the keys of the sparse `TenantOrders` index: what the
reconciliation report counts as received, beside the exports table's index of the same
name and keys. Receipts expire after `WebhookDedupDays`, so it sees only that far back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from botocore.exceptions import ClientError

from meshline.dal.aws import client
from meshline.dal.scope import SYSTEM, Scope
from meshline.dal.tenant_orders import placed_at_of, placed_between, placed_key
from meshline.domain.access import NotVisible
from meshline.domain.types import format_utc

REFUSAL_RETENTION = timedelta(days=90)


class Delivery(StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"


@dataclass(frozen=True)
class ReceiptOutcome:
    delivery: Delivery
    first_received_at: str


class WebhookReceipts:
    def __init__(self, table: str, keep_for: timedelta, scope: Scope = SYSTEM):
        self.table = table
        self.keep_for = keep_for
        self.scope = scope

    def kept_since(self, now: datetime) -> date:
        """The first day whose receipts are all still kept."""
        return (now - self.keep_for).date() + timedelta(days=1)

    def created_between(self, tenant_id: str, first_day: date, last_day: date,
                        at_most: int) -> dict[str, tuple[datetime, list[datetime]]]:
        """Order -> (placed at, when each webhook announcing its creation was received), for
        the tenant's orders placed from `first_day` to `last_day` (UTC, included)."""
        self.scope.require_tenant(tenant_id, lambda: NotVisible(f"tenant {tenant_id}"))
        found: dict[str, tuple[datetime, list[datetime]]] = {}
        for item in placed_between(self.table, tenant_id, first_day, last_day, at_most):
            _, received = found.setdefault(item["order_id"]["S"], (placed_at_of(item), []))
            received.append(datetime.fromisoformat(item["received_at"]["S"]))
        return found

    def record(
        self, *, tenant_id: str, platform: str, delivery_id: str, body_sha256: str, order_id: str, topic: str, now: datetime,
        created_at: datetime | None = None,
    ) -> ReceiptOutcome:
        """`created_at`: the order's placed-at time, when the delivery announces its creation."""
        key = f"{tenant_id}#{platform}#{delivery_id}"
        item = {
            "pk": {"S": key},
            "body_sha256": {"S": body_sha256},
            "order_id": {"S": order_id},
            "topic": {"S": topic},
            "received_at": {"S": format_utc(now)},
            "expires_at": {"N": str(int((now + self.keep_for).timestamp()))},
        }
        if created_at is not None:
            item.update(tenant_orders={"S": tenant_id}, placed_key={"S": placed_key(created_at, order_id)})
        try:
            # An expired receipt counts as absent: DynamoDB deletes TTL'd items up to days late.
            client("dynamodb").put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                ExpressionAttributeValues={":now": {"N": str(int(now.timestamp()))}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return ReceiptOutcome(Delivery.NEW, format_utc(now))
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            original = error.response.get("Item") or self._get(key)
        first_received_at = original["received_at"]["S"]
        if original["body_sha256"]["S"] == body_sha256:
            return ReceiptOutcome(Delivery.DUPLICATE, first_received_at)
        self._record_refusal(key, body_sha256, original["body_sha256"]["S"], topic, now)
        return ReceiptOutcome(Delivery.CONFLICT, first_received_at)

    def _get(self, key: str) -> dict:
        response = client("dynamodb").get_item(TableName=self.table, Key={"pk": {"S": key}}, ConsistentRead=True)
        return response["Item"]

    def _record_refusal(self, key: str, body_sha256: str, original_sha256: str, topic: str, now: datetime) -> None:
        client("dynamodb").put_item(
            TableName=self.table,
            Item={
                "pk": {"S": f"REFUSED#{key}#{body_sha256}"},
                "reason": {"S": "delivery id already received with a different body"},
                "body_sha256": {"S": body_sha256},
                "original_body_sha256": {"S": original_sha256},
                "topic": {"S": topic},
                "refused_at": {"S": format_utc(now)},
                "expires_at": {"N": str(int((now + REFUSAL_RETENTION).timestamp()))},
            },
        )
