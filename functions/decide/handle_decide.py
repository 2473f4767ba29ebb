"""SQS FIFO (order inbox) -> decide: one export per trigger, per order, in order.

`SqsFifoPartialProcessor` keeps FIFO semantics on failure: with skip_group_on_error, a
failed message fails the rest of its own order's messages in the batch (so versions are
never decided out of order) while other orders go on.

Before the processor runs, the first message of each order in the batch is decided
together with the others (`decide_orders`: one read and one transaction for up to 10
orders instead of one of each per order); the processor then answers those from what was
decided, and decides the rest (an order's later messages, anything left out) one by one.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

from aws_lambda_powertools.utilities.batch import process_partial_response
from pydantic import Field, Json, ValidationError

from meshline.batch import SqsFifoProcessor, SqsRecord
from meshline.clock import utc_now
from meshline.domain.events import OrderReceived, OrderReceivedByReference
from meshline.flows.decide import DecideResult, decide_order, decide_orders, received_order
from meshline.observability import follow_order, logger, metrics, tracer
from meshline.settings import decide_settings


InboxMessage = Annotated[OrderReceived | OrderReceivedByReference, Field(discriminator="message_type")]


class OrderReceivedRecord(SqsRecord):
    body: Json[InboxMessage]  # type: ignore[assignment]


processor = SqsFifoProcessor(model=OrderReceivedRecord, skip_group_on_error=True)


def decide_first_of_each_order(records: list[dict]) -> dict[str, DecideResult]:
    """The batch's first message of each order, decided together; by message id. An
    order's later messages wait for the processor: each is decided after the one before it
    is stored. Those carried by reference (large orders) are left to it as well."""
    first: dict[str, OrderReceived] = {}
    groups: set[str] = set()
    for record in records:
        group = record.get("attributes", {}).get("MessageGroupId")
        if group in groups:
            continue
        groups.add(group)
        try:
            # Parsed again by the processor (0.17 ms for a 250-line order's message), which
            # keeps Powertools' per-record failures and FIFO skipping as they are.
            body = OrderReceivedRecord.model_validate(record).body
        except ValidationError:
            continue  # the processor reports it, and fails the rest of its group
        if isinstance(body, OrderReceived):
            first[record["messageId"]] = body
    if len(first) < 2:
        return {}
    decided = decide_orders(decide_settings(), list(first.values()), utc_now())
    message_ids = list(first)
    return {message_ids[index]: result for index, result in decided.items()}


@tracer.capture_method
def record_handler(decided: dict[str, DecideResult], record: OrderReceivedRecord) -> None:
    message = received_order(record.body)
    follow_order(message.order.tenant_id, message.order.order_id)
    result = decided.get(record.messageId) or decide_order(decide_settings(), message, utc_now())
    logger.info("decided", extra={"outcome": str(result.outcome), "export_id": result.export_id})


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    decided = decide_first_of_each_order(event.get("Records", []))
    return process_partial_response(event=event, record_handler=partial(record_handler, decided),
                                    processor=processor, context=context)
