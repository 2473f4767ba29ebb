"""Why a queued message failed, kept beside it while it waits in a dead-letter queue.

SQS moves a message that failed `maxReceiveCount` times to its DLQ with the same
MessageId but without the reason. Every failure of a queue-fed function records its reason
here (receipts table, `FAILURE#<queue>#<message id>`, kept as long as a DLQ keeps a
message), so the redrive command can say why each dead letter died before replaying it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from meshline.dal.aws import client
from meshline.domain.types import format_utc

FAILURE_PREFIX = "FAILURE#"
KEEP_FOR = timedelta(days=14)  # the DLQs' MessageRetentionPeriod
MAX_REASON = 1000


def failure_key(queue_name: str, message_id: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": f"{FAILURE_PREFIX}{queue_name}#{message_id}"}}


def remember_failure(table: str, queue_name: str, message_id: str, reason: str, now: datetime) -> None:
    client("dynamodb").update_item(
        TableName=table,
        Key=failure_key(queue_name, message_id),
        UpdateExpression="SET reason = :reason, failed_at = :now, expires_at = :expires ADD attempts :one",
        ExpressionAttributeValues={
            ":reason": {"S": reason[:MAX_REASON]},
            ":now": {"S": format_utc(now)},
            ":expires": {"N": str(int((now + KEEP_FOR).timestamp()))},
            ":one": {"N": "1"},
        },
    )


def failure_of(table: str, queue_name: str, message_id: str) -> dict[str, str] | None:
    """{reason, failed_at, attempts} of a message's last failure, if one was recorded."""
    item = client("dynamodb").get_item(TableName=table, Key=failure_key(queue_name, message_id)).get("Item")
    if not item:
        return None
    return {"reason": item["reason"]["S"], "failed_at": item["failed_at"]["S"], "attempts": item["attempts"]["N"]}
