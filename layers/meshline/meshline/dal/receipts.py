"""The memory of webhook deliveries: one conditional write per delivery, kept for days.

Not Powertools' idempotency utility, on purpose: it costs two writes per new delivery
(INPROGRESS, then COMPLETED) and answers a changed body with an error it does not record.
Here one conditional PutItem both claims the delivery id and remembers the body's hash;
a replay with another body is refused *and* recorded. The step after ingest (decide) is
idempotent on its own business key, so a crash between this write and the enqueue is
repaired by the platform's retry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from botocore.exceptions import ClientError

from meshline.dal.aws import client
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
    def __init__(self, table: str, keep_for: timedelta):
        self.table = table
        self.keep_for = keep_for

    def record(
        self, *, tenant_id: str, platform: str, delivery_id: str, body_sha256: str, order_id: str, topic: str, now: datetime
    ) -> ReceiptOutcome:
        key = f"{tenant_id}#{platform}#{delivery_id}"
        item = {
            "pk": {"S": key},
            "body_sha256": {"S": body_sha256},
            "order_id": {"S": order_id},
            "topic": {"S": topic},
            "received_at": {"S": format_utc(now)},
            "expires_at": {"N": str(int((now + self.keep_for).timestamp()))},
        }
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
