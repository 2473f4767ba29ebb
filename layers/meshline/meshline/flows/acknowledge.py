"""Flow 4, acknowledge: record a warehouse's answer in the order's chain and act on it.

An answer is checked against the order's current export (`acknowledgements.admit`). A
refused answer is kept as a record and reported back; it changes nothing. A rejection
applies the tenant's exception path for its reason code (`rejections`): the new export
version that re-routes (or holds) the rejected lines is written in the same transaction
as the rejection itself, so there is never a recorded rejection without its consequence,
nor the other way round. Every other answer is appended to the chain as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from meshline.dal.exports import AckSequenceTaken, Appended, ExportStore, Recorded, VersionTaken
from meshline.dal.flags import policy_canary
from meshline.dal.scope import SYSTEM, Scope
from meshline.dal.tenants import TenantStore
from meshline.domain import routing
from meshline.domain.access import NotVisible
from meshline.domain.acknowledgements import AckKind, AcknowledgementRequest, Refusal, admit
from meshline.domain.exports import Trigger, TriggerKind, parse_export_id
from meshline.domain.follow_ups import next_follow_up
from meshline.domain.rejections import plan_after_cancel_refusal, plan_after_rejection
from meshline.domain.replay import DecisionInputs
from meshline.domain.types import Model
from meshline.domain.validation import export_schema_errors
from meshline.observability import MetricUnit, logger, metrics
from meshline.settings import AcknowledgeSettings

ATTEMPTS = 4  # re-reads after losing a race with another answer or decision for the same order


class AckOutcome(StrEnum):
    RECORDED = "recorded"
    ALREADY_RECORDED = "already_recorded"
    REFUSED = "refused"


class AckReceipt(Model):
    """What the warehouse is told about its answer."""

    outcome: AckOutcome
    message: str = Field(description="What was recorded, and for a rejection what it led to.")
    sequence: int | None = Field(default=None, description="Its place among the answers to that export version.")
    new_export_id: str | None = Field(default=None, description="The export version a rejection led to.")


@dataclass(frozen=True)
class AckResult:
    outcome: AckOutcome
    message: str
    status: int = 200
    sequence: int | None = None
    new_export_id: str | None = None

    def receipt(self) -> AckReceipt:
        return AckReceipt(outcome=self.outcome, message=self.message, sequence=self.sequence, new_export_id=self.new_export_id)


def acknowledge(settings: AcknowledgeSettings, request: AcknowledgementRequest, now: datetime,
                scope: Scope = SYSTEM) -> AckResult:
    """`scope`: a warehouse caller of the API answers only as itself, about exports naming it."""
    tenant_id, order_id, _ = parse_export_id(request.export_id)
    if scope.caller is not None and scope.caller.warehouse_id != request.warehouse_id:
        raise NotVisible(f"export {request.export_id}")
    exports = ExportStore(settings.exports_table, scope, settings.payloads_bucket)
    for _attempt in range(ATTEMPTS):
        try:
            return _acknowledge_once(settings, exports, tenant_id, order_id, request, now)
        except (VersionTaken, AckSequenceTaken) as race:
            logger.info("lost a race for the order's chain; reading it again", extra={"reason": str(race)})
    raise RuntimeError(f"order {order_id}: the chain kept changing over {ATTEMPTS} attempts; retry later")


def _acknowledge_once(
    settings: AcknowledgeSettings, exports: ExportStore, tenant_id: str, order_id: str,
    request: AcknowledgementRequest, now: datetime,
) -> AckResult:
    stored = exports.latest_stored(tenant_id, order_id)
    if stored is None:
        return _refuse(exports, tenant_id, order_id, request, f"no export {request.export_id}", now, status=404, keep=False)
    current = stored.export
    if not exports.scope.is_system:
        answered = parse_export_id(request.export_id)[2]
        if answered == current.version:
            exports.scope.require_export(stored.document)
        else:
            exports.visible(tenant_id, order_id, answered)
    # Asked before admission, not left to the transaction's marker: a rejection redelivered
    # after it made v2 would otherwise be refused as an answer to a superseded version.
    if exports.was_recorded(tenant_id, order_id, request):
        return AckResult(AckOutcome.ALREADY_RECORDED, f"{request.ack_id} was already recorded")
    answers = exports.acknowledgements(tenant_id, order_id, current.version)
    try:
        ack = admit(request, current, answers, now)
    except Refusal as refusal:
        return _refuse(exports, tenant_id, order_id, request, refusal.reason, now, status=refusal.status)

    if request.kind not in (AckKind.REJECTED, AckKind.CANCEL_REFUSED):
        follow_up = next_follow_up(current, [*answers, ack])
        if exports.record_acknowledgement(ack, current, follow_up) is Recorded.ALREADY_RECORDED:
            return AckResult(AckOutcome.ALREADY_RECORDED, f"{request.ack_id} was already recorded")
        metrics.add_metric(name=f"Acknowledgements_{request.kind}", unit=MetricUnit.Count, value=1)
        return AckResult(AckOutcome.RECORDED, f"{request.kind} recorded against {current.export_id}", sequence=ack.sequence)

    if stored.inputs is None:
        raise RuntimeError(f"{current.export_id} was stored without its decision inputs; it cannot be re-routed")
    tenants = TenantStore(settings.tenants_table, canary=policy_canary(settings))
    order = stored.inputs.order
    policy, stock = tenants.load(tenant_id, order)
    planner = plan_after_cancel_refusal if request.kind is AckKind.CANCEL_REFUSED else plan_after_rejection
    plan = planner(ack, policy, stored.inputs.reroute)
    trigger = Trigger(
        kind=TriggerKind.WAREHOUSE_REJECTED,
        trigger_id=f"ack:{request.warehouse_id}:{request.ack_id}",
        source=f"warehouse:{request.warehouse_id}",
        received_at=now,
    )
    export = routing.decide(order, policy, stock, trigger, current, now, reroute=plan, acknowledged=ack.link)
    errors = export_schema_errors(export.model_dump(mode="json"))
    if errors:  # never expected: the engine builds valid exports; refuse loudly rather than store it
        raise RuntimeError(f"the re-route of {current.export_id} failed its schema: {errors}")
    inputs = DecisionInputs(order=order, stock=stock.restricted_to({line.sku for line in order.lines}), reroute=plan)
    bookings = tenants.consequences(current, export, policy)
    if exports.append(export, inputs, also=bookings, acknowledgement=ack) is Appended.TRIGGER_ALREADY_APPLIED:
        return AckResult(AckOutcome.ALREADY_RECORDED, f"{request.ack_id} was already recorded")
    metrics.add_metric(name="Rejections", unit=MetricUnit.Count, value=1)
    logger.info(
        "rejection recorded",
        extra={"export_id": current.export_id, "new_export_id": export.export_id, "reason": plan.reason_code,
               "fallback": str(plan.fallback), "summary": export.explanation.summary},
    )
    return AckResult(
        AckOutcome.RECORDED, export.explanation.summary, sequence=ack.sequence, new_export_id=export.export_id
    )


def _refuse(
    exports: ExportStore, tenant_id: str, order_id: str, request: AcknowledgementRequest, reason: str, now: datetime,
    status: int, keep: bool = True,
) -> AckResult:
    if keep:  # an answer about an order Meshline does not know has nowhere to be kept
        exports.record_refusal(tenant_id, order_id, request.model_dump(mode="json"), reason, now)
    metrics.add_metric(name="AcknowledgementsRefused", unit=MetricUnit.Count, value=1)
    logger.warning("acknowledgement refused", extra={"ack_id": request.ack_id, "reason": reason})
    return AckResult(AckOutcome.REFUSED, reason, status=status)
