"""DynamoDB stream (exports table) -> publish: deliver, announce and archive each new export."""

from __future__ import annotations

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from meshline.clock import utc_now
from meshline.flows.publish import publish_stored_item
from meshline.observability import follow_order, logger, metrics, tracer
from meshline.settings import publish_settings

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@tracer.capture_method
def record_handler(record: DynamoDBRecord) -> None:
    new_image = record.dynamodb.new_image if record.dynamodb else None
    if not new_image:
        return
    if new_image.get("tenant_id") and new_image.get("order_id"):
        follow_order(str(new_image["tenant_id"]), str(new_image["order_id"]))
    outcome = publish_stored_item(publish_settings(), new_image, utc_now())
    logger.info("stream record handled", extra={"outcome": str(outcome), "sk": new_image.get("sk")})


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
