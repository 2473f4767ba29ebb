"""What an order waits for next, and until when: the sweep's agenda.

From the current export and the answers to it:
- `await_answer`: a warehouse sent lines has not answered by `sla.acknowledge_by`;
  silence then counts as a failure of that warehouse (re-route within the budget, else
  hold for a person, as the policy's `unacknowledged` path says);
- `await_shipment`: answered, but not shipped; at the earliest unshipped `ship_by` the
  SLA is lapsing and the policy's `sla_breach` ladder is escalated;
- `review`: backordered lines wait for stock; at `valid_until` they are decided again
  (inventory events usually get there first);
- nothing, when everything shipped, was cancelled, a person holds it, or a breach put it
  in the human queue (the sweep stops chasing what a person owns).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import ConfigDict, Field

from meshline.domain.acknowledgements import AckKind, Acknowledgement
from meshline.domain.exports import ExceptionKind, Export, IntendedAction, LineAction, Trigger, TriggerKind
from meshline.domain.types import Model, UtcDatetime

ANSWERED = (AckKind.RECEIVED, AckKind.ACCEPTED, AckKind.PICKED, AckKind.SHIPPED)


class FollowUpKind(StrEnum):
    AWAIT_ANSWER = "await_answer"
    AWAIT_SHIPMENT = "await_shipment"
    REVIEW = "review"


class FollowUp(Model):
    model_config = ConfigDict(frozen=True)

    kind: FollowUpKind
    due_at: UtcDatetime
    warehouses: list[str] = []  # for await_answer: the silent ones, in the export's order


def next_follow_up(export: Export, answers: list[Acknowledgement]) -> FollowUp | None:
    if export.intended_action in (IntendedAction.HOLD_FOR_REVIEW, IntendedAction.NOTHING_TO_SHIP, IntendedAction.CANCEL):
        return None
    if export.exception_path.kind is ExceptionKind.HUMAN_QUEUE and export.trigger.kind is TriggerKind.ESCALATION_BREACHED:
        return None
    answered = {ack.request.warehouse_id for ack in answers if ack.request.kind in ANSWERED}
    shipped = {line_id for ack in answers if ack.request.kind is AckKind.SHIPPED for line_id in ack.line_ids}
    silent = [warehouse for warehouse in export.warehouses() if warehouse not in answered]
    if silent and export.sla.acknowledge_by is not None:
        return FollowUp(kind=FollowUpKind.AWAIT_ANSWER, due_at=export.sla.acknowledge_by, warehouses=silent)
    unshipped = [s for s in export.shipments if any(line_id not in shipped for line_id in s.line_ids)]
    if unshipped:
        return FollowUp(kind=FollowUpKind.AWAIT_SHIPMENT, due_at=min(s.ship_by for s in unshipped))
    if any(line.action is LineAction.BACKORDER for line in export.lines):
        return FollowUp(kind=FollowUpKind.REVIEW, due_at=export.valid_until)
    return None


SILENCE = "silence:"


def silence_trigger_id(export_id: str, warehouse_id: str) -> str:
    """The trigger of the version a sweep decides when `warehouse_id` did not answer `export_id` in time."""
    return f"{SILENCE}{export_id}:{warehouse_id}"


def silent_warehouse(trigger: Trigger) -> str | None:
    """The warehouse whose silence a version answers, if it answers one (reports count them)."""
    if trigger.kind is not TriggerKind.SLA_LAPSING or not trigger.trigger_id.startswith(SILENCE):
        return None
    return trigger.trigger_id.rsplit(":", 1)[1]


def is_due(follow_up: FollowUp | None, now: datetime) -> bool:
    return follow_up is not None and follow_up.due_at <= now


class AttentionKind(StrEnum):
    ESCALATED = "escalated"  # a person holds it, or its escalation ladder is climbing
    BREACHED = "breached"  # nobody resolved the escalation: it sits in the human queue
    AWAITING_ANSWER = "awaiting_answer"
    AWAITING_SHIPMENT = "awaiting_shipment"
    BACKORDERED = "backordered"


class Attention(Model):
    """Why an order is on the operators' exception queue, whose move it is, and by when."""

    model_config = ConfigDict(frozen=True)

    kind: AttentionKind
    deadline: UtcDatetime = Field(description="When it breaches (escalations) or lapses (ship_by, acknowledge_by, promise).")
    owner: str = Field(description="The export's owning party.")
    reason: str = Field(description="The exception path it is on, or what it waits for.")
    # Defaulted: HEAD items written before the field existed still parse (and show none).
    warehouses: list[str] = Field(default_factory=list, description=(
        "Warehouses that must act on the current version, in its order; none while a person holds every line."))


_FOLLOW_UP_ATTENTION = {
    FollowUpKind.AWAIT_ANSWER: AttentionKind.AWAITING_ANSWER,
    FollowUpKind.AWAIT_SHIPMENT: AttentionKind.AWAITING_SHIPMENT,
    FollowUpKind.REVIEW: AttentionKind.BACKORDERED,
}


def attention(export: Export, follow_up: FollowUp | None) -> Attention | None:
    """What the exception queue shows for an order's current export; None when nothing is open."""
    path = export.exception_path
    if path.kind is ExceptionKind.HUMAN_QUEUE and export.trigger.kind is TriggerKind.ESCALATION_BREACHED:
        return Attention(kind=AttentionKind.BREACHED, deadline=export.created_at, owner=export.owning_party,
                         reason=f"escalation breached ({path.on})", warehouses=export.warehouses())
    if export.intended_action is IntendedAction.HOLD_FOR_REVIEW:
        # The ladder's rungs run one after another from the held version: it breaches at the end.
        breach_at = export.created_at + timedelta(minutes=sum(rung.within_minutes for rung in path.ladder))
        return Attention(kind=AttentionKind.ESCALATED, deadline=breach_at, owner=export.owning_party,
                         reason=f"held for review ({path.on})", warehouses=export.warehouses())
    if follow_up is None:
        return None
    waiting = ", ".join(follow_up.warehouses)
    reason = f"{follow_up.kind} from {waiting}" if waiting else str(follow_up.kind)
    return Attention(kind=_FOLLOW_UP_ATTENTION[follow_up.kind], deadline=follow_up.due_at,
                     owner=export.owning_party, reason=reason, warehouses=export.warehouses())
