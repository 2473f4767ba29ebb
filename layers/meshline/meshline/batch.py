"""Powertools' batch processors for Meshline's queue-fed functions, each failure's reason kept.

A record that fails is left to SQS to retry and, after `maxReceiveCount`, to move to the
queue's DLQ; what SQS does not keep is why. These processors record it
(`meshline.dal.dead_letters`) before Powertools reports the failure, so the redrive
command can show every dead letter's reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, SqsFifoPartialProcessor
from pydantic import ConfigDict

from meshline.clock import utc_now
from meshline.dal.dead_letters import remember_failure
from meshline.domain.types import Model
from meshline.observability import logger
from meshline.settings import dead_letter_settings


class SqsRecord(Model):
    """An SQS record as Lambda delivers it: the fields Powertools' processors and Meshline
    read; each queue-fed handler's model narrows `body`. Powertools' parser has this model
    (`SqsRecordModel`), but importing any of its models imports the parser package and
    its envelopes first: 10 to 12 ms of every cold start of the four functions fed by
    queues (Python 3.13, the built layer, median of 15; docs/PERFORMANCE.md). The
    processors take any pydantic model."""

    model_config = ConfigDict(defer_build=True, extra="ignore")

    messageId: str
    receiptHandle: str
    body: str
    attributes: dict[str, Any] = {}
    messageAttributes: dict[str, Any] = {}
    eventSourceARN: str


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


class StreamBatchProcessor(BatchProcessor):
    """Powertools' DynamoDB stream processor with a last step for the batch as a whole:
    once every record is handled, `complete` gets the results of those that succeeded (in
    order) and returns which of them (by index) failed after all, with why; they are then
    reported like any failed record. The step exists so that what records send can be sent
    in batches; Powertools' processors only know records one at a time. Should `complete`
    raise, the invocation fails and the event source mapping retries (and bisects) the batch.
    """

    def __init__(self, complete: Callable[[list[Any]], dict[int, Exception]]):
        super().__init__(event_type=EventType.DynamoDBStreams)
        self.complete = complete
        self.results: list[tuple[Any, Any]] = []

    def _prepare(self) -> None:
        super()._prepare()
        self.results = []

    def success_handler(self, record: Any, result: Any) -> Any:
        self.results.append((record, result))
        return super().success_handler(record, result)

    def _clean(self) -> None:
        failed = self.complete([result for _, result in self.results]) if self.results else {}
        for index, error in sorted(failed.items()):
            record = self.results[index][0]  # the raw record, as Powertools keeps successes
            self.success_messages.remove(record)
            # Failures are kept as the handler saw them (what reports their sequence number).
            as_handled = self._to_batch_type(record=record, event_type=self.event_type, model=self.model)
            self.failure_handler(as_handled, (type(error), error, error.__traceback__))
        super()._clean()
