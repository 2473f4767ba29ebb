"""Flow 7, sweep (EventBridge schedule): silence is a failure too.

Every few minutes, the orders whose follow-up is due (the `FollowUps` index of HEAD
items) are looked at again, from the stored chain, not from the index:
- a warehouse that has not answered by `acknowledge_by` is treated as having rejected
  its lines, under the policy's `unacknowledged` path: re-route within the retry budget,
  else hold them for a person (which escalates);
- an answered export not shipped by its `ship_by` escalates along the `sla_breach` ladder;
- backordered lines past `valid_until` are decided again on today's stock; if they still
  cannot ship, the next review is the policy's `review_every_hours` later.
What changed meanwhile (an answer, a newer version) wins: the sweep re-reads and moves on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from meshline.dal import escalations as escalation_runs
from meshline.dal.exports import AckSequenceTaken, Appended, ExportStore, StoredExport, VersionTaken
from meshline.dal.flags import policy_canary
from meshline.dal.tenants import TenantStore
from meshline.domain import routing
from meshline.domain.acknowledgements import Acknowledgement
from meshline.domain.escalations import lapsing_escalation_for
from meshline.domain.exports import LineAction, Trigger, TriggerKind
from meshline.domain.follow_ups import (
    Attention,
    AttentionKind,
    FollowUp,
    FollowUpKind,
    is_due,
    next_follow_up,
    silence_trigger_id,
)
from meshline.domain.rejections import plan_after_silence, plan_after_stock_change
from meshline.domain.replay import DecisionInputs
from meshline.observability import MetricUnit, follow_order, logger, metrics, stop_following
from meshline.domain.types import format_utc
from meshline.settings import SweepSettings


@dataclass
class SweepReport:
    looked_at: int = 0
    rerouted: list[str] = field(default_factory=list)
    escalated: list[str] = field(default_factory=list)
    skipped: int = 0


def sweep(settings: SweepSettings, now: datetime) -> SweepReport:
    exports = ExportStore(settings.exports_table, payloads_bucket=settings.payloads_bucket)
    tenants = TenantStore(settings.tenants_table, canary=policy_canary(settings))
    report = SweepReport()
    for tenant_id, order_id, version in exports.due(now, limit=settings.batch_size):
        report.looked_at += 1
        follow_order(tenant_id, order_id)
        stored = exports.latest_stored(tenant_id, order_id)
        if stored is None or stored.export.version != version or stored.inputs is None:
            report.skipped += 1  # a newer version wrote its own HEAD
            continue
        answers = exports.acknowledgements(tenant_id, order_id, version)
        follow_up = next_follow_up(stored.export, answers)
        try:
            if not is_due(follow_up, now):
                exports.put_head(stored.export, follow_up)
                report.skipped += 1
            elif follow_up.kind is FollowUpKind.AWAIT_ANSWER:
                report.rerouted.append(_silence(exports, tenants, stored, answers, follow_up, now))
            elif follow_up.kind is FollowUpKind.REVIEW:
                reviewed = _review(exports, tenants, stored, answers, now)
                if reviewed:
                    report.rerouted.append(reviewed)
            else:
                escalated = _lapsing(settings, exports, tenants, stored, now)
                if escalated:
                    report.escalated.append(escalated)
        except (VersionTaken, AckSequenceTaken):
            report.skipped += 1  # an answer or a version arrived meanwhile: it stands
    stop_following()
    logger.info("sweep done", extra={"looked_at": report.looked_at, "rerouted": report.rerouted,
                                     "escalated": report.escalated, "skipped": report.skipped})
    return report


def _silence(
    exports: ExportStore, tenants: TenantStore, stored: StoredExport, answers: list[Acknowledgement],
    follow_up: FollowUp, now: datetime,
) -> str:
    current, inputs = stored.export, stored.inputs
    assert inputs is not None
    silent = follow_up.warehouses[0]
    lines = [line.line_id for line in current.lines if line.action is LineAction.SHIP and line.warehouse_id == silent]
    policy, stock = tenants.load(current.tenant_id, inputs.order)
    plan = plan_after_silence(silent, lines, policy, inputs.reroute)
    trigger = Trigger(kind=TriggerKind.SLA_LAPSING, trigger_id=silence_trigger_id(current.export_id, silent),
                      source="schedule:sweep", received_at=now)
    export = routing.decide(inputs.order, policy, stock, trigger, current, now, reroute=plan,
                            acknowledged=answers[-1].link if answers else None)
    decided = DecisionInputs(order=inputs.order, stock=stock.restricted_to({line.sku for line in inputs.order.lines}),
                             reroute=plan)
    bookings = tenants.consequences(current, export, policy)
    if exports.append(export, decided, also=bookings) is Appended.WRITTEN:
        metrics.add_metric(name="SilentWarehouses", unit=MetricUnit.Count, value=1)
        logger.warning("warehouse silent", extra={"export_id": current.export_id, "warehouse_id": silent,
                                                  "new_export_id": export.export_id, "summary": export.explanation.summary})
    return export.export_id


def _review(
    exports: ExportStore, tenants: TenantStore, stored: StoredExport, answers: list[Acknowledgement], now: datetime
) -> str | None:
    current, inputs = stored.export, stored.inputs
    assert inputs is not None
    waiting = [line.line_id for line in current.lines if line.action is LineAction.BACKORDER]
    policy, stock = tenants.load(current.tenant_id, inputs.order)
    plan = plan_after_stock_change(None, waiting, policy, inputs.reroute, review=True)
    trigger = Trigger(kind=TriggerKind.SLA_LAPSING, trigger_id=f"review:{current.export_id}:{format_utc(now)}",
                      source="schedule:sweep", received_at=now)
    export = routing.decide(inputs.order, policy, stock, trigger, current, now, reroute=plan,
                            acknowledged=answers[-1].link if answers else None)
    if (export.lines, export.shipments) == (current.lines, current.shipments):
        next_review = now + timedelta(hours=policy.backorder.review_every_hours)
        exports.put_head(current, FollowUp(kind=FollowUpKind.REVIEW, due_at=next_review))
        return None
    decided = DecisionInputs(order=inputs.order, stock=stock.restricted_to({line.sku for line in inputs.order.lines}),
                             reroute=plan)
    exports.append(export, decided, also=tenants.consequences(current, export, policy))
    return export.export_id


def _lapsing(settings: SweepSettings, exports: ExportStore, tenants: TenantStore, stored: StoredExport,
             now: datetime) -> str | None:
    current = stored.export
    policy = tenants.policy_version(current.tenant_id, current.decision_version.policy_version)
    escalation = lapsing_escalation_for(current, policy, settings.escalation_seconds_per_minute)
    if escalation is not None:
        escalation_runs.start(settings.escalation_state_machine_arn, escalation)
        metrics.add_metric(name="SlaLapsing", unit=MetricUnit.Count, value=1)
        logger.warning("ship-by lapsing: escalated", extra={"export_id": current.export_id})
    needs = None
    if escalation is not None:
        breach_at = now + timedelta(seconds=sum(rung.timeout_seconds for rung in escalation.ladder))
        needs = Attention(kind=AttentionKind.ESCALATED, deadline=breach_at, owner=current.owning_party,
                          reason=f"ship_by lapsed ({escalation.reason})", warehouses=current.warehouses())
    exports.put_head(current, None, needs)  # escalated (or nobody to escalate to): the sweep stops chasing it
    return current.export_id if escalation is not None else None
