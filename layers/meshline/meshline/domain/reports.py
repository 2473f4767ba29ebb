"""Reports on how fulfillment performs, computed from each order's own records.

Pure: the inputs are plain records per order (`OrderRecord`: its export versions, the
warehouses' answers, refused answers, escalation rungs handed out, and the creation
webhooks received for it); no AWS here.

Every report covers one **cohort**: a tenant's orders placed from `from` to `to` (UTC
days, both included). An order counts in the period it was placed in (its UTC day, or
its ISO week), with everything that happened to it since, whenever that was. Both of
the tables' indexes read here list a tenant's orders by placed-at time, so a cohort is
one range query on each; and a period's figures only grow while its orders are still
being worked, they never move to another period. The last rows of each report, period
`all`, are the whole window.

What is measured, and how:
- SLA: one sample per `shipped` answer (a dispatch; a partial shipment is one sample,
  its remainder another). It is on time when its `at` is at or before the `ship_by` of
  the shipment it ships in the version it answered (the earliest, if its lines span
  two). `overdue_unshipped` counts shipments of each order's current version whose
  lines are not all shipped by their warehouse, and whose `ship_by` has passed.
- Acknowledgement times: per export version and warehouse sent lines in it, the time
  from the version's `created_at` to that warehouse's first `received`, `accepted` or
  `rejected` answer to it (`at`); and to each of its `shipped` answers to it.
  Percentiles are nearest-rank: p90 of 10 samples is the 9th smallest.
- Exceptions: rejections and refused cancellations by reason code, silences (a
  warehouse that did not answer by `acknowledge_by`, which the sweep acts on) by
  warehouse, refused answers by warehouse, holds (a version that puts lines on hold that
  the version before did not) and escalations opened and breached, by exception path.
- Overrides: by reason code, signing operator and second approver.
- Reconciliation: see `reconciliation_report`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from pydantic import ConfigDict, Field, NonNegativeInt, model_validator

from meshline.domain.acknowledgements import AckKind, Acknowledgement, RefusedAcknowledgement
from meshline.domain.escalations import HandedRung, breached_version, escalation_for
from meshline.domain.exports import Export, ExportLine, LineAction, Shipment
from meshline.domain.follow_ups import silent_warehouse
from meshline.domain.types import Model, TenantId, UtcDatetime, format_utc

ALL = "all"
"""The period label of the rows that cover the whole window."""

PERCENTILES = (50, 90, 99)
FIRST_ANSWERS = (AckKind.RECEIVED, AckKind.ACCEPTED, AckKind.REJECTED)
EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)
"""The days a window may name: enough for any order, and no arithmetic past date.max."""
IN_FLIGHT = timedelta(minutes=15)
"""A receipt younger than this may still be on its way to its export: not a discrepancy yet."""


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"


class ReportWindow(Model):
    """Which orders a report covers (placed from `from_date` to `to_date`, UTC), and how it groups them."""

    model_config = ConfigDict(frozen=True)

    tenant_id: TenantId
    from_date: date
    to_date: date
    period: Period = Period.DAY

    @model_validator(mode="after")
    def _ordered(self) -> ReportWindow:
        if not EARLIEST <= self.from_date <= LATEST or not EARLIEST <= self.to_date <= LATEST:
            raise ValueError(f"from and to must be days from {EARLIEST} to {LATEST}")
        if self.from_date > self.to_date:
            raise ValueError(f"from ({self.from_date}) is after to ({self.to_date})")
        return self

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.from_date, time(), tzinfo=UTC)

    @property
    def ends_before(self) -> datetime:
        return datetime.combine(self.to_date + timedelta(days=1), time(), tzinfo=UTC)

    def period_of(self, moment: datetime) -> str:
        day = moment.astimezone(UTC).date()
        if self.period is Period.DAY:
            return day.isoformat()
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"


@dataclass(frozen=True)
class OrderRecord:
    """Everything stored about one order that the reports read."""

    order_id: str
    placed_at: datetime
    versions: tuple[Export, ...] = ()  # oldest first
    answers: tuple[Acknowledgement, ...] = ()  # chain order
    refusals: tuple[RefusedAcknowledgement, ...] = ()
    escalations: tuple[HandedRung, ...] = ()
    receipts: tuple[datetime, ...] = ()  # when each creation webhook for it was received

    @property
    def latest(self) -> Export | None:
        return self.versions[-1] if self.versions else None

    def version(self, number: int) -> Export | None:
        return next((v for v in self.versions if v.version == number), None)

    def answers_to(self, version: int, warehouse_id: str) -> list[Acknowledgement]:
        return [a for a in self.answers if a.export_version == version and a.request.warehouse_id == warehouse_id]


# ---------------------------------------------------------------- report shapes


class ReportHeader(Model):
    tenant_id: str
    from_date: date = Field(description="First UTC day of the window (orders placed from then).")
    to_date: date = Field(description="Last UTC day of the window, included.")
    period: Period
    orders: NonNegativeInt = Field(description="Orders placed in the window: the cohort the report covers.")
    generated_at: UtcDatetime = Field(description="Deadlines (ship_by, acknowledge_by) are compared with this time.")

    @classmethod
    def of(cls, window: ReportWindow, orders: int, now: datetime) -> dict:
        return {"tenant_id": window.tenant_id, "from_date": window.from_date, "to_date": window.to_date,
                "period": window.period, "orders": orders, "generated_at": now}


PeriodField = Field(description="The UTC day (2026-11-02) or ISO week (2026-W45) orders were placed in; 'all': the window.")


class SlaRow(Model):
    period: str = PeriodField
    warehouse_id: str
    shipped: NonNegativeInt = Field(description="Shipped answers: one per dispatch, so a partial shipment counts once.")
    on_time: NonNegativeInt = Field(description="Shipped at or before the ship_by of the version answered.")
    late: NonNegativeInt
    on_time_rate: float | None = Field(description="on_time / shipped, to 4 places; null when nothing shipped.")
    overdue_unshipped: NonNegativeInt = Field(
        description="Shipments of orders' current versions not fully shipped, past their ship_by at generated_at.")


class SlaReport(ReportHeader):
    rows: list[SlaRow]


class Durations(Model):
    count: NonNegativeInt
    p50_seconds: float | None = None
    p90_seconds: float | None = None
    p99_seconds: float | None = None


class AckTimeRow(Model):
    period: str = PeriodField
    warehouse_id: str
    first_answer: Durations = Field(
        description="From an export version's created_at to the warehouse's first received, accepted or rejected "
                    "answer to it (its `at`).")
    shipped: Durations = Field(description="From an export version's created_at to each shipped answer to it.")


class AckTimesReport(ReportHeader):
    rows: list[AckTimeRow]


class ExceptionCategory(StrEnum):
    REJECTION = "rejection"  # key: reason code
    CANCEL_REFUSED = "cancel_refused"  # key: reason code
    SILENCE = "silence"  # key: warehouse that did not answer by acknowledge_by
    REFUSED_ANSWER = "refused_answer"  # key: warehouse whose answer was refused
    HOLD = "hold"  # key: exception path
    ESCALATION_OPENED = "escalation_opened"  # key: exception path
    ESCALATION_BREACHED = "escalation_breached"  # key: exception path


class ExceptionRow(Model):
    period: str = PeriodField
    category: ExceptionCategory
    key: str = Field(description="The reason code (rejection, cancel_refused), warehouse (silence, refused_answer) "
                                 "or exception path (hold, escalation_opened, escalation_breached).")
    count: NonNegativeInt


class ExceptionsReport(ReportHeader):
    rows: list[ExceptionRow]


class OverrideRow(Model):
    period: str = PeriodField
    reason_code: str
    operator: str = Field(description="Who signed the override.")
    approver: str | None = Field(description="The second operator who signed it, where the policy asks for one.")
    count: NonNegativeInt


class OverrideListed(Model):
    order_id: str
    export_id: str = Field(description="The version the override created.")
    created_at: UtcDatetime
    reason_code: str
    operator: str
    approver: str | None
    justification: str | None


class OverridesReport(ReportHeader):
    rows: list[OverrideRow]
    overrides: list[OverrideListed] = Field(description="Every override, in order of time.")


class DiscrepancyKind(StrEnum):
    RECEIVED_NOT_EXPORTED = "received_not_exported"
    UNACKNOWLEDGED = "unacknowledged_past_acknowledge_by"
    UNSHIPPED = "unshipped_past_ship_by"
    SHIPPED_NOT_AS_EXPORTED = "shipped_not_as_exported"


class Discrepancy(Model):
    order_id: str
    period: str = PeriodField
    kind: DiscrepancyKind
    warehouse_id: str | None = None
    detail: str
    since: UtcDatetime | None = Field(default=None, description="The deadline that passed, or when it was received.")


class ReconciliationRow(Model):
    period: str = PeriodField
    received: NonNegativeInt = Field(description="Orders with a creation webhook received (a receipt kept).")
    exported: NonNegativeInt = Field(description="Orders with at least one export version stored.")
    acknowledged: NonNegativeInt = Field(description="Orders some warehouse answered.")
    shipped: NonNegativeInt = Field(description="Orders whose current version's lines to ship were all shipped by "
                                                "the warehouses it names.")
    discrepancies: NonNegativeInt


class ReconciliationReport(ReportHeader):
    receipts_cover_window: bool = Field(
        description="False when part of the window is older than receipts are kept (WebhookDedupDays): "
                    "`received` then undercounts.")
    rows: list[ReconciliationRow]
    discrepancies: list[Discrepancy] = Field(description="Every discrepancy, by order.")


# ---------------------------------------------------------------- arithmetic


def percentile(values: Sequence[float], p: int) -> float | None:
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-p * len(ordered) // 100))  # ceil(p * n / 100) in integers
    return ordered[rank - 1]


def durations(samples: Sequence[float]) -> Durations:
    found = {f"p{p}_seconds": percentile(samples, p) for p in PERCENTILES}
    return Durations(count=len(samples), **{key: round(value, 3) if value is not None else None
                                            for key, value in found.items()})


def _seconds(since: datetime, until: datetime) -> float:
    return (until - since).total_seconds()


Facts = dict[tuple[str, ...], list]
"""What was seen, grouped by (period, *what it is about): lists, so the window's total is their concatenation."""


def _with_totals(grouped: Facts) -> Facts:
    """The groups, periods in order, then the same groups over the whole window (period 'all')."""
    totals: Facts = defaultdict(list)
    for (_period, *rest), facts in grouped.items():
        totals[(ALL, *rest)].extend(facts)
    return {**dict(sorted(grouped.items())), **dict(sorted(totals.items()))}


def _shipments_of(export: Export, warehouse_id: str, lines: Iterable[str | ExportLine]) -> list[Shipment]:
    wanted = {line if isinstance(line, str) else line.line_id for line in lines}
    return [s for s in export.shipments if s.warehouse_id == warehouse_id and wanted & set(s.line_ids)]


def shipped_units(order: OrderRecord) -> Counter[tuple[str, str]]:
    """(line, warehouse) -> units shipped, over every version's shipped answers; an answer
    that names no quantity ships the line's whole quantity in the version it answered."""
    units: Counter[tuple[str, str]] = Counter()
    for answer in order.answers:
        if answer.request.kind is not AckKind.SHIPPED:
            continue
        answered = order.version(answer.export_version)
        quantities = {line.line_id: line.quantity for line in answered.lines} if answered else {}
        named = {line.line_id: line.quantity for line in answer.request.lines if line.quantity}
        for line_id in answer.line_ids:
            units[(line_id, answer.request.warehouse_id)] += named.get(line_id) or quantities.get(line_id, 0)
    return units


def _unshipped(order: OrderRecord, units: Counter[tuple[str, str]]) -> dict[str, list[ExportLine]]:
    """Warehouse -> lines the current version has it ship that it has not fully shipped yet."""
    latest = order.latest
    pending: dict[str, list[ExportLine]] = defaultdict(list)
    for line in latest.lines if latest else ():
        if line.action is LineAction.SHIP and units[(line.line_id, line.warehouse_id)] < line.quantity:
            pending[line.warehouse_id].append(line)
    return pending


# ---------------------------------------------------------------- the reports


def sla_report(window: ReportWindow, orders: Sequence[OrderRecord], now: datetime) -> SlaReport:
    seen: Facts = defaultdict(list)  # ("shipped", on time?) per shipped answer, ("overdue", True) per shipment
    for order in orders:
        period = window.period_of(order.placed_at)
        for answer in order.answers:
            answered = order.version(answer.export_version)
            if answer.request.kind is not AckKind.SHIPPED or answered is None:
                continue
            warehouse = answer.request.warehouse_id
            deadlines = [s.ship_by for s in _shipments_of(answered, warehouse, answer.line_ids)]
            seen[(period, warehouse)].append(("shipped", bool(deadlines) and answer.request.at <= min(deadlines)))
        for warehouse, lines in _unshipped(order, shipped_units(order)).items():
            seen[(period, warehouse)] += [("overdue", True) for s in _shipments_of(order.latest, warehouse, lines)
                                          if s.ship_by < now]
    rows = []
    for (period, warehouse), facts in _with_totals(seen).items():
        outcomes = [on_time for kind, on_time in facts if kind == "shipped"]
        on_time = sum(outcomes)
        rows.append(SlaRow(period=period, warehouse_id=warehouse, shipped=len(outcomes), on_time=on_time,
                           late=len(outcomes) - on_time,
                           on_time_rate=round(on_time / len(outcomes), 4) if outcomes else None,
                           overdue_unshipped=len(facts) - len(outcomes)))
    return SlaReport(**ReportHeader.of(window, len(orders), now), rows=rows)


def acknowledgement_times_report(window: ReportWindow, orders: Sequence[OrderRecord], now: datetime) -> AckTimesReport:
    seen: Facts = defaultdict(list)  # ("first", seconds) per version and warehouse answered, ("shipped", seconds)
    for order in orders:
        period = window.period_of(order.placed_at)
        for version in order.versions:
            sent = dict.fromkeys(line.warehouse_id for line in version.lines if line.action is LineAction.SHIP)
            for warehouse in sent:
                answers = order.answers_to(version.version, warehouse)
                first = next((a for a in answers if a.request.kind in FIRST_ANSWERS), None)
                seen[(period, warehouse)] += [("first", _seconds(version.created_at, first.request.at))] if first else []
                seen[(period, warehouse)] += [("shipped", _seconds(version.created_at, a.request.at))
                                              for a in answers if a.request.kind is AckKind.SHIPPED]
    rows = [AckTimeRow(period=period, warehouse_id=warehouse,
                       first_answer=durations([value for kind, value in facts if kind == "first"]),
                       shipped=durations([value for kind, value in facts if kind == "shipped"]))
            for (period, warehouse), facts in _with_totals(seen).items()]
    return AckTimesReport(**ReportHeader.of(window, len(orders), now), rows=rows)


def _escalations(order: OrderRecord) -> tuple[dict[int, str], dict[int, str]]:
    """(opened, breached): escalated version -> the exception path it escalated. Opened:
    every version publication escalates (held for a person along a ladder), and every
    version a rung was handed for (also the sweep's `sla_breach` ladders, which write no
    version). Breached: the versions a breach version records."""
    opened = {version.version: version.exception_path.on for version in order.versions if escalation_for(version)}
    opened.update({rung.export_version: rung.reason for rung in order.escalations})
    breached = {}
    for version in order.versions:
        escalated = breached_version(version.trigger)
        if escalated is not None:
            breached[escalated] = opened.get(escalated, version.exception_path.on)
    return opened, breached


def _exceptions_of(order: OrderRecord) -> Iterable[tuple[ExceptionCategory, str]]:
    for answer in order.answers:
        if answer.request.kind is AckKind.REJECTED:
            yield ExceptionCategory.REJECTION, answer.request.reason_code or "other"
        elif answer.request.kind is AckKind.CANCEL_REFUSED:
            yield ExceptionCategory.CANCEL_REFUSED, answer.request.reason_code or "other"
    for refusal in order.refusals:
        yield ExceptionCategory.REFUSED_ANSWER, str(refusal.request.get("warehouse_id") or "unknown")
    held_before: set[str] = set()
    for version in order.versions:
        silent = silent_warehouse(version.trigger)
        if silent:
            yield ExceptionCategory.SILENCE, silent
        held = {line.line_id for line in version.lines if line.action is LineAction.HOLD}
        if held - held_before:
            yield ExceptionCategory.HOLD, version.exception_path.on
        held_before = held
    opened, breached = _escalations(order)
    yield from ((ExceptionCategory.ESCALATION_OPENED, path) for path in opened.values())
    yield from ((ExceptionCategory.ESCALATION_BREACHED, path) for path in breached.values())


def exceptions_report(window: ReportWindow, orders: Sequence[OrderRecord], now: datetime) -> ExceptionsReport:
    seen: Facts = defaultdict(list)
    for order in orders:
        period = window.period_of(order.placed_at)
        for category, key in _exceptions_of(order):
            seen[(period, category, key)].append(order.order_id)
    rows = [ExceptionRow(period=period, category=category, key=key, count=len(facts))
            for (period, category, key), facts in _with_totals(seen).items()]
    return ExceptionsReport(**ReportHeader.of(window, len(orders), now), rows=rows)


def overrides_report(window: ReportWindow, orders: Sequence[OrderRecord], now: datetime) -> OverridesReport:
    listed: list[tuple[str, OverrideListed]] = []
    for order in orders:
        for version in order.versions:
            record = version.override
            if record is None:
                continue
            approver = record.approved_by.operator if record.approved_by else None
            listed.append((window.period_of(order.placed_at), OverrideListed(
                order_id=order.order_id, export_id=version.export_id, created_at=version.created_at,
                reason_code=record.reason_code, operator=record.signed_by.operator, approver=approver,
                justification=version.justification)))
    seen: Facts = defaultdict(list)
    for period, entry in listed:
        seen[(period, entry.reason_code, entry.operator, entry.approver or "")].append(entry)
    rows = [OverrideRow(period=period, reason_code=reason, operator=operator, approver=approver or None, count=len(facts))
            for (period, reason, operator, approver), facts in _with_totals(seen).items()]
    entries = sorted((entry for _, entry in listed), key=lambda entry: (entry.created_at, entry.export_id))
    return OverridesReport(**ReportHeader.of(window, len(orders), now), rows=rows, overrides=entries)


def _line_list(lines: Iterable[ExportLine], units: Counter[tuple[str, str]] | None = None) -> str:
    """'1, 2', or with the units shipped of lines shipped in part: '1 (2 of 3 units)'."""
    def named(line: ExportLine) -> str:
        shipped = units[(line.line_id, line.warehouse_id)] if units else 0
        return f"{line.line_id} ({shipped} of {line.quantity} units)" if shipped else line.line_id
    return ", ".join(named(line) for line in sorted(lines, key=lambda line: line.line_id))


def discrepancies_of(order: OrderRecord, period: str, now: datetime) -> list[Discrepancy]:
    """What does not add up in one order, as of `now`:
    - received, never exported: a creation webhook was received (and remembered) at least
      `IN_FLIGHT` ago, and no export version exists (a crash between the receipt and the
      order inbox, or a decision that keeps failing);
    - a warehouse sent lines by the current version has not answered it, and its
      `acknowledge_by` has passed (the sweep should have acted);
    - a warehouse that answered has not shipped all its lines, and their `ship_by` has passed;
    - shipped lines that do not match the current version: shipped by another warehouse
      than the one it names, more units than it asks, or lines it no longer ships.
    Whether an export reached its warehouse's queue is not measured: queues keep no
    record once a message is consumed."""
    def found(kind: DiscrepancyKind, detail: str, warehouse: str | None = None, since: datetime | None = None):
        return Discrepancy(order_id=order.order_id, period=period, kind=kind, warehouse_id=warehouse, detail=detail,
                           since=since)

    latest = order.latest
    if latest is None:
        first = min(order.receipts, default=None)
        if first is not None and first <= now - IN_FLIGHT:
            return [found(DiscrepancyKind.RECEIVED_NOT_EXPORTED,
                          f"a creation webhook was received at {format_utc(first)}; no export was ever stored",
                          since=first)]
        return []
    problems = []
    units = shipped_units(order)
    for warehouse, lines in _unshipped(order, units).items():
        answered = any(a.request.kind not in (AckKind.CANCEL_ACCEPTED, AckKind.CANCEL_REFUSED)
                       for a in order.answers_to(latest.version, warehouse))
        started = any(units[(line.line_id, warehouse)] for line in lines)
        if not answered and not started:
            due = latest.sla.acknowledge_by
            if due is not None and due < now:
                problems.append(found(DiscrepancyKind.UNACKNOWLEDGED,
                                      f"{latest.export_id} sent line(s) {_line_list(lines)} to {warehouse}, "
                                      f"which has not answered it", warehouse, due))
            continue
        due = min((s.ship_by for s in _shipments_of(latest, warehouse, lines)), default=None)
        if due is not None and due < now:
            problems.append(found(DiscrepancyKind.UNSHIPPED,
                                  f"{warehouse} answered {latest.export_id} but has not shipped line(s) "
                                  f"{_line_list(lines, units)}", warehouse, due))
    expected = {line.line_id: line for line in latest.lines}
    wrong: dict[str, list[str]] = defaultdict(list)
    for (line_id, warehouse), shipped in sorted(units.items()):
        line = expected.get(line_id)
        if line is None or line.action is not LineAction.SHIP:
            wrong[warehouse].append(f"line {line_id}: {shipped} shipped, but {latest.export_id} "
                                    f"{'has no such line' if line is None else f'has it {line.action}'}")
        elif line.warehouse_id != warehouse:
            wrong[warehouse].append(f"line {line_id}: {shipped} shipped, but {latest.export_id} ships it from "
                                    f"{line.warehouse_id}")
        elif shipped > line.quantity:
            wrong[warehouse].append(f"line {line_id}: {shipped} shipped, but {latest.export_id} ships {line.quantity}")
    problems += [found(DiscrepancyKind.SHIPPED_NOT_AS_EXPORTED, "; ".join(details), warehouse)
                 for warehouse, details in wrong.items()]
    return problems


def reconciliation_report(window: ReportWindow, orders: Sequence[OrderRecord], now: datetime,
                          receipts_kept_since: date) -> ReconciliationReport:
    """Orders received (a creation webhook remembered: the receipts table) against exported
    (a version stored), acknowledged (a warehouse answered) and shipped (every line the
    current version ships, shipped by its warehouse), and every discrepancy by order."""
    seen: Facts = defaultdict(list)  # one fact per order: where it got to, and what does not add up
    listed: list[Discrepancy] = []
    for order in orders:
        period = window.period_of(order.placed_at)
        problems = discrepancies_of(order, period, now)
        listed += problems
        latest = order.latest
        to_ship = latest is not None and any(line.action is LineAction.SHIP for line in latest.lines)
        seen[(period,)].append({"received": bool(order.receipts), "exported": latest is not None,
                                "acknowledged": bool(order.answers),
                                "shipped": to_ship and not _unshipped(order, shipped_units(order)),
                                "discrepancies": len(problems)})
    rows = [ReconciliationRow(period=period, **{field: sum(fact[field] for fact in facts) for field in facts[0]})
            for (period,), facts in _with_totals(seen).items()]
    listed.sort(key=lambda d: (d.period, d.order_id, d.kind, d.warehouse_id or ""))
    return ReconciliationReport(**ReportHeader.of(window, len(orders), now),
                                receipts_cover_window=window.from_date >= receipts_kept_since,
                                rows=rows, discrepancies=listed)
