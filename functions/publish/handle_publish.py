"""DynamoDB stream (exports table) -> publish: deliver, announce and archive each new export.

Each record is checked and archived on its own; the sends of the whole batch (warehouse
messages, events, inventory watches) are then made together, in batches.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from meshline.batch import StreamBatchProcessor
from meshline.clock import utc_now
from meshline.flows.publish import Publication, Published, complete, publish_stored_item
from meshline.observability import follow_order, logger, metrics, tracer
from meshline.settings import publish_settings


def complete_batch(publications: list[Publication]) -> dict[int, Exception]:
    return complete(publish_settings(), publications)


processor = StreamBatchProcessor(complete=complete_batch)


@tracer.capture_method
def record_handler(record: DynamoDBRecord) -> Publication:
    new_image = record.dynamodb.new_image if record.dynamodb else None
    if not new_image:
        return Publication(Published.IGNORED)
    if new_image.get("tenant_id") and new_image.get("order_id"):
        follow_order(str(new_image["tenant_id"]), str(new_image["order_id"]))
    publication = publish_stored_item(publish_settings(), new_image, utc_now())
    logger.info("stream record handled", extra={"outcome": str(publication.outcome), "sk": new_image.get("sk")})
    return publication


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
