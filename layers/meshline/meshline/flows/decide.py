"""Flow 2, decide: load what the decision needs, run the routing engine, store the export."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from meshline.dal.exports import Appended, ExportStore, VersionTaken, order_key
from meshline.dal.flags import policy_canary
from meshline.dal.tenants import TenantStore
from meshline.domain import routing
from meshline.domain.routing import booking_changes
from meshline.dal.payloads import PayloadUnreadable, read_payload
from meshline.domain.events import OrderReceived, OrderReceivedByReference
from meshline.domain.orders import Order
from meshline.domain.exports import Export, IntendedAction, TriggerKind
from meshline.domain.inventory import StockSnapshot
from meshline.domain.policy import TenantPolicy
from meshline.domain.replay import DecisionInputs
from meshline.domain.validation import export_schema_errors
from meshline.observability import MetricUnit, follow_order, logger, metrics, stop_following
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


def decide_orders(settings: DecideSettings, messages: Sequence[OrderReceived], now: datetime) -> dict[int, DecideResult]:
    """Decide several different orders as `decide_order` decides each, with one read and one
    transaction for them all instead of one of each per order; returns the results, by
    index into `messages`, of those it decided. The others are for `decide_order`, which
    has an answer for each case this leaves to it: an export that fails its schema, an
    order whose decision raised, more versions than one transaction holds, and every
    version when the transaction is cancelled (nothing is then written).

    The orders are decided one after the other: each sees the dispatches the ones before
    it booked, as it would had it been read after their writes."""
    keys = [(message.order.tenant_id, message.order.order_id) for message in messages]
    if len(set(keys)) != len(keys):
        raise ValueError("an order's later trigger is decided after its earlier one is stored, not beside it")
    exports = ExportStore(settings.exports_table, payloads_bucket=settings.payloads_bucket)
    tenants = TenantStore(settings.tenants_table, canary=policy_canary(settings))
    heads = {exports.table: [key for tenant_id, order_id in keys for key in exports.head_keys(tenant_id, order_id)[exports.table]]}
    try:
        loaded, found = tenants.load_many([(message.order.tenant_id, message.order) for message in messages], heads)
    except Exception:  # noqa: BLE001 - each order is then read and decided on its own, which raises for the one at fault
        logger.exception("orders could not be read together; deciding them one at a time")
        return {}
    head_of = {head["pk"]["S"]: head for head in found[exports.table]}
    decided: dict[int, DecideResult] = {}
    together: list[tuple[int, _Planned, list[dict]]] = []
    booked: dict[str, dict[tuple[str, date], int]] = {}  # per tenant, by this batch so far
    entries = 0
    for index, (message, (policy, stock)) in enumerate(zip(messages, loaded)):
        tenant_id, order_id = keys[index]
        follow_order(tenant_id, order_id)
        try:
            head = head_of.get(order_key(tenant_id, order_id))
            previous = exports.latest_after(tenant_id, order_id, {exports.table: [head] if head else []})
            plan = _plan(exports, message, policy, stock.with_bookings(booked.get(tenant_id, {})), previous, now)
            if isinstance(plan, DecideResult):
                decided[index] = plan
                continue
            if plan.schema_errors:
                continue
            version = exports.version_items(plan.export, plan.inputs)
        except Exception:  # noqa: BLE001 - decide_order decides it again, and raises what it must
            logger.exception("order could not be decided with the others; deciding it on its own")
            continue
        tenant_booked = _added(booked.get(tenant_id, {}), plan.bookings)
        bookings = sum(1 for counts in {**booked, tenant_id: tenant_booked}.values() for delta in counts.values() if delta)
        if entries + len(version) + bookings > TRANSACTION_ITEMS:
            continue
        entries += len(version)
        booked[tenant_id] = tenant_booked
        together.append((index, plan, version))
    stop_following()
    if len(together) < 2:
        return decided  # one version alone is left to decide_order: the same calls, and its answers
    also = [update for tenant_id, counts in booked.items() for update in tenants.booking_updates(tenant_id, counts)]
    refused = exports.append_together([version for _, _, version in together], also)
    if refused is not None:
        logger.info("versions could not be stored together; deciding them one at a time",
                    extra={"orders": len(together), "why": refused})
        return decided
    for index, plan, _ in together:
        follow_order(*keys[index])
        _written(plan)
        decided[index] = DecideResult(Decided.WRITTEN, plan.export.export_id)
    stop_following()
    return decided


TRANSACTION_ITEMS = 100  # DynamoDB's limit on a TransactWriteItems


@dataclass(frozen=True)
class _Planned:
    """A decision made, not yet stored."""

    export: Export
    document: dict[str, Any]
    schema_errors: list[str]
    inputs: DecisionInputs
    bookings: dict[tuple[str, date], int]
    policy_version: int


def _added(counts: Mapping[tuple[str, date], int], more: Mapping[tuple[str, date], int]) -> dict[tuple[str, date], int]:
    return {key: counts.get(key, 0) + more.get(key, 0) for key in {*counts, *more}}


def _decide_after(exports: ExportStore, tenants: TenantStore, message: OrderReceived, policy: TenantPolicy,
                  stock: StockSnapshot, previous: Export | None, now: datetime) -> DecideResult:
    plan = _plan(exports, message, policy, stock, previous, now)
    if isinstance(plan, DecideResult):
        return plan
    export = plan.export
    if plan.schema_errors:
        exports.quarantine(plan.document, plan.schema_errors, now)
        metrics.add_metric(name="ExportsQuarantined", unit=MetricUnit.Count, value=1)
        logger.error("export failed its schema; quarantined, not published",
                     extra={"export_id": export.export_id, "errors": plan.schema_errors})
        return DecideResult(Decided.QUARANTINED, export.export_id)
    bookings = tenants.booking_updates(export.tenant_id, plan.bookings)
    if exports.append(export, plan.inputs, also=bookings) is Appended.TRIGGER_ALREADY_APPLIED:
        return DecideResult(Decided.ALREADY_APPLIED, export.export_id)
    _written(plan)
    return DecideResult(Decided.WRITTEN, export.export_id)


def _plan(exports: ExportStore, message: OrderReceived, policy: TenantPolicy, stock: StockSnapshot,
          previous: Export | None, now: datetime) -> DecideResult | _Planned:
    """The decision for `message`, or the answer when there is none to make."""
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
    return _Planned(
        export=export,
        document=document,
        schema_errors=export_schema_errors(document),
        inputs=DecisionInputs(order=order, stock=stock.restricted_to({line.sku for line in order.lines})),
        bookings=booking_changes(previous, export, policy),
        policy_version=policy.version,
    )


def _written(plan: _Planned) -> None:
    export = plan.export
    metrics.add_metric(name="ExportsCreated", unit=MetricUnit.Count, value=1)
    logger.info(
        "export written",
        extra={
            "export_id": export.export_id,
            "intended_action": str(export.intended_action),
            "owner": export.owning_party,
            "policy_version": plan.policy_version,
            "rule": export.explanation.applied_rule,
        },
    )
