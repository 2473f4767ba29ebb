"""Flow 8, re-evaluate: an inventory level changed; decide again what it affects.

The level is recorded first. Then, for each order that ships or backorders the SKU
(the tenant's `WATCH#` items, checked against the order's current version):
- lines the warehouse was sent and has not yet accepted, which it can no longer cover,
  are decided again on the new stock (another warehouse, or a backorder);
- backordered lines of the SKU, when units arrived, are decided again and ship if they can.
Lines a warehouse has accepted stay with it: its own count already reserves them. A new
version is written only when the decision changes.
"""

from __future__ import annotations

from datetime import datetime

from meshline.dal.exports import AckSequenceTaken, Appended, ExportStore, VersionTaken
from meshline.dal.flags import policy_canary
from meshline.dal.tenants import TenantStore
from meshline.domain import routing
from meshline.domain.acknowledgements import AckKind
from meshline.domain.exports import LineAction, Trigger, TriggerKind
from meshline.domain.inventory import InventoryLevelChanged
from meshline.domain.rejections import plan_after_stock_change
from meshline.domain.replay import DecisionInputs
from meshline.observability import MetricUnit, follow_order, logger, metrics, stop_following
from meshline.settings import ReevaluateSettings

COMMITTED = (AckKind.ACCEPTED, AckKind.PICKED, AckKind.SHIPPED)


def reevaluate(settings: ReevaluateSettings, change: InventoryLevelChanged, change_id: str, now: datetime) -> list[str]:
    """Returns the export ids of the new versions written."""
    exports = ExportStore(settings.exports_table, payloads_bucket=settings.payloads_bucket)
    tenants = TenantStore(settings.tenants_table, canary=policy_canary(settings))
    tenants.set_stock_level(change.tenant_id, change.sku, change.warehouse_id, change.available)
    written = []
    for order_id in tenants.watchers(change.tenant_id, change.sku):
        follow_order(change.tenant_id, order_id)
        for _attempt in range(3):
            try:
                export_id = _reevaluate_order(exports, tenants, change, change_id, order_id, now)
                if export_id:
                    written.append(export_id)
                logger.info("order checked against the inventory change", extra={"new_export_id": export_id})
                break
            except (VersionTaken, AckSequenceTaken):
                continue  # the order moved meanwhile: read it again
    stop_following()
    logger.info("inventory change applied", extra={"sku": change.sku, "warehouse_id": change.warehouse_id,
                                                   "available": change.available, "new_versions": written})
    return written


def _reevaluate_order(
    exports: ExportStore, tenants: TenantStore, change: InventoryLevelChanged, change_id: str, order_id: str, now: datetime
) -> str | None:
    stored = exports.latest_stored(change.tenant_id, order_id)
    if stored is None or stored.inputs is None:
        return None
    current = stored.export
    answers = exports.acknowledgements(change.tenant_id, order_id, current.version)
    committed = {ack.request.warehouse_id for ack in answers if ack.request.kind in COMMITTED}
    sent_here = [line for line in current.lines if line.action is LineAction.SHIP and line.sku == change.sku
                 and line.warehouse_id == change.warehouse_id and line.warehouse_id not in committed]
    short = sent_here if sum(line.quantity for line in sent_here) > change.available else []
    waiting = [line for line in current.lines if line.action is LineAction.BACKORDER and line.sku == change.sku]
    redo = [line.line_id for line in current.lines if line in short or (change.available > 0 and line in waiting)]
    if not redo:
        return None
    order = stored.inputs.order
    policy, stock = tenants.load(change.tenant_id, order)
    plan = plan_after_stock_change(change.warehouse_id, redo, policy, stored.inputs.reroute)
    trigger = Trigger(kind=TriggerKind.INVENTORY_CHANGED, trigger_id=f"inventory:{change_id}",
                      source=f"inventory:{change.warehouse_id}", received_at=now)
    export = routing.decide(order, policy, stock, trigger, current, now, reroute=plan,
                            acknowledged=answers[-1].link if answers else None)
    if (export.lines, export.shipments, export.intended_action) == (current.lines, current.shipments, current.intended_action):
        return None  # the same assignment (only its review time would move): nothing to tell anyone
    inputs = DecisionInputs(order=order, stock=stock.restricted_to({line.sku for line in order.lines}), reroute=plan)
    if exports.append(export, inputs, also=tenants.consequences(current, export, policy)) is not Appended.WRITTEN:
        return None
    metrics.add_metric(name="ReevaluatedOnInventory", unit=MetricUnit.Count, value=1)
    logger.info("re-decided on an inventory change", extra={"export_id": export.export_id, "summary": export.explanation.summary})
    return export.export_id
