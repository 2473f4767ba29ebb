"""Flow 2, decide: load what the decision needs, run the routing engine, store the export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from meshline.dal.exports import Appended, ExportStore, VersionTaken
from meshline.dal.flags import policy_canary
from meshline.dal.tenants import TenantStore
from meshline.domain import routing
from meshline.dal.payloads import PayloadUnreadable, read_payload
from meshline.domain.events import OrderReceived, OrderReceivedByReference
from meshline.domain.orders import Order
from meshline.domain.exports import Export, IntendedAction, TriggerKind
from meshline.domain.inventory import StockSnapshot
from meshline.domain.policy import TenantPolicy
from meshline.domain.replay import DecisionInputs
from meshline.domain.validation import export_schema_errors
from meshline.observability import MetricUnit, logger, metrics
from meshline.settings import DecideSettings


class Decided(StrEnum):
    WRITTEN = "written"
    ALREADY_APPLIED = "already_applied"
    QUARANTINED = "quarantined"


@dataclass(frozen=True)
class DecideResult:
    outcome: Decided
    export_id: str


def received_order(message: OrderReceived | OrderReceivedByReference) -> OrderReceived:
    """The inbox message with its order in hand, read from S3 when it came by reference."""
    if isinstance(message, OrderReceived):
        return message
    order = Order.model_validate_json(read_payload(message.order))
    if (order.tenant_id, order.order_id) != (message.tenant_id, message.order_id):
        raise PayloadUnreadable(f"s3://{message.order.bucket}/{message.order.key} holds order "
                                f"{order.tenant_id}:{order.order_id}, not {message.tenant_id}:{message.order_id}")
    return OrderReceived(trigger=message.trigger, order=order)


def decide_order(settings: DecideSettings, message: OrderReceived, now: datetime) -> DecideResult:
    order = message.order
    exports = ExportStore(settings.exports_table, payloads_bucket=settings.payloads_bucket)
    tenants = TenantStore(settings.tenants_table, canary=policy_canary(settings))
    # One BatchGetItem: the policy, the stock and the order's HEAD; a new order has no HEAD,
    # so no more is read before its write. An existing order's latest version is one GetItem.
    policy, stock, found = tenants.load_with(order.tenant_id, order, exports.head_keys(order.tenant_id, order.order_id))
    previous = exports.latest_after(order.tenant_id, order.order_id, found)
    try:
        return _decide_after(exports, tenants, message, policy, stock, previous, now)
    except VersionTaken:
        if previous is not None:
            raise  # a writer came between the read and the write: the queue's retry reads again
        # No HEAD, yet version 1 is taken: an order stored before every version wrote its
        # HEAD (or one written since the read). Its versions say which is the latest.
        previous = exports.latest(order.tenant_id, order.order_id)
        if previous is None:
            raise
        logger.warning("order has versions but no HEAD; decided from its latest version",
                       extra={"export_id": previous.export_id})
        return _decide_after(exports, tenants, message, policy, stock, previous, now)


def _decide_after(exports: ExportStore, tenants: TenantStore, message: OrderReceived, policy: TenantPolicy,
                  stock: StockSnapshot, previous: Export | None, now: datetime) -> DecideResult:
    order, trigger = message.order, message.trigger
    if previous is not None and previous.trigger.trigger_id == trigger.trigger_id:
        # The common redelivery: answered by the reads we needed anyway, no write attempted.
        return DecideResult(Decided.ALREADY_APPLIED, previous.export_id)
    if previous is not None and previous.intended_action is IntendedAction.CANCEL and trigger.kind is TriggerKind.ORDER_CREATED:
        # Shops deliver out of order: an orders/create arriving after the cancellation changes nothing.
        logger.info("order already cancelled; creation ignored", extra={"export_id": previous.export_id})
        return DecideResult(Decided.ALREADY_APPLIED, previous.export_id)

    answers = exports.acknowledgements(order.tenant_id, order.order_id, previous.version) if previous else []
    export = routing.decide(order, policy, stock, trigger, previous, now, acknowledged=answers[-1].link if answers else None)

    document = export.model_dump(mode="json")
    errors = export_schema_errors(document)
    if errors:
        exports.quarantine(document, errors, now)
        metrics.add_metric(name="ExportsQuarantined", unit=MetricUnit.Count, value=1)
        logger.error("export failed its schema; quarantined, not published", extra={"export_id": export.export_id, "errors": errors})
        return DecideResult(Decided.QUARANTINED, export.export_id)

    inputs = DecisionInputs(order=order, stock=stock.restricted_to({line.sku for line in order.lines}))
    bookings = tenants.consequences(previous, export, policy)
    if exports.append(export, inputs, also=bookings) is Appended.TRIGGER_ALREADY_APPLIED:
        return DecideResult(Decided.ALREADY_APPLIED, export.export_id)
    metrics.add_metric(name="ExportsCreated", unit=MetricUnit.Count, value=1)
    logger.info(
        "export written",
        extra={
            "export_id": export.export_id,
            "intended_action": str(export.intended_action),
            "owner": export.owning_party,
            "policy_version": policy.version,
            "rule": export.explanation.applied_rule,
        },
    )
    return DecideResult(Decided.WRITTEN, export.export_id)
