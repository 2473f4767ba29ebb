"""Escalation: what the state machine is started with, what it hands people, what it ends with.

An export that holds lines for a person (`hold_for_review`) and whose exception path has
an escalation ladder starts an execution of `statemachines/escalation.asl.json`. The
machine announces it, hands each rung's contact a task (a task token on the escalation
tasks queue), waits up to that rung's time, climbs on silence and ends with an outcome:
`resolved` (a person answered, by an override), `breached` (nobody did, all the way up
the ladder) or `withdrawn` (the question went away, e.g. a newer version superseded it).
A breach is recorded as a new export version that says so (`record_breach`), so the
order's history shows it and the chain covers it.
"""

from __future__ import annotations

import hashlib
import math
import re
from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field, NonNegativeInt, PositiveInt

from meshline.domain.exports import (
    AckLink,
    AuditEntry,
    DecisionVersion,
    ExceptionKind,
    Explanation,
    Export,
    IntendedAction,
    MalformedExportId,
    Supersedes,
    Trigger,
    TriggerKind,
    canonical_json,
    export_id_for,
    parse_export_id,
    seal,
)
from meshline.domain.policy import TenantPolicy
from meshline.domain.types import Model, UtcDatetime, format_utc

ESCALATOR = "system:meshline-escalation"
ENGINE = "escalation-2026.11"


class _Frozen(Model):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Rung(_Frozen):
    contact: str
    timeout_seconds: PositiveInt


class EscalationStart(_Frozen):
    """The state machine's input (its contract with statemachines/escalation.asl.json)."""

    escalation_id: str = Field(description="The export id escalated.")
    tenant_id: str
    order_id: str
    export_version: PositiveInt
    reason: str = Field(description="The exception path, e.g. 'rejected:out_of_stock' or 'dispatch'.")
    owner: str
    ladder: list[Rung] = Field(min_length=1)
    rung: NonNegativeInt = 0


class EscalationTask(_Frozen):
    """What the machine puts on the tasks queue for one rung: a person's question, with its token."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    task_token: str = Field(min_length=1)
    escalation_id: str
    tenant_id: str
    order_id: str
    export_version: PositiveInt
    reason: str
    rung: NonNegativeInt
    contact: str
    timeout_seconds: PositiveInt


class EscalationOutcome(_Frozen):
    """How an escalation ended, from the outcomes queue."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    outcome: Literal["resolved", "breached", "withdrawn"]
    escalation_id: str
    tenant_id: str
    order_id: str
    export_version: PositiveInt
    rung: NonNegativeInt | None = None
    resolution: dict[str, Any] | None = None
    failure: dict[str, Any] | None = None


class HandedRung(Model):
    """A rung of an escalation ladder that was handed to someone. Its task token stays
    stored: whoever holds a token can end the escalation, so no API ever shows it.
    (Not the policy's `EscalationStep`, which is a rung as the policy defines it.)"""

    export_version: int
    rung: int
    contact: str
    reason: str = Field(description="The exception path escalated, e.g. 'rejected:out_of_stock' or 'sla_breach'.")
    handed_at: UtcDatetime


def escalation_for(export: Export, seconds_per_minute: float = 60.0) -> EscalationStart | None:
    """The escalation an export starts, if any: only lines held for a person escalate, and
    only along a ladder the policy gave (`auto_escalate`). `seconds_per_minute` is 60 except where a local
    stack compresses time."""
    path = export.exception_path
    # A breach record is in the human queue already: its ladder is spent, it does not climb again.
    if export.intended_action is not IntendedAction.HOLD_FOR_REVIEW or path.kind is not ExceptionKind.AUTO_ESCALATE:
        return None
    return _escalation(export, path.on, [(step.contact, step.within_minutes) for step in path.ladder], seconds_per_minute)


def lapsing_escalation_for(export: Export, policy: TenantPolicy, seconds_per_minute: float = 60.0) -> EscalationStart | None:
    """An answered export not shipped by its ship-by escalates along the policy's
    `sla_breach` ladder (else the default one), if it has one."""
    rule = policy.exception_rule("sla_breach")
    if not rule.ladder:
        return None
    return _escalation(export, "sla_breach", [(step.contact, step.within_minutes) for step in rule.ladder], seconds_per_minute)


def _escalation(export: Export, reason: str, ladder: list[tuple[str, int]], seconds_per_minute: float) -> EscalationStart:
    return EscalationStart(
        escalation_id=export.export_id,
        tenant_id=export.tenant_id,
        order_id=export.order_id,
        export_version=export.version,
        reason=reason,
        owner=export.owning_party,
        ladder=[Rung(contact=contact, timeout_seconds=max(1, math.ceil(minutes * seconds_per_minute)))
                for contact, minutes in ladder],
    )


_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def execution_name(export_id: str) -> str:
    """A Step Functions execution name (80 characters of [A-Za-z0-9_-]) unique per export:
    starting the same escalation twice then finds the first execution."""
    readable = _NAME_UNSAFE.sub("-", export_id)
    if len(readable) <= 80:
        return readable
    return f"{readable[:63]}-{hashlib.sha256(export_id.encode()).hexdigest()[:16]}"


BREACH = "breach:"


def breach_trigger(outcome: EscalationOutcome, received_at: datetime) -> Trigger:
    return Trigger(
        kind=TriggerKind.ESCALATION_BREACHED,
        trigger_id=f"{BREACH}{outcome.escalation_id}",
        source="stepfunctions:escalation",
        received_at=received_at,
        delivery_ids={"rung": str(outcome.rung if outcome.rung is not None else "")},
    )


def breached_version(trigger: Trigger) -> int | None:
    """The version whose escalation a breach version records (escalation ids are export ids)."""
    if trigger.kind is not TriggerKind.ESCALATION_BREACHED or not trigger.trigger_id.startswith(BREACH):
        return None
    try:
        return parse_export_id(trigger.trigger_id.removeprefix(BREACH))[2]
    except MalformedExportId:
        return None


def record_breach(previous: Export, trigger: Trigger, now: datetime, acknowledged: AckLink | None) -> Export:
    """A new version that records the breach: the decision stands (nothing else can be
    decided without a person), the ladder is spent, and the order stays in the human queue."""
    contacts = " → ".join(step.contact for step in previous.exception_path.ladder)
    summary = f"escalation breached: nobody resolved {previous.export_id} up the ladder ({contacts}); it stays with {previous.owning_party}"
    version = previous.version + 1
    inputs = canonical_json({
        "engine": ENGINE,
        "previous": previous.content_hash,
        "acknowledged": acknowledged.model_dump(mode="json") if acknowledged else None,
        "trigger": trigger.model_dump(mode="json"),
        "now": format_utc(now),
    })
    fields = previous.model_dump(exclude={"content_hash"})
    fields.update(
        export_id=export_id_for(previous.tenant_id, previous.order_id, version),
        version=version,
        supersedes=Supersedes(export_id=previous.export_id, content_hash=previous.content_hash),
        acknowledged=acknowledged,
        created_at=now,
        trigger=trigger,
        decision_version=DecisionVersion(
            policy_version=previous.decision_version.policy_version,
            policy_hash=previous.decision_version.policy_hash,
            engine=ENGINE,
            inputs_hash=hashlib.sha256(inputs.encode()).hexdigest(),
        ),
        exception_path=previous.exception_path.model_copy(update={"kind": ExceptionKind.HUMAN_QUEUE}),
        explanation=Explanation(summary=summary),
        audit_trail=[*previous.audit_trail, AuditEntry(ts=now, actor=ESCALATOR, change=f"v{version} (escalation_breached): {summary}")],
    )
    return seal(fields)
