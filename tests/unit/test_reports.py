"""Reports, computed from orders' records alone: percentiles, on time at the edges, answers
to superseded versions, partial shipments, exceptions, overrides and reconciliation."""

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from meshline.domain.acknowledgements import AckKind, AcknowledgementRequest, RefusedAcknowledgement
from meshline.domain.escalations import EscalationOutcome, breach_trigger, record_breach
from meshline.domain.exports import LineAction, LineChange, OperatorSignature, OverrideRecord, Trigger, TriggerKind
from meshline.domain.follow_ups import silence_trigger_id
from meshline.domain.reports import (
    IN_FLIGHT,
    OrderRecord,
    Period,
    ReportWindow,
    acknowledgement_times_report,
    discrepancies_of,
    exceptions_report,
    overrides_report,
    percentile,
    reconciliation_report,
    sla_report,
)
from meshline.domain.routing import decide

from .domain_builders import NOW, order, stock
from .test_rejections import Chain, rejecting_policy

WINDOW = ReportWindow(tenant_id="acme", from_date=date(2026, 11, 23), to_date=date(2026, 11, 29))
LATER = NOW + timedelta(days=3)  # every deadline of these orders has passed


def shipment(chain, warehouse="east", at=None, lines=(), ack_id=None, kind=AckKind.SHIPPED, **fields):
    """A warehouse's answer to the chain's current version, at a time the test chooses."""
    export = chain.current
    request = AcknowledgementRequest(
        ack_id=ack_id or f"{warehouse}-{kind}-{export.version}-{len(chain.answers[export.version])}",
        export_id=export.export_id, warehouse_id=warehouse, kind=kind, at=at or export.created_at,
        lines=[line if isinstance(line, dict) else {"line_id": line} for line in lines],
        tracking_number="1Z999" if kind is AckKind.SHIPPED else None, **fields)
    return chain.receive(request)


def record(chain, **fields) -> OrderRecord:
    answers = tuple(ack for version in sorted(chain.answers) for ack in chain.answers[version])
    return OrderRecord(order_id=chain.order.order_id, placed_at=chain.order.placed_at, versions=tuple(chain.exports),
                       answers=answers, **fields)


def two_lines_at_east(order_id="shopify-1001"):
    chain = Chain(order(("A", 1), ("B", 1), order_id=order_id), rejecting_policy(),
                  stock(A={"east": 5, "west": 5}, B={"east": 5, "west": 5}))
    assert [(s.warehouse_id, s.line_ids) for s in chain.current.shipments] == [("east", ["1", "2"])]
    return chain


def row(report, period="all", **keys):
    [found] = [r for r in report.rows if r.period == period and all(getattr(r, k) == v for k, v in keys.items())]
    return found


# ---------------------------------------------------------------- arithmetic and windows


def test_percentiles_are_nearest_rank():
    values = [10.0, 1.0, 9.0, 2.0, 8.0, 3.0, 7.0, 4.0, 6.0, 5.0]
    assert [percentile(values, p) for p in (50, 90, 99)] == [5.0, 9.0, 10.0]
    assert [percentile([42.0], p) for p in (50, 90, 99)] == [42.0, 42.0, 42.0]
    assert [percentile([1.0, 2.0, 3.0], p) for p in (50, 90, 99)] == [2.0, 3.0, 3.0]  # ranks 2, 3, 3 (ceil of p*n/100)
    assert percentile([], 50) is None


def test_periods_are_utc_days_or_iso_weeks_and_a_window_must_not_run_backwards():
    sunday, monday = datetime(2026, 11, 1, 23, 59, tzinfo=UTC), datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
    weekly = WINDOW.model_copy(update={"period": Period.WEEK})
    assert [WINDOW.period_of(sunday), WINDOW.period_of(monday)] == ["2026-11-01", "2026-11-02"]
    assert [weekly.period_of(sunday), weekly.period_of(monday)] == ["2026-W44", "2026-W45"]
    assert WINDOW.period_of(datetime(2026, 11, 2, 1, 0, tzinfo=UTC).astimezone()) == "2026-11-02"
    assert (WINDOW.starts_at, WINDOW.ends_before) == (datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC))
    with pytest.raises(ValidationError, match=r"from \(2026-11-30\) is after to \(2026-11-29\)"):
        ReportWindow(tenant_id="acme", from_date=date(2026, 11, 30), to_date=date(2026, 11, 29))
    with pytest.raises(ValidationError, match="from and to must be days from 2000-01-01 to 2999-12-31"):
        ReportWindow(tenant_id="acme", from_date=date(2026, 11, 30), to_date=date.max)


# ---------------------------------------------------------------- SLA


def test_shipped_exactly_at_ship_by_is_on_time_and_a_second_later_is_late():
    on_the_dot, a_second_late = two_lines_at_east(), two_lines_at_east()
    ship_by = on_the_dot.current.sla.ship_by
    shipment(on_the_dot, at=ship_by)
    shipment(a_second_late, at=ship_by + timedelta(seconds=1))
    assert row(sla_report(WINDOW, [record(on_the_dot)], LATER)).model_dump() == {
        "period": "all", "warehouse_id": "east", "shipped": 1, "on_time": 1, "late": 0, "on_time_rate": 1.0,
        "overdue_unshipped": 0}
    report = sla_report(WINDOW, [record(on_the_dot), record(a_second_late)], LATER)
    assert [(r.period, r.shipped, r.on_time, r.late, r.on_time_rate) for r in report.rows] == [
        ("2026-11-25", 2, 1, 1, 0.5), ("all", 2, 1, 1, 0.5)]
    assert report.orders == 2 and report.generated_at == LATER


def test_a_partial_shipment_counts_once_and_its_remainder_again_and_unshipped_lines_are_overdue():
    chain = two_lines_at_east()
    ship_by = chain.current.sla.ship_by
    shipment(chain, at=ship_by - timedelta(hours=1), lines=["1"])
    halfway = sla_report(WINDOW, [record(chain)], LATER)
    assert (row(halfway).shipped, row(halfway).on_time, row(halfway).overdue_unshipped) == (1, 1, 1)
    assert row(sla_report(WINDOW, [record(chain)], ship_by)).overdue_unshipped == 0  # not past ship_by yet
    shipment(chain, at=ship_by + timedelta(hours=2), lines=["2"])
    done = row(sla_report(WINDOW, [record(chain)], LATER))
    assert (done.shipped, done.on_time, done.late, done.overdue_unshipped) == (2, 1, 1, 0)


def test_units_short_of_the_line_leave_it_unshipped():
    chain = Chain(order(("A", 3)), rejecting_policy(), stock(A={"east": 5}))
    shipment(chain, at=chain.current.created_at, lines=[{"line_id": "1", "quantity": 2}])
    assert row(sla_report(WINDOW, [record(chain)], LATER)).overdue_unshipped == 1
    [short] = discrepancies_of(record(chain), "2026-11-25", LATER)
    assert (short.kind, short.warehouse_id) == ("unshipped_past_ship_by", "east")
    assert short.detail == "east answered acme:shopify-1001:v1 but has not shipped line(s) 1 (2 of 3 units)"


def test_an_answer_to_a_superseded_version_is_judged_and_timed_by_the_version_it_answered():
    chain = two_lines_at_east()
    first = chain.current
    shipment(chain, at=first.created_at + timedelta(minutes=10), lines=["1"])  # ships line 1 of v1
    shipment(chain, at=first.created_at + timedelta(minutes=20), kind=AckKind.REJECTED, reason_code="out_of_stock",
             lines=["2"])  # rejects line 2: v2 sends it to west, and keeps line 1 with east
    second = chain.current
    assert (second.version, {line.line_id: line.warehouse_id for line in second.lines}) == (2, {"1": "east", "2": "west"})
    shipment(chain, "west", at=second.created_at + timedelta(minutes=30), kind=AckKind.ACCEPTED)
    west_ship_by = next(s.ship_by for s in second.shipments if s.warehouse_id == "west")
    assert west_ship_by > second.sla.ship_by  # the order's ship_by is east's; west's shipment has its own
    shipment(chain, "west", at=west_ship_by + timedelta(minutes=1))

    sla = sla_report(WINDOW, [record(chain)], LATER)
    assert [(r.warehouse_id, r.shipped, r.on_time, r.late, r.overdue_unshipped) for r in sla.rows if r.period == "all"] == [
        ("east", 1, 1, 0, 0), ("west", 1, 0, 1, 0)]  # east's line 1, shipped under v1, is not overdue in v2
    times = acknowledgement_times_report(WINDOW, [record(chain)], LATER)
    east, west = row(times, warehouse_id="east"), row(times, warehouse_id="west")
    assert (east.first_answer.count, east.first_answer.p50_seconds) == (1, 1200.0)  # its rejection, from v1
    assert (east.shipped.count, east.shipped.p50_seconds) == (1, 600.0)
    assert (west.first_answer.count, west.first_answer.p99_seconds) == (1, 1800.0)  # measured from v2's created_at
    assert west.shipped.p50_seconds == (west_ship_by + timedelta(minutes=1) - second.created_at).total_seconds()
    assert discrepancies_of(record(chain), "2026-11-25", LATER) == []  # east shipped its line; nothing is owed


def test_acknowledgement_times_take_the_first_received_accepted_or_rejected_answer():
    chains = []
    for minutes in (5, 15, 25, 35):
        chain = two_lines_at_east()
        shipment(chain, at=chain.current.created_at + timedelta(minutes=minutes), kind=AckKind.RECEIVED)
        shipment(chain, at=chain.current.created_at + timedelta(minutes=minutes + 60), kind=AckKind.ACCEPTED)
        chains.append(chain)
    silent = two_lines_at_east()  # sent, never answered: no sample
    report = acknowledgement_times_report(WINDOW, [*map(record, chains), record(silent)], LATER)
    east = row(report, warehouse_id="east")
    assert east.first_answer.model_dump() == {"count": 4, "p50_seconds": 900.0, "p90_seconds": 2100.0, "p99_seconds": 2100.0}
    assert east.shipped.model_dump() == {"count": 0, "p50_seconds": None, "p90_seconds": None, "p99_seconds": None}


# ---------------------------------------------------------------- exceptions and overrides


def test_exceptions_count_rejections_silences_refusals_holds_and_escalations():
    chain = Chain(order(("A", 1)), rejecting_policy(), stock(A={"east": 5, "west": 5}))
    shipment(chain, kind=AckKind.REJECTED, reason_code="out_of_stock")  # east: re-routed to west
    shipment(chain, "west", kind=AckKind.REJECTED, reason_code="incorrect_address")  # held for a person
    held = chain.current
    assert held.intended_action == "hold_for_review" and held.exception_path.on == "rejected:incorrect_address"
    outcome = EscalationOutcome(outcome="breached", escalation_id=held.export_id, tenant_id="acme",
                                order_id=held.order_id, export_version=held.version, rung=0)
    breach = record_breach(held, breach_trigger(outcome, LATER), LATER, None)
    refused = RefusedAcknowledgement(request={"warehouse_id": "east", "ack_id": "late"}, reason="superseded",
                                     refused_at=LATER)
    answered = record(chain, refusals=(refused,))
    answered = OrderRecord(**{**answered.__dict__, "versions": (*answered.versions, breach)})

    silent = Chain(order(("A", 1), order_id="shopify-1002"), rejecting_policy(), stock(A={"east": 5, "west": 5}))
    lapse = Trigger(kind=TriggerKind.SLA_LAPSING, trigger_id=silence_trigger_id(silent.current.export_id, "east"),
                    source="schedule:sweep", received_at=LATER)
    rerouted = decide(silent.order, silent.policy, silent.stock, lapse, silent.current, LATER)
    silenced = OrderRecord(order_id="shopify-1002", placed_at=NOW, versions=(silent.current, rerouted))

    report = exceptions_report(WINDOW, [answered, silenced], LATER)
    assert [(r.category, r.key, r.count) for r in report.rows if r.period == "all"] == [
        ("escalation_breached", "rejected:incorrect_address", 1),
        ("escalation_opened", "rejected:incorrect_address", 1),
        ("hold", "rejected:incorrect_address", 1),  # the breach keeps the hold: not a new one
        ("refused_answer", "east", 1),
        ("rejection", "incorrect_address", 1),
        ("rejection", "out_of_stock", 1),
        ("silence", "east", 1),
    ]


def test_overrides_are_counted_by_reason_operator_and_approver():
    def overridden(order_id, reason, operator, approver=None):
        chain = Chain(order(("A", 1), order_id=order_id), rejecting_policy(), stock(A={"east": 5, "west": 5}))
        signature = lambda who: OperatorSignature(operator=who, key_id=f"alias/{who}", value="c2lnbmF0dXJlLXZhbHVl")  # noqa: E731
        record_ = OverrideRecord(expected_version=1, reason_code=reason,
                                 changes=[LineChange(line_id="1", action=LineAction.SHIP, warehouse_id="west")],
                                 signed_by=signature(operator), approved_by=signature(approver) if approver else None)
        trigger = Trigger(kind=TriggerKind.MANUAL_OVERRIDE, trigger_id=f"override:{order_id}", source=f"operator:{operator}",
                          received_at=NOW + timedelta(hours=1))
        chain.exports.append(decide(chain.order, chain.policy, chain.stock, trigger, chain.current, NOW + timedelta(hours=1),
                                    override=record_, justification="The customer asked for the west coast."))
        return record(chain)

    orders = [overridden("shopify-1", "manual_reroute", "agency:alice"), overridden("shopify-2", "manual_reroute", "agency:alice"),
              overridden("shopify-3", "customer_request", "agency:alice", "agency:bob")]
    report = overrides_report(WINDOW, orders, LATER)
    assert [(r.period, r.reason_code, r.operator, r.approver, r.count) for r in report.rows] == [
        ("2026-11-25", "customer_request", "agency:alice", "agency:bob", 1),
        ("2026-11-25", "manual_reroute", "agency:alice", None, 2),
        ("all", "customer_request", "agency:alice", "agency:bob", 1),
        ("all", "manual_reroute", "agency:alice", None, 2),
    ]
    assert [(o.order_id, o.export_id, o.approver) for o in report.overrides] == [
        ("shopify-1", "acme:shopify-1:v2", None), ("shopify-2", "acme:shopify-2:v2", None),
        ("shopify-3", "acme:shopify-3:v2", "agency:bob")]


# ---------------------------------------------------------------- reconciliation


def test_reconciliation_lists_what_does_not_add_up_order_by_order():
    received_only = OrderRecord(order_id="shopify-9", placed_at=NOW, receipts=(LATER - IN_FLIGHT,))
    in_flight = OrderRecord(order_id="shopify-10", placed_at=NOW, receipts=(LATER - IN_FLIGHT + timedelta(seconds=1),))
    unanswered = two_lines_at_east("shopify-1")
    accepted = two_lines_at_east("shopify-2")
    shipment(accepted, kind=AckKind.ACCEPTED)
    moved = two_lines_at_east("shopify-3")  # shipped by east, then overridden to west: the shipment no longer matches
    shipment(moved, at=moved.current.sla.ship_by)
    override = OverrideRecord(expected_version=1, reason_code="manual_reroute",
                              changes=[LineChange(line_id="1", action=LineAction.SHIP, warehouse_id="west")],
                              signed_by=OperatorSignature(operator="agency:alice", key_id="alias/a", value="c2lnbmF0dXJlLXZhbHVl"))
    trigger = Trigger(kind=TriggerKind.MANUAL_OVERRIDE, trigger_id="override:x", source="operator:agency:alice", received_at=NOW)
    moved.exports.append(decide(moved.order, moved.policy, moved.stock, trigger, moved.current, NOW, override=override,
                                justification="Moved after it had shipped."))
    done = two_lines_at_east("shopify-4")
    shipment(done)
    orders = [received_only, in_flight, record(unanswered, receipts=(NOW,)), record(accepted, receipts=(NOW,)),
              record(moved, receipts=(NOW,)), record(done, receipts=(NOW,))]

    report = reconciliation_report(WINDOW, orders, LATER, receipts_kept_since=date(2026, 10, 30))
    assert [r.model_dump() for r in report.rows] == [
        {"period": "2026-11-25", "received": 6, "exported": 4, "acknowledged": 3, "shipped": 1, "discrepancies": 5},
        {"period": "all", "received": 6, "exported": 4, "acknowledged": 3, "shipped": 1, "discrepancies": 5}]
    assert [(d.order_id, d.kind, d.warehouse_id, d.since) for d in report.discrepancies] == [
        ("shopify-1", "unacknowledged_past_acknowledge_by", "east", unanswered.current.sla.acknowledge_by),
        ("shopify-2", "unshipped_past_ship_by", "east", accepted.current.sla.ship_by),
        ("shopify-3", "shipped_not_as_exported", "east", None),
        ("shopify-3", "unacknowledged_past_acknowledge_by", "west", moved.current.sla.acknowledge_by),  # sent line 1 by v2
        ("shopify-9", "received_not_exported", None, LATER - IN_FLIGHT),
    ]
    assert [d.detail for d in report.discrepancies[:3]] == [
        "acme:shopify-1:v1 sent line(s) 1, 2 to east, which has not answered it",
        "east answered acme:shopify-2:v1 but has not shipped line(s) 1, 2",
        "line 1: 1 shipped, but acme:shopify-3:v2 ships it from west",
    ]
    assert report.discrepancies[4].detail == (
        f"a creation webhook was received at {(LATER - IN_FLIGHT).isoformat().replace('+00:00', 'Z')}; "
        "no export was ever stored")
    assert report.receipts_cover_window
    assert not reconciliation_report(WINDOW, [], LATER, receipts_kept_since=date(2026, 11, 24)).receipts_cover_window
    # Before the deadlines, nothing is owed yet.
    assert reconciliation_report(WINDOW, orders[2:4], NOW, date(2026, 10, 30)).discrepancies == []
