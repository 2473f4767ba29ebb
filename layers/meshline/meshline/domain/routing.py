"""The routing decision: a pure, deterministic function of (order, tenant, stock, trigger, previous, clock).

Walking-skeleton rule: ship every line from the highest-priority warehouse that holds all
of them; if none does, backorder. A cancelled order is not routed at all. The explanation
records, for every candidate warehouse, the rule that kept or eliminated it.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from meshline.domain.exports import (
    AuditEntry,
    CandidateExplanation,
    DecisionVersion,
    ExceptionKind,
    ExceptionPath,
    Export,
    ExportLine,
    IntendedAction,
    LineAction,
    Sla,
    Supersedes,
    Trigger,
    canonical_json,
    export_id_for,
    seal,
    sha256_hex,
)
from meshline.domain.orders import Order, OrderStatus
from meshline.domain.sla import ship_by_for
from meshline.domain.tenants import StockSnapshot, TenantProfile, Warehouse

DECIDER = "system:meshline-decide"
REVIEW_AGAIN_AFTER = timedelta(hours=24)
ROUTED_RETRY_BUDGET = 2


def decide(
    order: Order,
    tenant: TenantProfile,
    stock: StockSnapshot,
    trigger: Trigger,
    previous: Export | None,
    now: datetime,
) -> Export:
    inputs_hash = _inputs_hash(order, tenant, stock, trigger, previous, now)
    merchant = f"merchant:{tenant.tenant_id}"

    if order.status is OrderStatus.CANCELLED:
        fields = _cancelled(order, tenant, now)
        change = f"cancel: the order arrived cancelled ({order.cancel_reason or 'no reason given'}); nothing ships"
    else:
        explanation, chosen = _rank_warehouses(order, tenant, stock)
        if chosen is not None:
            fields = _routed(order, tenant, chosen, explanation, merchant)
            change = f"route {len(order.shippable_lines())} line(s) to {chosen.warehouse_id}: highest-priority warehouse holding every line"
        else:
            fields = _backordered(order, tenant, explanation, merchant, now)
            change = "backorder: no warehouse holds every line"

    version = previous.version + 1 if previous else 1
    trail = list(previous.audit_trail) if previous else []
    trail.append(AuditEntry(ts=now, actor=DECIDER, change=f"v{version} ({trigger.kind}): {change}"))
    return seal(
        {
            "export_id": export_id_for(order.tenant_id, order.order_id, version),
            "tenant_id": order.tenant_id,
            "order_id": order.order_id,
            "version": version,
            "supersedes": Supersedes(export_id=previous.export_id, content_hash=previous.content_hash) if previous else None,
            "created_at": now,
            "trigger": trigger,
            "decision_version": DecisionVersion(policy_version=tenant.policy_version, inputs_hash=inputs_hash),
            "audit_trail": trail,
            **fields,
        }
    )


def _required_units(order: Order) -> Counter[str]:
    required: Counter[str] = Counter()
    for line in order.shippable_lines():
        required[line.sku] += line.quantity
    return required


def _rank_warehouses(
    order: Order, tenant: TenantProfile, stock: StockSnapshot
) -> tuple[list[CandidateExplanation], Warehouse | None]:
    required = _required_units(order)
    explanation: list[CandidateExplanation] = []
    chosen: Warehouse | None = None
    for warehouse in sorted(tenant.warehouses, key=lambda w: (w.priority, w.warehouse_id)):
        short = [
            f"{sku} (needs {units}, has {stock.available(sku, warehouse.warehouse_id)})"
            for sku, units in sorted(required.items())
            if stock.available(sku, warehouse.warehouse_id) < units
        ]
        score = {"priority": warehouse.priority}
        if short:
            explanation.append(
                CandidateExplanation(
                    warehouse_id=warehouse.warehouse_id,
                    kept=False,
                    rule="holds_all_lines",
                    detail="short of " + ", ".join(short),
                    score=score,
                )
            )
        elif chosen is None:
            chosen = warehouse
            explanation.append(
                CandidateExplanation(
                    warehouse_id=warehouse.warehouse_id,
                    kept=True,
                    rule="highest_priority",
                    detail="holds every line; chosen",
                    score=score,
                )
            )
        else:
            explanation.append(
                CandidateExplanation(
                    warehouse_id=warehouse.warehouse_id,
                    kept=True,
                    rule="highest_priority",
                    detail=f"holds every line; {chosen.warehouse_id} has a higher priority",
                    score=score,
                )
            )
    return explanation, chosen


def _line_actions(order: Order, action: LineAction, warehouse_id: str | None = None) -> list[ExportLine]:
    return [
        ExportLine(
            line_id=line.line_id,
            sku=line.sku,
            quantity=line.quantity,
            action=action if line.requires_shipping else LineAction.NO_SHIPPING,
            warehouse_id=warehouse_id if line.requires_shipping and action is LineAction.SHIP else None,
        )
        for line in order.lines
    ]


def _routed(
    order: Order, tenant: TenantProfile, chosen: Warehouse, explanation: list[CandidateExplanation], merchant: str
) -> dict[str, Any]:
    sla = ship_by_for(chosen, order.placed_at)
    return {
        "owning_party": chosen.operator,
        "watchers": [tenant.agency_team, merchant],
        "intended_action": IntendedAction.ROUTE,
        "lines": _line_actions(order, LineAction.SHIP, chosen.warehouse_id),
        "sla": sla,
        "valid_until": sla.ship_by,
        "exception_path": ExceptionPath(
            kind=ExceptionKind.AUTO_RETRY, contacts=list(tenant.escalation_contacts), retry_budget=ROUTED_RETRY_BUDGET
        ),
        "explanation": explanation,
    }


def _backordered(
    order: Order, tenant: TenantProfile, explanation: list[CandidateExplanation], merchant: str, now: datetime
) -> dict[str, Any]:
    return {
        "owning_party": merchant,
        "watchers": [tenant.agency_team],
        "intended_action": IntendedAction.BACKORDER,
        "lines": _line_actions(order, LineAction.BACKORDER),
        "sla": Sla(),
        "valid_until": now + REVIEW_AGAIN_AFTER,
        "exception_path": ExceptionPath(
            kind=ExceptionKind.HUMAN_QUEUE, contacts=list(tenant.escalation_contacts), retry_budget=0
        ),
        "explanation": explanation,
    }


def _cancelled(order: Order, tenant: TenantProfile, now: datetime) -> dict[str, Any]:
    return {
        "owning_party": tenant.agency_team,
        "watchers": [f"merchant:{tenant.tenant_id}"],
        "intended_action": IntendedAction.CANCEL,
        "lines": _line_actions(order, LineAction.CANCEL),
        "sla": Sla(),
        "valid_until": now + REVIEW_AGAIN_AFTER,
        "exception_path": ExceptionPath(
            kind=ExceptionKind.HUMAN_QUEUE, contacts=list(tenant.escalation_contacts), retry_budget=0
        ),
        "explanation": [],
    }


def _inputs_hash(
    order: Order, tenant: TenantProfile, stock: StockSnapshot, trigger: Trigger, previous: Export | None, now: datetime
) -> str:
    relevant_stock = {sku: stock.levels.get(sku, {}) for sku in sorted({line.sku for line in order.lines})}
    return sha256_hex(
        canonical_json(
            {
                "order": order.model_dump(mode="json"),
                "tenant": tenant.model_dump(mode="json"),
                "stock": relevant_stock,
                "trigger": trigger.model_dump(mode="json"),
                "previous": previous.content_hash if previous else None,
                "now": now.isoformat(),
            }
        )
    )
