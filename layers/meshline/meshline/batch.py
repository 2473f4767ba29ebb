"""Powertools' batch processors for Meshline's queue-fed functions, each failure's reason kept.

A record that fails is left to SQS to retry and, after `maxReceiveCount`, to move to the
queue's DLQ; what SQS does not keep is why. These processors record it
(`meshline.dal.dead_letters`) before Powertools reports the failure, so the redrive
command can show every dead letter's reason.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, SqsFifoPartialProcessor

from meshline.clock import utc_now
from meshline.dal.dead_letters import remember_failure
from meshline.observability import logger
from meshline.settings import dead_letter_settings


class _RememberingFailures:
    def failure_handler(self, record: Any, exception: Any) -> Any:
        entry = super().failure_handler(record, exception)  # type: ignore[misc]
        table = dead_letter_settings().dead_letters_table
        message_id = _field(record, "messageId")
        queue = str(_field(record, "eventSourceARN") or "").rsplit(":", 1)[-1]
        if table and message_id and queue:
            try:
                remember_failure(table, queue, message_id, f"{exception[0].__name__}: {exception[1]}", utc_now())
            except Exception:  # noqa: BLE001 - the failure is already reported; its reason is a courtesy
                logger.exception("could not record why a message failed", extra={"message_id": message_id})
        return entry


def _field(record: Any, name: str) -> Any:
    """From a parsed model (attributes), or the raw record Powertools falls back to when the
    body cannot be parsed (a data class over the record's dict)."""
    raw = getattr(record, "raw_event", record)
    return raw.get(name) if isinstance(raw, dict) else getattr(record, name, None)


class SqsFifoProcessor(_RememberingFailures, SqsFifoPartialProcessor):
    pass


class SqsProcessor(_RememberingFailures, BatchProcessor):
    def __init__(self, model: Any):
        super().__init__(event_type=EventType.SQS, model=model)
