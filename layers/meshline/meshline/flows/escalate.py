"""Flow 5, escalate: start escalations for held exports, keep the tasks people are
handed, and record how each escalation ended.

The state machine (statemachines/escalation.asl.json) does the waiting and climbing with
service integrations only; this flow is what it cannot do itself: decide whether an
export escalates, and seal a breach into the order's chain as a new export version.
"""

from __future__ import annotations

from datetime import datetime

from meshline.dal import escalations as escalation_runs
from meshline.dal.escalations import EscalationStore
from meshline.dal.exports import Appended, ExportStore
from meshline.domain.escalations import (
    EscalationOutcome,
    EscalationTask,
    breach_trigger,
    escalation_for,
    record_breach,
)
from meshline.domain.exports import Export
from meshline.observability import MetricUnit, logger, metrics
from meshline.settings import EscalateSettings


def start_if_escalating(state_machine_arn: str, seconds_per_minute: float, export: Export) -> bool:
    escalation = escalation_for(export, seconds_per_minute)
    if escalation is None:
        return False
    started = escalation_runs.start(state_machine_arn, escalation)
    if started:
        metrics.add_metric(name="Escalations", unit=MetricUnit.Count, value=1)
    logger.info("escalation started" if started else "escalation was already running",
                extra={"export_id": export.export_id, "reason": escalation.reason,
                       "ladder": [rung.contact for rung in escalation.ladder]})
    return True


def keep_task(settings: EscalateSettings, task: EscalationTask, now: datetime) -> None:
    if EscalationStore(settings.exports_table).record_task(task, now):
        logger.info("escalation task handed", extra={"escalation_id": task.escalation_id, "rung": task.rung,
                                                     "contact": task.contact, "timeout_seconds": task.timeout_seconds})


def record_outcome(settings: EscalateSettings, outcome: EscalationOutcome, now: datetime) -> str | None:
    """Returns the export id a breach was recorded as, if it was."""
    logger.info("escalation ended", extra={"escalation_id": outcome.escalation_id, "outcome": outcome.outcome,
                                           "rung": outcome.rung})
    if outcome.outcome != "breached":
        return None  # a resolution is the override version itself; a withdrawal changes nothing
    exports = ExportStore(settings.exports_table, payloads_bucket=settings.payloads_bucket)
    stored = exports.latest_stored(outcome.tenant_id, outcome.order_id)
    if stored is None or stored.export.version != outcome.export_version:
        logger.info("breach of a superseded version: the newer version stands", extra={"escalation_id": outcome.escalation_id})
        return None
    current = stored.export
    answers = exports.acknowledgements(outcome.tenant_id, outcome.order_id, current.version)
    breach = record_breach(current, breach_trigger(outcome, now), now, answers[-1].link if answers else None)
    if exports.append(breach, stored.inputs) is Appended.TRIGGER_ALREADY_APPLIED:
        return None
    metrics.add_metric(name="SlaBreaches", unit=MetricUnit.Count, value=1)
    logger.warning("escalation breached", extra={"export_id": breach.export_id, "summary": breach.explanation.summary})
    return breach.export_id
