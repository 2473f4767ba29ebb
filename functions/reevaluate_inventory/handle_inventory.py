"""SQS (inventory changes, filled by an EventBridge rule on Meshline's bus) -> re-evaluate flow.

Each message is the EventBridge event itself; its id makes re-deciding idempotent (the
trigger of every version it causes), so a redelivered message changes nothing twice.
"""

from typing import Literal

from aws_lambda_powertools.utilities.batch import process_partial_response
from pydantic import ConfigDict, Field, Json

from meshline.batch import SqsProcessor, SqsRecord
from meshline.clock import utc_now
from meshline.domain.inventory import InventoryLevelChanged
from meshline.domain.types import Model
from meshline.flows.reevaluate import reevaluate
from meshline.observability import logger, metrics, tracer
from meshline.settings import reevaluate_settings


class InventoryEvent(Model):
    """The EventBridge envelope, only as far as it is read. Not Powertools' EventBridgeModel,
    which requires every envelope field: moto's delivery to SQS omits `account`, and
    nothing here needs it."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str = Field(min_length=1)
    source: Literal["meshline.inventory"]
    detail_type: Literal["InventoryLevelChanged"] = Field(alias="detail-type")
    detail: InventoryLevelChanged


class InventoryRecord(SqsRecord):
    body: Json[InventoryEvent]  # type: ignore[assignment]


processor = SqsProcessor(model=InventoryRecord)


@tracer.capture_method
def record_handler(record: InventoryRecord) -> None:
    change = record.body.detail
    logger.append_keys(tenant_id=change.tenant_id, sku=change.sku, warehouse_id=change.warehouse_id)
    reevaluate(reevaluate_settings(), change, record.body.id, utc_now())


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
