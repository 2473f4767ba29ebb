"""SQS (warehouse results queue) -> the same answers as POST /acknowledgements.

A refused answer is recorded and the message is done: sending it again would be refused
again. A message that is not an answer at all fails, is retried, and ends in the queue's
DLQ, where it can be inspected and redriven.
"""

from aws_lambda_powertools.utilities.batch import process_partial_response
from pydantic import Json

from meshline.batch import SqsProcessor, SqsRecord
from meshline.clock import utc_now
from meshline.domain.acknowledgements import AcknowledgementRequest
from meshline.domain.exports import parse_export_id
from meshline.flows.acknowledge import acknowledge
from meshline.observability import follow_order, logger, metrics, tracer
from meshline.settings import acknowledge_settings


class AcknowledgementRecord(SqsRecord):
    body: Json[AcknowledgementRequest]  # type: ignore[assignment]


processor = SqsProcessor(model=AcknowledgementRecord)


@tracer.capture_method
def record_handler(record: AcknowledgementRecord) -> None:
    request = record.body
    logger.append_keys(export_id=request.export_id, warehouse_id=request.warehouse_id, ack_id=request.ack_id)
    tenant_id, order_id, _ = parse_export_id(request.export_id)
    follow_order(tenant_id, order_id)
    result = acknowledge(acknowledge_settings(), request, utc_now())
    logger.info("acknowledgement handled", extra={"outcome": str(result.outcome), "detail": result.message})


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
