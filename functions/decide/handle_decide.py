"""SQS FIFO (order inbox) -> decide: one export per trigger, per order, in order.

`SqsFifoPartialProcessor` keeps FIFO semantics on failure: with skip_group_on_error, a
failed message fails the rest of its own order's messages in the batch (so versions are
never decided out of order) while other orders go on.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.utilities.batch import process_partial_response
from pydantic import Field, Json

from meshline.batch import SqsFifoProcessor, SqsRecord
from meshline.clock import utc_now
from meshline.domain.events import OrderReceived, OrderReceivedByReference
from meshline.flows.decide import decide_order, received_order
from meshline.observability import follow_order, logger, metrics, tracer
from meshline.settings import decide_settings


InboxMessage = Annotated[OrderReceived | OrderReceivedByReference, Field(discriminator="message_type")]


class OrderReceivedRecord(SqsRecord):
    body: Json[InboxMessage]  # type: ignore[assignment]


processor = SqsFifoProcessor(model=OrderReceivedRecord, skip_group_on_error=True)


@tracer.capture_method
def record_handler(record: OrderReceivedRecord) -> None:
    message = received_order(record.body)
    follow_order(message.order.tenant_id, message.order.order_id)
    result = decide_order(decide_settings(), message, utc_now())
    logger.info("decided", extra={"outcome": str(result.outcome), "export_id": result.export_id})


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
