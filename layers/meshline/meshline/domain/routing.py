"""The routing engine: a pure, deterministic function of
(order, stock snapshot, policy version, trigger, previous export, clock) -> export.

Same inputs, same export, byte for byte: nothing here reads a clock, a random source,
the environment or a set's iteration order. Every order line is covered exactly once
(shipped from one warehouse, backordered, cancelled, or not shippable), no warehouse is
given more units of a SKU than it has above its safety stock, and the split policy bounds
the number of warehouses.

How a decision is made:
1. Lines are grouped: a kit (lines sharing a kit_id, when the policy keeps kits together)
   is allocated as one unit; every other line is its own group.
2. Routing rules are tried in order. Each filters the tenant's warehouses, ranks the
   survivors lexicographically by its sort keys (ties: the policy's listing order), and
   allocates groups under the split policy. The first rule that ships every group wins;
   if none does, the rule that ships the most units is kept (ties: the earlier rule).
3. The backorder policy decides what happens to what could not be allocated.
4. Ownership, exception path, SLA (per shipment, from the ship-by engine) and packing
   instructions come from the policy.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from functools import cache, cached_property
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from meshline.domain.exports import (
    AckLink,
    EscalationContact,
    ExceptionKind,
    ExceptionPath,
    Export,
    IntendedAction,
    LineAction,
    OverrideRecord,
    Trigger,
    canonical_form,
    canonical_json,
    export_id_for,
    seal_document,
)
from pydantic import BaseModel, TypeAdapter
from typing_extensions import TypedDict

from meshline.domain.inventory import StockSnapshot
from meshline.domain.orders import Order, OrderLine, OrderStatus
from meshline.domain.policy import (
    BackorderMode,
    CapacityLeft,
    ExcludeWarehouses,
    FallbackAction,
    RequiredTags,
    RoutingRule,
    SafetyStock,
    ServesDestination,
    ServiceLevelTerms,
    SortKey,
    SplitMode,
    TenantPolicy,
    Warehouse,
)
from meshline.domain.rejections import Reroute
from meshline.domain.types import format_utc
from meshline.domain.sla import makes_todays_cutoff, ship_by_and_window_start, ship_day

ENGINE_VERSION = "2026.11-4"
"""Changes whenever a rule of this module changes meaning; replay reports a mismatch in it."""

DECIDER = "system:meshline-decide"
EARTH_RADIUS_KM = 6371.0
UNKNOWN_DISTANCE = 10**9


def decide(
    order: Order,
    policy: TenantPolicy,
    stock: StockSnapshot,
    trigger: Trigger,
    previous: Export | None,
    now: datetime,
    *,
    reroute: Reroute | None = None,
    acknowledged: AckLink | None = None,
    override: OverrideRecord | None = None,
    justification: str | None = None,
) -> Export:
    """`reroute` (after a warehouse's rejection) decides only the rejected lines again and
    keeps every other line as `previous` had it; `override` applies a person's signed line
    changes to `previous` instead of deciding; `acknowledged` names the answers recorded
    against `previous`, which the new version seals into the order's hash chain."""
    if order.tenant_id != policy.tenant_id:
        raise ValueError(f"order of tenant '{order.tenant_id}' cannot be decided under a policy of '{policy.tenant_id}'")
    if now.tzinfo is None:  # format_utc would take a naive clock for local time; validation used to refuse it
        raise ValueError(f"timestamp has no time zone: '{now.isoformat()}' (expected ISO-8601 UTC)")
    # A person's override and a warehouse's failure act on the previous version as it is,
    # whatever the order's status (a refused cancellation re-routes nothing but is held).
    if override is not None:
        if previous is None or justification is None:
            raise ValueError("an override changes an existing export and needs a justification")
        outcome = _overridden(order, policy, previous, override, justification, now)
    elif reroute is not None:
        if previous is None:
            raise ValueError("a re-route changes an existing export: previous is required")
        outcome = _reroute(order, policy, stock, previous, reroute, now)
    elif order.status is OrderStatus.CANCELLED:
        outcome = _cancelled(order, f"the order was cancelled ({order.cancel_reason or 'no reason given'})", previous)
    elif not order.shippable_lines():
        outcome = _Outcome(
            action=IntendedAction.NOTHING_TO_SHIP,
            lines=_lines_with(order, {}, LineAction.NO_SHIPPING),
            explanation=_summary_only("no line requires shipping"),
        )
    else:
        outcome = _route(order, policy, stock, now)

    version = previous.version + 1 if previous else 1
    trail = [_json(entry) for entry in previous.audit_trail] if previous else []
    trail.append({"actor": DECIDER, "change": f"v{version} ({trigger.kind}): {outcome.explanation['summary']}", "ts": format_utc(now)})
    owner = _owner(policy, outcome)
    # The export is written directly in its canonical JSON form (see seal_document): keys
    # in sorted order here and in every object below.
    return seal_document(
        {
            "acknowledged": _json(acknowledged) if acknowledged else None,
            "audit_trail": trail,
            "created_at": format_utc(now),
            "decision_version": {
                "engine": ENGINE_VERSION,
                "inputs_hash": inputs_hash(order, policy, stock, trigger, previous, now, reroute, acknowledged, override),
                "policy_hash": policy.policy_hash,
                "policy_version": policy.version,
            },
            "exception_path": _json(outcome.exception_path or _exception_path(policy, outcome.action)),
            "explanation": outcome.explanation,
            "export_id": export_id_for(order.tenant_id, order.order_id, version),
            "instructions": _instructions(order, policy, outcome.lines),
            "intended_action": outcome.action.value,
            "justification": justification if override else None,
            "lines": outcome.lines,
            "order_id": order.order_id,
            "override": _json(override) if override else None,
            "owning_party": owner,
            "schema_version": "1",
            "shipments": [_shipment_json(shipment) for shipment in outcome.shipments],
            "signature": override.signed_by.value if override else None,
            "sla": _sla(order, policy, outcome, now),
            "supersedes": {"content_hash": previous.content_hash, "export_id": previous.export_id} if previous else None,
            "tenant_id": order.tenant_id,
            "trigger": _json(trigger),
            "valid_until": format_utc(_valid_until(order, policy, outcome, now)),
            "version": version,
            "watchers": [party for party in dict.fromkeys([*policy.watchers, policy.agency_team, policy.merchant]) if party != owner],
        }
    )


def inputs_hash(
    order: Order,
    policy: TenantPolicy,
    stock: StockSnapshot,
    trigger: Trigger,
    previous: Export | None,
    now: datetime,
    reroute: Reroute | None = None,
    acknowledged: AckLink | None = None,
    override: OverrideRecord | None = None,
) -> str:
    """sha256 over every input, in a fixed order with sorted keys.

    Serialized with pydantic-core's JSON encoder rather than json.dumps(sort_keys=True):
    this hash is only ever recomputed by Meshline itself (replay), and at 50 SKUs x 50
    warehouses json.dumps alone would take most of a decision's time budget. Every dict in
    it is built in sorted order; the order, whose models hold no dicts, serializes in its
    fields' declared order."""
    # Stock as each SKU's non-zero (warehouse, units) pairs sorted by warehouse: the levels
    # read, in a canonical form (a missing level and 0 are the same to the decision).
    warehouse_ids = policy.warehouse_ids_sorted
    levels = {}
    for sku in sorted({line.sku for line in order.lines}):
        row = stock.levels.get(sku)
        if not row:
            levels[sku] = []
            continue
        pairs = sorted(row.items())  # in C; zeros are rare, so filtering them is the exception
        levels[sku] = [pair for pair in pairs if pair[1]] if 0 in row.values() else pairs
    dispatches = {
        wid: {day.isoformat(): booked for day, booked in sorted(stock.dispatches[wid].items())}
        for wid in warehouse_ids
        if stock.dispatches.get(wid)
    }
    document = {
        "engine": ENGINE_VERSION,
        "policy": policy.policy_hash,
        "now": format_utc(now),
        "previous": previous.content_hash if previous else None,
        "acknowledged": acknowledged.model_dump(mode="json") if acknowledged else None,
        "reroute": canonical_json(reroute.model_dump(mode="json")) if reroute else None,
        "override": canonical_json(override.model_dump(mode="json")) if override else None,
        # A trigger's delivery_ids (a dict) keep whatever key order they were parsed with,
        # so the trigger goes through the sorted-key canonical form.
        "trigger": canonical_json(trigger.model_dump(mode="json")),
        "order": order.model_dump_json(),
        "warehouses": warehouse_ids,
        "stock": {"levels": levels, "dispatches": dispatches},
    }
    return hashlib.sha256(_inputs_encoder().dump_json(document)).hexdigest()


class _StockRead(TypedDict):
    levels: dict[str, list[tuple[str, int]]]
    dispatches: dict[str, dict[str, int]]


class _Inputs(TypedDict):
    """The inputs hash's document, field by field in its order. Encoding it with its types
    known writes the same bytes as to_json's inference, faster: the stock levels alone are
    ~1,000 (warehouse, units) pairs at 50 x 50."""

    engine: str
    policy: str
    now: str
    previous: str | None
    acknowledged: dict[str, Any] | None
    reroute: str | None
    override: str | None
    trigger: str
    order: str
    warehouses: list[str]
    stock: _StockRead


@cache
def _inputs_encoder() -> TypeAdapter[_Inputs]:
    return TypeAdapter(_Inputs)  # built on first use, not at import (cold starts)


# --- the outcome of routing ---------------------------------------------------------------


@dataclass
class _Outcome:
    action: IntendedAction
    lines: list[dict[str, Any]]  # ExportLine in JSON form
    explanation: dict[str, Any]  # Explanation in JSON form
    shipments: list[_Shipment] = field(default_factory=list)
    backordered: bool = False
    cancel_deadline: datetime | None = None
    exception_path: ExceptionPath | None = None  # set when the situation, not the action, picks the path
    promised_by: datetime | None = None  # kept from the previous version for lines it had already backordered


def _cancelled(order: Order, why: str, previous: Export | None = None) -> _Outcome:
    """Every line cancelled. A line a warehouse had been sent keeps that warehouse: the
    new version is the cancellation request it receives (and may refuse)."""
    sent = {line.line_id: line.warehouse_id for line in previous.lines if line.action is LineAction.SHIP} if previous else {}
    lines = [{**line, "warehouse_id": sent.get(line["line_id"])} for line in _lines_with(order, {}, LineAction.CANCEL)]
    asked = sorted({warehouse for warehouse in sent.values() if warehouse})
    summary = f"cancel: {why}; nothing ships" + (f"; cancellation requested from {', '.join(asked)}" if asked else "")
    return _Outcome(action=IntendedAction.CANCEL, lines=lines, explanation=_summary_only(summary))


_SHIP, _NO_SHIPPING = LineAction.SHIP.value, LineAction.NO_SHIPPING.value


def _lines_with(order: Order, warehouse_of: dict[str, str], otherwise: LineAction) -> list[dict[str, Any]]:
    lines = []
    for line in order.lines:
        if not line.requires_shipping:
            action, warehouse_id = _NO_SHIPPING, None
        elif line.line_id in warehouse_of:
            action, warehouse_id = _SHIP, warehouse_of[line.line_id]
        else:
            action, warehouse_id = otherwise.value, None
        lines.append(_line(line, action, warehouse_id))
    return lines


def _line(line: OrderLine, action: str, warehouse_id: str | None) -> dict[str, Any]:
    return {"action": action, "line_id": line.line_id, "quantity": line.quantity, "sku": line.sku, "warehouse_id": warehouse_id}


def _json(model: BaseModel) -> Any:
    """A model's part of the export in canonical form (the small ones; the large ones are
    written in that form directly)."""
    return canonical_form(model.model_dump(mode="json"))


def _shipment_json(shipment: _Shipment) -> dict[str, Any]:
    return {
        "line_ids": shipment.line_ids,
        "pick_window": {"end": format_utc(shipment.pick_window.end), "start": format_utc(shipment.pick_window.start)},
        "ship_by": format_utc(shipment.ship_by),
        "warehouse_id": shipment.warehouse_id,
    }


# --- routing ------------------------------------------------------------------------------

class Group(NamedTuple):
    """Lines allocated as one: a single line, or every line of a kit kept together. (A
    tuple: a decision builds one per line, and a frozen dataclass is slower to build.)"""

    lines: tuple[OrderLine, ...]
    needs: tuple[tuple[str, int], ...]  # units per SKU, summed over the lines
    units: int


@dataclass
class _Trial:
    rule: RoutingRule
    allocation: list[tuple[Warehouse, list[Group]]]
    unallocated: list[Group]
    # What the explanation is built from; only the chosen trial's is ever built, so a rule
    # tried and passed over costs no explanation.
    warehouses: list[Warehouse]
    groups: list[Group]
    eliminated: dict[str, tuple[str, str]]
    survivors: list[tuple[tuple, _Site, dict[str, int]]]  # (sort key, warehouse, score), best first
    held: dict[str, dict[str, int]]  # per SKU, units per warehouse that can ship it

    @cached_property
    def candidates(self) -> list[dict[str, Any]]:
        """Every warehouse's CandidateExplanation, in JSON form."""
        given = {warehouse.warehouse_id: taken for warehouse, taken in self.allocation}
        built: dict[str, dict[str, Any]] = {
            wid: {"allocated_lines": [], "detail": detail, "eliminated_by": filter_kind, "kept": False, "rank": None,
                  "score": {}, "warehouse_id": wid}
            for wid, (filter_kind, detail) in self.eliminated.items()
        }
        # What each group asks of a warehouse, looked up once rather than once per warehouse.
        demands = [
            (self.held.get(group.needs[0][0], _NOTHING_HELD), group.needs[0][1], None, group.lines)
            if len(group.needs) == 1 else (None, 0, group.needs, group.lines)
            for group in self.groups
        ]
        for rank, (_, site, score) in enumerate(self.survivors, start=1):
            wid = site.wid
            allocated = [line.line_id for group in given.get(wid, ()) for line in group.lines]
            built[wid] = {"allocated_lines": allocated, "detail": _candidate_detail(allocated, wid, self.held, demands),
                          "eliminated_by": None, "kept": True, "rank": rank, "score": score, "warehouse_id": wid}
        return [built[warehouse.warehouse_id] for warehouse in self.warehouses]

    @property
    def shipped_units(self) -> int:
        return sum(group.units for _, groups in self.allocation for group in groups)

    @property
    def complete(self) -> bool:
        return not self.unallocated


def _best_trial(
    order: Order,
    policy: TenantPolicy,
    stock: StockSnapshot,
    now: datetime,
    partial: bool,
    excluded: frozenset[str] = frozenset(),
) -> tuple[_Trial, list[dict[str, str]]]:
    """Rules in order until one ships every group; else the one that ships the most units."""
    groups = _groups(order, policy.split.keep_kits_together)
    trials: list[_Trial] = []
    for rule in policy.routing:
        trials.append(_try_rule(rule, order, policy, stock, groups, now, partial, excluded))
        if trials[-1].complete:
            break
    chosen = next((trial for trial in trials if trial.complete), None) or max(
        trials, key=lambda trial: (trial.shipped_units, -trials.index(trial))
    )
    return chosen, [{"outcome": _trial_outcome(trial, partial), "rule": trial.rule.name} for trial in trials]


def _route(order: Order, policy: TenantPolicy, stock: StockSnapshot, now: datetime) -> _Outcome:
    # Partial allocations only matter when something will ship from them.
    partial = policy.backorder.mode is BackorderMode.SHIP_AVAILABLE
    chosen, rules_tried = _best_trial(order, policy, stock, now, partial)

    if chosen.complete:
        return _shipping_outcome(order, policy, chosen, rules_tried, backordered=False)

    mode = policy.backorder.mode
    if mode is BackorderMode.SHIP_AVAILABLE and chosen.allocation:
        return _shipping_outcome(order, policy, chosen, rules_tried, backordered=True)
    if mode is BackorderMode.CANCEL_AFTER:
        deadline = order.placed_at + timedelta(days=policy.backorder.cancel_after_days or 0)
        if now >= deadline:
            outcome = _cancelled(order, f"still short {policy.backorder.cancel_after_days} day(s) after it was placed")
            outcome.explanation = _explanation(outcome.explanation["summary"], chosen, rules_tried)
            return outcome
    return _Outcome(
        action=IntendedAction.BACKORDER,
        lines=_lines_with(order, {}, LineAction.BACKORDER),
        explanation=_explanation(f"backorder every line ({mode}): no routing rule ships every line", chosen, rules_tried),
        backordered=True,
        cancel_deadline=(
            order.placed_at + timedelta(days=policy.backorder.cancel_after_days)
            if mode is BackorderMode.CANCEL_AFTER and policy.backorder.cancel_after_days
            else None
        ),
    )


def _shipping_outcome(
    order: Order, policy: TenantPolicy, trial: _Trial, rules_tried: list[dict[str, str]], backordered: bool
) -> _Outcome:
    warehouse_of = _warehouse_of(trial)
    shipments = _shipments(order, policy, trial)
    names = ", ".join(warehouse.warehouse_id for warehouse, _ in trial.allocation)
    summary = f"rule '{trial.rule.name}': ship {len(warehouse_of)} line(s) from {names}"
    if backordered:
        summary += f"; backorder {_short_description(trial.unallocated)} (ship_available)"
    return _Outcome(
        action=IntendedAction.ROUTE if len(shipments) == 1 else IntendedAction.SPLIT,
        lines=_lines_with(order, warehouse_of, LineAction.BACKORDER),
        explanation=_explanation(summary, trial, rules_tried),
        shipments=shipments,
        backordered=backordered,
    )


def _warehouse_of(trial: _Trial) -> dict[str, str]:
    return {line.line_id: warehouse.warehouse_id for warehouse, groups in trial.allocation for group in groups for line in group.lines}


class _PickWindow(NamedTuple):
    start: datetime
    end: datetime


class _Shipment(NamedTuple):
    """A Shipment until the export is sealed: seal_document builds the model, once."""

    warehouse_id: str
    line_ids: list[str]
    ship_by: datetime
    pick_window: _PickWindow


def _shipment(warehouse: Warehouse, line_ids: list[str], since: datetime, terms: ServiceLevelTerms) -> _Shipment:
    ship_by, start = ship_by_and_window_start(warehouse, since, terms)
    return _Shipment(warehouse.warehouse_id, line_ids, ship_by, _PickWindow(start, ship_by))


def _shipments(order: Order, policy: TenantPolicy, trial: _Trial) -> list[_Shipment]:
    terms = policy.terms(order.service_level)
    shipments = []
    for warehouse, groups in trial.allocation:
        shipped = {line.line_id for group in groups for line in group.lines}
        line_ids = [line.line_id for line in order.lines if line.line_id in shipped]
        shipments.append(_shipment(warehouse, line_ids, order.placed_at, terms))
    return shipments


def _reroute(
    order: Order, policy: TenantPolicy, stock: StockSnapshot, previous: Export, reroute: Reroute, now: datetime
) -> _Outcome:
    """Decide the rejected lines again, without the warehouses that rejected them; every
    other line keeps its warehouse, shipment and ship-by from `previous`."""
    redo = set(reroute.line_ids)
    if policy.split.keep_kits_together:  # a kit moves as a whole or not at all
        kits = {line.kit_id for line in order.lines if line.line_id in redo and line.kit_id is not None}
        redo |= {line.line_id for line in order.lines if line.kit_id is not None and line.kit_id in kits}
    kept = {line.line_id: _json(line) for line in previous.lines if line.line_id not in redo}
    shipments = _shipments_without(previous, redo)
    verb = {"silent": "did not answer for", "cancel_refused": "refused to cancel"}.get(reroute.failure, "rejected")
    rejected = f"warehouse {reroute.rejected_by} {verb} line(s) {', '.join(reroute.line_ids)} ({reroute.reason_code})"
    if reroute.failure == "stock_changed":
        rejected = f"stock changed at warehouse {reroute.rejected_by}: line(s) {', '.join(reroute.line_ids)} decided again"
        if reroute.reason_code == "review":
            rejected = f"backordered line(s) {', '.join(reroute.line_ids)} reviewed"

    warehouse_of: dict[str, str] = {}
    explanation = _summary_only("")
    if reroute.may_reroute:
        subject = order.model_copy(update={"lines": [line for line in order.lines if line.line_id in redo]})
        trial, rules_tried = _best_trial(subject, policy, stock, now, partial=True, excluded=reroute.excluded_warehouses)
        warehouse_of = _warehouse_of(trial)
        shipments += _shipments(order, policy, trial)
        explanation = _explanation("", trial, rules_tried)
        attempt = f"re-route {reroute.reroutes_before + 1} of {reroute.retry_budget}, " if reroute.spends_budget else ""
        if trial.allocation:
            names = ", ".join(warehouse.warehouse_id for warehouse, _ in trial.allocation)
            summary = f"{rejected}: {attempt}{len(warehouse_of)} line(s) to {names}"
        elif reroute.spends_budget:
            summary = f"{rejected}: {attempt.rstrip(', ')} found no other warehouse"
        else:
            summary = f"{rejected}: no warehouse can ship them yet"
    elif reroute.fallback.value == "reroute":
        summary = f"{rejected}: retry budget of {reroute.retry_budget} re-route(s) spent"
    else:
        summary = f"{rejected}: policy '{reroute.exception_path}' says {reroute.fallback}"

    unplaced = LineAction.CANCEL if reroute.fallback.value == "cancel" and not reroute.may_reroute else LineAction.HOLD
    if reroute.failure == "stock_changed":
        unplaced = LineAction.BACKORDER  # a shortage, not a failure: the backorder waits for stock
    lines = []
    for line in order.lines:
        if line.line_id in kept:
            lines.append(kept[line.line_id])
        elif line.line_id in warehouse_of:
            lines.append(_line(line, _SHIP, warehouse_of[line.line_id]))
        else:
            lines.append(_line(line, unplaced.value, None))
    held = [line["line_id"] for line in lines if line["action"] == LineAction.HOLD]
    if held:
        summary += f"; line(s) {', '.join(held)} held for a person"
    backordered = any(line["action"] == LineAction.BACKORDER for line in lines)

    exception_path = None
    if held:
        action = IntendedAction.HOLD_FOR_REVIEW
        rule = policy.exception_rule(reroute.exception_path)
        exception_path = ExceptionPath(
            on=rule.on,
            kind=ExceptionKind.AUTO_ESCALATE if rule.ladder else ExceptionKind.HUMAN_QUEUE,
            fallback=str(rule.fallback),
            contacts=[step.contact for step in rule.ladder],
            retry_budget=max(0, rule.retry_budget - reroute.reroutes_before - (1 if reroute.spends_budget else 0)),
            ladder=[EscalationContact(contact=step.contact, within_minutes=step.within_minutes) for step in rule.ladder],
        )
    else:
        action = _action_of(lines, shipments)
        exception_path = _exception_path(policy, action)
        if exception_path.on == reroute.exception_path:  # the budget this re-route drew on shows what is left
            used = reroute.reroutes_before + (1 if reroute.spends_budget else 0)
            exception_path = exception_path.model_copy(update={"retry_budget": max(0, exception_path.retry_budget - used)})
    return _Outcome(
        action=action,
        lines=lines,
        explanation={**explanation, "summary": summary},
        shipments=shipments,
        backordered=backordered,
        exception_path=exception_path,
        promised_by=previous.sla.promised_by if backordered else None,
    )


def _shipments_without(previous: Export, line_ids: set[str]) -> list[_Shipment]:
    """The previous version's shipments, less the given lines (each keeps its ship-by)."""
    return [
        _Shipment(s.warehouse_id, left, s.ship_by, _PickWindow(s.pick_window.start, s.pick_window.end))
        for s in previous.shipments
        if (left := [line_id for line_id in s.line_ids if line_id not in line_ids])
    ]


def _action_of(lines: list[dict[str, Any]], shipments: list[_Shipment]) -> IntendedAction:
    actions = {line["action"] for line in lines}
    if LineAction.HOLD in actions:
        return IntendedAction.HOLD_FOR_REVIEW
    if shipments:
        return IntendedAction.ROUTE if len(shipments) == 1 else IntendedAction.SPLIT
    if LineAction.BACKORDER in actions:
        return IntendedAction.BACKORDER
    if LineAction.CANCEL in actions:
        return IntendedAction.CANCEL
    return IntendedAction.NOTHING_TO_SHIP


def _overridden(
    order: Order, policy: TenantPolicy, previous: Export, override: OverrideRecord, justification: str, now: datetime
) -> _Outcome:
    """A person's line changes applied to `previous`. A line sent to a new warehouse gets a
    new shipment whose ship-by runs from now (the moment that warehouse is asked), not
    from when the order was placed; every other line keeps its shipment."""
    changes = {change.line_id: change for change in override.changes}
    lines = [
        {**_json(line), "action": changes[line.line_id].action.value, "warehouse_id": changes[line.line_id].warehouse_id}
        if line.line_id in changes else _json(line)
        for line in previous.lines
    ]
    shipments = _shipments_without(previous, set(changes))
    terms = policy.terms(order.service_level)
    moved: dict[str, list[str]] = {}
    for line in lines:
        if line["line_id"] in changes and line["action"] == LineAction.SHIP and line["warehouse_id"] is not None:
            moved.setdefault(line["warehouse_id"], []).append(line["line_id"])
    for warehouse_id, line_ids in moved.items():
        shipments.append(_shipment(policy.warehouse(warehouse_id), line_ids, now, terms))
    described = "; ".join(
        f"line {change.line_id} → {change.warehouse_id or change.action}" for change in override.changes
    )
    backordered = any(line["action"] == LineAction.BACKORDER for line in lines)
    approval = f", approved by {override.approved_by.operator}" if override.approved_by else ""
    return _Outcome(
        action=_action_of(lines, shipments),
        lines=lines,
        explanation=_summary_only(
            f"manual override by {override.signed_by.operator}{approval} ({override.reason_code}): {described}. {justification}"
        ),
        shipments=shipments,
        backordered=backordered,
        promised_by=previous.sla.promised_by if backordered else None,
    )


def _explanation(summary: str, trial: _Trial, rules_tried: list[dict[str, str]]) -> dict[str, Any]:
    """An Explanation in JSON form."""
    return {"applied_rule": trial.rule.name, "candidates": trial.candidates, "rules_tried": rules_tried, "summary": summary}


def _summary_only(summary: str) -> dict[str, Any]:
    return {"applied_rule": None, "candidates": [], "rules_tried": [], "summary": summary}


def _trial_outcome(trial: _Trial, partial: bool) -> str:
    if trial.complete:
        return f"ships every line from {len(trial.allocation)} warehouse(s)"
    if partial:
        return f"ships {trial.shipped_units} unit(s); short of {_short_description(trial.unallocated)}"
    return "no allowed combination of warehouses ships every line"


def _short_description(groups: list[Group]) -> str:
    return ", ".join(f"{line.sku}x{line.quantity}" for group in groups for line in group.lines) or "nothing"


def _groups(order: Order, keep_kits_together: bool) -> list[Group]:
    kits: dict[str, list[OrderLine]] = {}
    groups: list[Group | list[OrderLine]] = []
    for line in order.lines:
        if not line.requires_shipping:
            continue
        if keep_kits_together and line.kit_id is not None:
            if line.kit_id not in kits:
                kits[line.kit_id] = []
                groups.append(kits[line.kit_id])  # a placeholder: the kit is complete only after the loop
            kits[line.kit_id].append(line)
        else:
            groups.append(Group((line,), ((line.sku, line.quantity),), line.quantity))
    for index, member in enumerate(groups):
        if isinstance(member, list):
            needs: dict[str, int] = {}
            for line in member:
                needs[line.sku] = needs.get(line.sku, 0) + line.quantity
            groups[index] = Group(tuple(member), tuple(needs.items()), sum(needs.values()))
    return groups  # type: ignore[return-value]


# --- the policy, compiled -----------------------------------------------------------------
#
# What the routing loop reads about warehouses and rules depends only on the policy
# version, which is immutable: it is worked out once per version (keyed by its hash, so
# equal versions parsed twice share it) instead of once per warehouse per decision.

_SERVES, _SAFETY, _CAPACITY, _SETTLED = range(4)  # filter steps; _SETTLED carries its elimination
_BY_PRIORITY, _BY_DISTANCE, _BY_STOCK_LEVEL, _BY_COST, _BY_MAKES_CUTOFF = range(5)
_SORT_CODES = {
    SortKey.PRIORITY: _BY_PRIORITY,
    SortKey.DISTANCE: _BY_DISTANCE,
    SortKey.STOCK_LEVEL: _BY_STOCK_LEVEL,
    SortKey.COST: _BY_COST,
    SortKey.MAKES_CUTOFF: _BY_MAKES_CUTOFF,
}
_NO_TAGS: frozenset[str] = frozenset()
_NOTHING_HELD: dict[str, int] = {}


@dataclass(frozen=True, slots=True)
class _Site:
    """One warehouse, as the routing loop reads it."""

    position: int
    warehouse: Warehouse
    wid: str
    tags: frozenset[str]
    serves: frozenset[str]
    serves_listed: str
    radians: tuple[float, float] | None
    cos_latitude: float
    profile: int
    priority: int
    cost: int


@dataclass(frozen=True, slots=True)
class _RulePlan:
    # Per warehouse (in listing order), the rule's filters still to evaluate per decision,
    # in the rule's order; a filter that can be settled from the policy alone (required
    # tags, excluded warehouses) is dropped when it passes, and ends the steps when it fails.
    steps: tuple[tuple[tuple[int, Any], ...], ...]
    # The rule's sort keys as (code, place in the sort key), in the alphabetical order of
    # their names: the score (a JSON object in the explanation) is then built in canonical
    # key order while the sort key keeps the rule's order.
    scoring: tuple[tuple[int, int], ...]
    reserve_units: int
    reserve_per_sku: dict[str, int]


@dataclass(frozen=True, slots=True)
class _CompiledPolicy:
    sites: tuple[_Site, ...]
    warehouse_ids: frozenset[str]
    tags_of: dict[str, frozenset[str]]
    sku_tags: dict[str, frozenset[str]]
    rules: dict[str, _RulePlan]


_compiled_policies: dict[str, _CompiledPolicy] = {}
COMPILED_POLICIES_KEPT = 64


def _compiled(policy: TenantPolicy) -> _CompiledPolicy:
    found = _compiled_policies.get(policy.policy_hash)
    if found is None:
        if len(_compiled_policies) >= COMPILED_POLICIES_KEPT:
            _compiled_policies.clear()
        found = _compiled_policies[policy.policy_hash] = _compile(policy)
    return found


def _compile(policy: TenantPolicy) -> _CompiledPolicy:
    sites = []
    for position, warehouse in enumerate(policy.warehouses):
        radians = warehouse.location.radians if warehouse.location is not None else None
        sites.append(_Site(
            position=position, warehouse=warehouse, wid=warehouse.warehouse_id, tags=frozenset(warehouse.tags),
            serves=frozenset(warehouse.serves), serves_listed=", ".join(warehouse.serves), radians=radians,
            cos_latitude=math.cos(radians[0]) if radians is not None else 0.0, profile=warehouse.dispatch_profile,
            priority=warehouse.priority, cost=warehouse.cost_per_shipment_cents,
        ))
    return _CompiledPolicy(
        sites=tuple(sites),
        warehouse_ids=frozenset(site.wid for site in sites),
        tags_of={site.wid: site.tags for site in sites},
        sku_tags={sku: frozenset(tags) for sku, tags in policy.sku_requirements.items()},
        rules={rule.name: _plan(rule, sites) for rule in policy.routing},
    )


def _plan(rule: RoutingRule, sites: list[_Site]) -> _RulePlan:
    steps = []
    for site in sites:
        own: list[tuple[int, Any]] = []
        for routing_filter in rule.filters:
            if isinstance(routing_filter, ServesDestination):
                own.append((_SERVES, routing_filter.kind))
            elif isinstance(routing_filter, RequiredTags):
                missing = sorted(set(routing_filter.tags) - site.tags)
                if missing:
                    own.append((_SETTLED, (routing_filter.kind, f"lacks tag {', '.join(missing)}")))
                    break
            elif isinstance(routing_filter, ExcludeWarehouses):
                if site.wid in routing_filter.warehouse_ids:
                    own.append((_SETTLED, (routing_filter.kind, "excluded by the rule")))
                    break
            elif isinstance(routing_filter, SafetyStock):
                own.append((_SAFETY, routing_filter.kind))
            elif isinstance(routing_filter, CapacityLeft) and site.warehouse.daily_capacity is not None:
                own.append((_CAPACITY, routing_filter.kind))
        steps.append(tuple(own))
    safety = next((f for f in rule.filters if isinstance(f, SafetyStock)), None)
    return _RulePlan(
        steps=tuple(steps),
        scoring=tuple((_SORT_CODES[key], place) for place, key in sorted(enumerate(rule.sorts), key=lambda item: item[1].value)),
        reserve_units=safety.units if safety else 0,
        reserve_per_sku=dict(safety.per_sku) if safety else {},
    )


# --- one rule tried -------------------------------------------------------------------------


def _holdings(
    plan: _RulePlan, compiled: _CompiledPolicy, stock: StockSnapshot, skus: list[str]
) -> tuple[dict[str, dict[str, int]], frozenset[str]]:
    """Per SKU, the warehouses that can ship it and how many units: above safety stock,
    and only where the warehouse has the tags the SKU needs; and every tag the order's
    SKUs need. Walks the snapshot's rows, which hold only the warehouses reporting the SKU."""
    held: dict[str, dict[str, int]] = {}
    ids, tags_of, per_sku, units = compiled.warehouse_ids, compiled.tags_of, plan.reserve_per_sku, plan.reserve_units
    all_needed = _NO_TAGS
    for sku in skus:
        needs_tags = compiled.sku_tags.get(sku, _NO_TAGS)
        row = stock.levels.get(sku)
        if needs_tags:
            all_needed |= needs_tags
        if not row:
            continue
        reserve = per_sku.get(sku, units)
        # The common case (no tags) as one comprehension: this is a hot loop.
        held[sku] = (
            {wid: level - reserve for wid, level in row.items() if level > reserve and wid in ids}
            if not needs_tags
            else {wid: level - reserve for wid, level in row.items()
                  if level > reserve and wid in ids and needs_tags <= tags_of[wid]}
        )
    return held, all_needed


def _usable_at(wid: str, held: dict[str, dict[str, int]]) -> dict[str, int]:
    """One warehouse's units per SKU; only the general allocation asks."""
    return {sku: row[wid] for sku, row in held.items() if wid in row}


def _try_rule(
    rule: RoutingRule,
    order: Order,
    policy: TenantPolicy,
    stock: StockSnapshot,
    groups: list[Group],
    now: datetime,
    partial: bool,
    excluded: frozenset[str] = frozenset(),
) -> _Trial:
    compiled = _compiled(policy)
    plan = compiled.rules[rule.name]
    skus = sorted({sku for group in groups for sku, _ in group.needs})
    held, all_needed = _holdings(plan, compiled, stock, skus)
    holders = set().union(*held.values())
    scoring = plan.scoring
    places = len(scoring)

    destination = order.destination
    country = region = None
    if destination is not None:
        country = destination.country_code
        region = f"{destination.country_code}-{destination.region_code}" if destination.region_code else None
    location = destination.location if destination is not None else None
    if location is not None:
        lat2, lon2 = math.radians(location.latitude), math.radians(location.longitude)
        cos_lat2 = math.cos(lat2)
    today: dict[str, date] = {}
    makes_cutoff: dict[int, int] = {}  # per dispatch profile: the same zone, hours and calendar give the same answer

    eliminated: dict[str, tuple[str, str]] = {}
    survivors: list[tuple[tuple, _Site, dict[str, int]]] = []
    for site, steps in zip(compiled.sites, plan.steps):
        wid = site.wid
        if wid in excluded:
            eliminated[wid] = ("rejected", "rejected these lines of the order before")
            continue
        reason = None
        for step, argument in steps:
            if step == _SERVES:
                serves = site.serves
                if serves and (country is None or not (country in serves or (region is not None and region in serves))):
                    where = f"{country}-{destination.region_code or '?'}" if destination else "an order without a destination"
                    reason = (argument, f"does not serve {where} (serves {site.serves_listed})")
                    break
            elif step == _SAFETY:
                if wid not in holders:
                    reason = (argument, "holds none of the order's SKUs above safety stock")
                    break
            elif step == _CAPACITY:
                if wid in stock.dispatches:  # nothing booked at all is the common case
                    reason = _capacity_reason(argument, site.warehouse, order, policy, stock)
                    if reason is not None:
                        break
            else:
                reason = argument
                break
        if reason is None and all_needed and wid not in holders and not all_needed <= site.tags:
            reason = ("sku_requirements", f"lacks {', '.join(sorted(all_needed - site.tags))} needed by the order's SKUs")
        if reason is not None:
            eliminated[wid] = reason
            continue

        score: dict[str, int] = {}
        key = [site.position] * (places + 1)  # the listing position breaks ties, last
        for sort, place in scoring:
            if sort == _BY_PRIORITY:
                key[place] = score["priority"] = site.priority
            elif sort == _BY_DISTANCE:
                if site.radians is not None and location is not None:
                    key[place] = score["distance"] = _distance_km(site.radians, site.cos_latitude, lat2, lon2, cos_lat2)
                else:
                    key[place] = UNKNOWN_DISTANCE  # unknown distance sorts last
            elif sort == _BY_MAKES_CUTOFF:
                made = makes_cutoff.get(site.profile)
                if made is None:
                    zone = site.warehouse.time_zone
                    local_today = today.get(zone)
                    if local_today is None:
                        local_today = today[zone] = now.astimezone(ZoneInfo(zone)).date()
                    made = makes_cutoff[site.profile] = int(makes_todays_cutoff(site.warehouse, now, local_today))
                score["makes_cutoff"] = made
                key[place] = -made  # more is better
            elif sort == _BY_COST:
                key[place] = score["cost"] = site.cost
            else:
                level = score["stock_level"] = sum(row.get(wid, 0) for row in held.values())
                key[place] = -level  # more is better
        survivors.append((tuple(key), site, score))

    survivors.sort(key=lambda survivor: survivor[0])
    ranked = [site for _, site, _ in survivors]
    allocation, unallocated = _allocate(policy, ranked, groups, partial, held)
    return _Trial(rule=rule, allocation=allocation, unallocated=unallocated, warehouses=policy.warehouses,
                  groups=groups, eliminated=eliminated, survivors=survivors, held=held)


def _capacity_reason(
    kind: str, warehouse: Warehouse, order: Order, policy: TenantPolicy, stock: StockSnapshot
) -> tuple[str, str] | None:
    capacity = warehouse.daily_capacity
    assert capacity is not None  # the plan only asks about warehouses with a capacity
    booked_days = stock.dispatches.get(warehouse.warehouse_id)
    if not booked_days or max(booked_days.values()) < capacity:
        return None  # no day is full: whichever day it would ship, there is room
    day = ship_day(warehouse, order.placed_at, policy.terms(order.service_level))
    booked = stock.booked(warehouse.warehouse_id, day)
    if booked >= capacity:
        return kind, f"{booked} of {capacity} dispatches booked on {day.isoformat()}"
    return None


def _distance_km(point: tuple[float, float], cos_lat1: float, lat2: float, lon2: float, cos_lat2: float) -> int:
    """Great-circle distance from a warehouse (latitude, longitude in radians, and the cosine
    of its latitude) to a point, rounded to the kilometre so that scores hash exactly."""
    lat1, lon1 = point
    a = math.sin((lat2 - lat1) / 2) ** 2 + cos_lat1 * cos_lat2 * math.sin((lon2 - lon1) / 2) ** 2
    return round(2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a))))


SHORT_LINES_SHOWN = 3


def _candidate_detail(
    allocated: list[str],
    wid: str,
    held: dict[str, dict[str, int]],
    demands: list[tuple[dict[str, int] | None, int, tuple[tuple[str, int], ...] | None, tuple[OrderLine, ...]]],
) -> str:
    """`demands`: per group, the holdings of its SKU and the units needed (a single SKU), or
    its needs (several), and its lines."""
    if allocated:
        return f"ships line(s) {', '.join(allocated)}"
    short: list[OrderLine] = []
    for row, needed, needs, lines in demands:
        if row is not None:
            fits = row.get(wid, 0) >= needed
        else:
            fits = _fits_at(needs, wid, held)  # type: ignore[arg-type]
        if not fits:
            short.extend(lines)
            if len(short) > SHORT_LINES_SHOWN:
                break
    if not short:
        return "could ship every line; a better-ranked warehouse was chosen"
    shown = ", ".join(
        f"{line.sku}x{line.quantity} (can ship {held.get(line.sku, _NOTHING_HELD).get(wid, 0)})" for line in short[:SHORT_LINES_SHOWN]
    )
    return f"short of {shown}" + (" and more" if len(short) > SHORT_LINES_SHOWN else "")


def _fits_at(needs: tuple[tuple[str, int], ...], wid: str, held: dict[str, dict[str, int]]) -> bool:
    for sku, units in needs:
        if held.get(sku, _NOTHING_HELD).get(wid, 0) < units:
            return False
    return True


def _fits(group: Group, remaining: dict[str, int]) -> bool:
    for sku, units in group.needs:
        if remaining.get(sku, 0) < units:
            return False
    return True


def _ships_all(groups: list[Group], usable: dict[str, int]) -> bool:
    remaining = dict(usable)
    for group in groups:
        for sku, units in group.needs:
            left = remaining.get(sku, 0) - units
            if left < 0:
                return False
            remaining[sku] = left
    return True


def _take(groups: list[Group], usable: dict[str, int]) -> tuple[list[Group], int]:
    """The groups (in order) a warehouse can ship from `usable`, and their units."""
    remaining = dict(usable)
    taken: list[Group] = []
    units = 0
    for group in groups:
        needs = group.needs
        if len(needs) == 1:  # the common case, inlined: this loop is the decision's hot path
            sku, needed = needs[0]
            left = remaining.get(sku, 0) - needed
            if left >= 0:
                remaining[sku] = left
                taken.append(group)
                units += needed
        elif _fits(group, remaining):
            for sku, needed in needs:
                remaining[sku] -= needed
            taken.append(group)
            units += group.units
    return taken, units


def _independent(groups: list[Group]) -> bool:
    """No SKU appears in two groups: whether a warehouse can ship a group then does not
    depend on which other groups it ships, the usual case (one line per SKU)."""
    seen: set[str] = set()
    for group in groups:
        for sku, _ in group.needs:
            if sku in seen:
                return False
            seen.add(sku)
    return True


def _allocate_by_coverage(
    policy: TenantPolicy,
    ranked: list[_Site],
    groups: list[Group],
    partial: bool,
    held: dict[str, dict[str, int]],
) -> tuple[list[tuple[Warehouse, list[Group]]], list[Group]]:
    """The same decisions as the general search, in O(warehouses x groups) for independent
    groups: which groups each warehouse can ship is computed once, and the greedy split
    only subtracts the units of allocated groups from the warehouses that could ship them.
    (The general search re-evaluates every warehouse after each pick.)"""
    if not ranked:
        return [], list(groups)
    rank_of = {site.wid: rank for rank, site in enumerate(ranked)}
    rank_at = rank_of.get
    covers: list[list[int]] = [[] for _ in ranked]
    units = [0] * len(ranked)
    holders: list[list[int]] = [[] for _ in groups]
    total = 0
    for index, group in enumerate(groups):
        group_units = group.units
        total += group_units
        needs = group.needs
        if len(needs) == 1:
            # Walk only the warehouses that hold the SKU (usually a minority), not all of them.
            sku, needed = needs[0]
            ranks = [rank for wid, units_held in held.get(sku, _NOTHING_HELD).items()
                     if units_held >= needed and (rank := rank_at(wid)) is not None]
        else:
            ranks = [rank for rank, site in enumerate(ranked) if _fits_at(needs, site.wid, held)]
        holders[index] = ranks  # in any order: covers[rank] fills in group order all the same
        for rank in ranks:
            covers[rank].append(index)
            units[rank] += group_units
    if total in units:  # one warehouse ships everything: the best-ranked such one wins
        return [(ranked[units.index(total)].warehouse, list(groups))], []

    # max() then index(): the most units, ties to the better-ranked warehouse.
    if policy.split.mode is SplitMode.NEVER:
        best = units.index(max(units))
        if not partial or not units[best]:
            return [], list(groups)
        taken = set(covers[best])
        return [(ranked[best].warehouse, [groups[i] for i in covers[best]])], [g for i, g in enumerate(groups) if i not in taken]

    limit = policy.split.max_shipments if policy.split.mode is SplitMode.UP_TO else len(ranked)
    remaining = set(range(len(groups)))
    allocation: list[tuple[Warehouse, list[Group]]] = []
    while remaining and len(allocation) < limit:
        most = max(units)
        if most <= 0:
            break
        best = units.index(most)
        taken = [index for index in covers[best] if index in remaining]
        for index in taken:
            remaining.discard(index)
            group_units = groups[index].units
            for holder in holders[index]:
                units[holder] -= group_units
        units[best] = -1  # used
        allocation.append((ranked[best].warehouse, [groups[index] for index in taken]))
    if remaining and not partial:
        return [], list(groups)
    return allocation, [group for index, group in enumerate(groups) if index in remaining]


def _allocate(
    policy: TenantPolicy,
    sites: list[_Site],
    groups: list[Group],
    partial: bool,
    held: dict[str, dict[str, int]],
) -> tuple[list[tuple[Warehouse, list[Group]]], list[Group]]:
    """Assign groups to warehouses (best-ranked first) under the split policy; return the
    allocation and what is left.

    Without `partial` (nothing ships unless everything does) the search stops at the first
    warehouse that cannot take a group, which keeps a short order's decision cheap."""
    if _independent(groups):
        return _allocate_by_coverage(policy, sites, groups, partial, held)
    ranked = [(site.warehouse, _usable_at(site.wid, held)) for site in sites]
    for warehouse, usable in ranked:  # one warehouse that ships everything beats any split
        if _ships_all(groups, usable):
            return [(warehouse, list(groups))], []
    if policy.split.mode is SplitMode.NEVER or len(ranked) < 2 and not partial:
        if not partial or not ranked:
            return [], list(groups)
        best = max(((warehouse, *_take(groups, usable)) for warehouse, usable in ranked),
                   key=lambda found: found[2])  # max() keeps the first (best-ranked) of equals
        if not best[2]:
            return [], list(groups)
        taken_ids = {id(group) for group in best[1]}
        return [(best[0], best[1])], [group for group in groups if id(group) not in taken_ids]

    # minimize_shipments / up_to: greedy set cover, the warehouse shipping most units first
    # (ties: the better-ranked one). Greedy is within ln(n) of optimal where an exact search
    # is exponential. It is evaluated lazily: a warehouse's units from the previous round
    # are its bound, and only the warehouse on top of the heap is re-evaluated, so later
    # rounds cost a few evaluations instead of one per warehouse.
    limit = policy.split.max_shipments if policy.split.mode is SplitMode.UP_TO else len(ranked)
    remaining = list(groups)
    allocation: list[tuple[Warehouse, list[Group]]] = []
    heap: list[tuple[int, int, int]] = []  # (-units bound, rank, round evaluated)
    evaluated: dict[int, list[Group]] = {}
    for rank, (_, usable) in enumerate(ranked):
        taken, units = _take(remaining, usable)
        if units:
            heap.append((-units, rank, 0))
            evaluated[rank] = taken
    heapq.heapify(heap)
    round_ = 0
    while remaining and heap and len(allocation) < limit:
        bound, rank, seen_in = heapq.heappop(heap)
        if seen_in != round_:
            taken, units = _take(remaining, ranked[rank][1])
            if units:
                heapq.heappush(heap, (-units, rank, round_))
                evaluated[rank] = taken
            continue
        best_taken = evaluated.pop(rank)
        allocation.append((ranked[rank][0], best_taken))
        taken_ids = {id(group) for group in best_taken}
        remaining = [group for group in remaining if id(group) not in taken_ids]
        round_ += 1
    if remaining and not partial:
        return [], list(groups)
    return allocation, remaining


# --- policy-derived fields ----------------------------------------------------------------


def _owner(policy: TenantPolicy, outcome: _Outcome) -> str:
    reference = getattr(policy.owners, str(outcome.action), None) or "merchant"
    if reference == "warehouse":
        if outcome.shipments:
            return policy.warehouse(outcome.shipments[0].warehouse_id).operator
        return policy.agency_team
    if reference == "agency":
        return policy.agency_team
    if reference == "merchant":
        return policy.merchant
    return reference


EXCEPTION_SITUATION = {
    IntendedAction.ROUTE: "dispatch",
    IntendedAction.SPLIT: "dispatch",
    IntendedAction.BACKORDER: "backorder",
    IntendedAction.CANCEL: "cancel",
    IntendedAction.HOLD_FOR_REVIEW: "hold_for_review",
    IntendedAction.NOTHING_TO_SHIP: "default",
}


def _exception_path(policy: TenantPolicy, action: IntendedAction) -> ExceptionPath:
    situation = EXCEPTION_SITUATION[action]
    rule = policy.exception_rule(situation)
    if rule.fallback is FallbackAction.REROUTE and rule.retry_budget > 0:
        kind = ExceptionKind.AUTO_RETRY
    elif rule.ladder:
        kind = ExceptionKind.AUTO_ESCALATE
    else:
        kind = ExceptionKind.HUMAN_QUEUE
    return ExceptionPath(
        on=rule.on,
        kind=kind,
        fallback=str(rule.fallback),
        contacts=[step.contact for step in rule.ladder],
        retry_budget=rule.retry_budget,
        ladder=[EscalationContact(contact=step.contact, within_minutes=step.within_minutes) for step in rule.ladder],
    )


def _sla(order: Order, policy: TenantPolicy, outcome: _Outcome, now: datetime) -> dict[str, Any]:
    """The Sla, in JSON form."""
    first = min(outcome.shipments, key=lambda shipment: shipment.ship_by, default=None)
    promised_by = outcome.promised_by
    if promised_by is None and outcome.backordered and outcome.action is not IntendedAction.CANCEL:
        promised_by = now + timedelta(days=policy.backorder.promise_days)
    return {
        "acknowledge_by": format_utc(now + timedelta(minutes=policy.acknowledge_within_minutes)) if outcome.shipments else None,
        "pick_window": (
            {"end": format_utc(first.pick_window.end), "start": format_utc(first.pick_window.start)} if first else None
        ),
        "promised_by": format_utc(promised_by) if promised_by is not None else None,
        "service_level": order.service_level.value,
        "ship_by": format_utc(first.ship_by) if first else None,
    }


def _valid_until(order: Order, policy: TenantPolicy, outcome: _Outcome, now: datetime) -> datetime:
    """When this decision must be looked at again if nothing else happens first."""
    review = now + timedelta(hours=policy.backorder.review_every_hours)
    if outcome.shipments:
        earliest = min(shipment.ship_by for shipment in outcome.shipments)
        return min(earliest, review) if outcome.backordered else earliest
    if outcome.cancel_deadline is not None and outcome.cancel_deadline > now:
        return min(review, outcome.cancel_deadline)
    return review


def _instructions(order: Order, policy: TenantPolicy, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Instructions in JSON form."""
    if not policy.instructions:
        return []
    tags, promotions = set(order.tags), set(order.promotions)
    order_wide = [bool(tags.intersection(rule.order_tags) or promotions.intersection(rule.promotions)) for rule in policy.instructions]
    instructions = []
    for line in lines:
        if line["action"] != LineAction.SHIP:
            continue
        for index, rule in enumerate(policy.instructions):
            if order_wide[index] or line["sku"] in rule.skus:
                instructions.append({"kind": rule.kind, "line_id": line["line_id"], "text": rule.text})
    return instructions


def dispatch_bookings(export: Export | None, policy: TenantPolicy) -> dict[tuple[str, date], int]:
    """Dispatches an export books: one per shipment, on its warehouse's local ship date."""
    booked: dict[tuple[str, date], int] = {}
    if export is None:
        return booked
    zones = {warehouse.warehouse_id: warehouse.time_zone for warehouse in policy.warehouses}
    for shipment in export.shipments:
        zone = zones.get(shipment.warehouse_id)
        if zone is None:
            continue  # a warehouse the policy no longer has: nothing left to count against
        key = (shipment.warehouse_id, shipment.ship_by.astimezone(ZoneInfo(zone)).date())
        booked[key] = booked.get(key, 0) + 1
    return booked


def booking_changes(previous: Export | None, export: Export, policy: TenantPolicy) -> dict[tuple[str, date], int]:
    """How a new version moves the dispatch counts: its bookings minus the previous one's."""
    changes = dispatch_bookings(export, policy)
    for key, count in dispatch_bookings(previous, policy).items():
        changes[key] = changes.get(key, 0) - count
    return {key: delta for key, delta in changes.items() if delta}
