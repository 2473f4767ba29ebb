"""SQS (escalation tasks and outcomes queues, both fed by the escalation state machine) -> escalate flow.

A task message (it carries a task token) is kept so that whoever resolves the escalation
can answer the state machine; an outcome message ends the escalation, and a breach is
recorded as a new export version.
"""

from aws_lambda_powertools.utilities.batch import process_partial_response
from pydantic import Json

from meshline.batch import SqsProcessor, SqsRecord
from meshline.clock import utc_now
from meshline.domain.escalations import EscalationOutcome, EscalationTask
from meshline.flows.escalate import keep_task, record_outcome
from meshline.observability import follow_order, logger, metrics, tracer
from meshline.settings import escalate_settings


class EscalationRecord(SqsRecord):
    body: Json[EscalationTask | EscalationOutcome]  # type: ignore[assignment]


processor = SqsProcessor(model=EscalationRecord)


@tracer.capture_method
def record_handler(record: EscalationRecord) -> None:
    message = record.body
    follow_order(message.tenant_id, message.order_id)
    logger.append_keys(escalation_id=message.escalation_id)
    if isinstance(message, EscalationTask):
        keep_task(escalate_settings(), message, utc_now())
    else:
        record_outcome(escalate_settings(), message, utc_now())


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
