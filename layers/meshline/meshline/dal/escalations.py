"""Escalations in AWS: executions of the escalation state machine, and the open tasks
(task tokens) people answer, kept in the exports table beside the order they concern.

Items (pk `ORDER#<tenant>#<order>`):
- `ESCALATION#<version>#<rung>`: the task a rung's contact was handed, with its token.
  Written once per rung (a redelivered task message finds it there); never updated.
"""

from __future__ import annotations

import json
from datetime import datetime

from botocore.exceptions import ClientError

from meshline.dal.aws import client
from meshline.dal.exports import NOT_YET, order_key
from meshline.domain.escalations import EscalationStart, EscalationTask, HandedRung, execution_name
from meshline.domain.types import format_utc

ESCALATION_PREFIX = "ESCALATION#"


def escalation_key(version: int, rung: int) -> str:
    return f"{ESCALATION_PREFIX}{version:010d}#{rung:02d}"


def handed_rung(item: dict) -> HandedRung:
    """What an `ESCALATION#` item may show: who was handed which rung, when; never its token."""
    task = json.loads(item["document"]["S"])
    return HandedRung(export_version=task["export_version"], rung=task["rung"], contact=task["contact"],
                      reason=task["reason"], handed_at=item["handed_at"]["S"])


def start(state_machine_arn: str, escalation: EscalationStart) -> bool:
    """Start the escalation; False when it had already been started (a redelivered stream record)."""
    try:
        client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn,
            name=execution_name(escalation.escalation_id),
            input=escalation.model_dump_json(),
        )
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] == "ExecutionAlreadyExists":
            return False
        raise


class EscalationStore:
    def __init__(self, table: str):
        self.table = table

    def record_task(self, task: EscalationTask, now: datetime) -> bool:
        """Keep a rung's task and token; False if this rung's task was already kept."""
        try:
            client("dynamodb").put_item(
                TableName=self.table,
                Item={
                    "pk": {"S": order_key(task.tenant_id, task.order_id)},
                    "sk": {"S": escalation_key(task.export_version, task.rung)},
                    "item_type": {"S": "escalation_task"},
                    "escalation_id": {"S": task.escalation_id},
                    "contact": {"S": task.contact},
                    "handed_at": {"S": format_utc(now)},
                    "document": {"S": task.model_dump_json()},
                },
                ConditionExpression=NOT_YET,
            )
            return True
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise

    def tasks(self, tenant_id: str, order_id: str, version: int | None = None) -> list[EscalationTask]:
        """The tasks handed for one export version (or all), rung by rung."""
        prefix = f"{ESCALATION_PREFIX}{version:010d}#" if version is not None else ESCALATION_PREFIX
        response = client("dynamodb").query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": order_key(tenant_id, order_id)}, ":prefix": {"S": prefix}},
            ConsistentRead=True,
        )
        return [EscalationTask.model_validate(json.loads(item["document"]["S"])) for item in response.get("Items", [])]
