"""Silence is a failure too: the scheduled sweep through the local stack."""

from meshline.domain.audit import verify_chain
from meshline_local.freezing import freeze_time
from tests.stack.test_acknowledgements import answer, latest, place, post, warehouse_of
from tests.stack.test_escalation import bus_events

PLACED = "2026-11-25T09:30:00-05:00"  # 14:30 UTC; the demo policy gives warehouses 60 minutes to answer


def sweep_at(stack, moment):
    with freeze_time(moment):
        [report] = stack.runtime.fire_schedules()
        stack.runtime.settle()
    return report


def test_silent_warehouses_are_rerouted_then_held_escalated_and_the_breach_recorded(stack):
    with freeze_time("2026-11-25T14:31:00Z"):
        order_id = place(stack, 6001, [("TEE-BLK-M", 1)], placed=PLACED)
    first = latest(stack, order_id)
    silent = warehouse_of(first)
    assert first["sla"]["acknowledge_by"] == "2026-11-25T15:31:00Z"

    assert sweep_at(stack, "2026-11-25T15:30:00Z")["rerouted"] == []  # not due yet
    report = sweep_at(stack, "2026-11-25T15:32:00Z")
    second = latest(stack, order_id)
    assert report["rerouted"] == [second["export_id"]] and second["version"] == 2
    other = warehouse_of(second)
    assert other != silent and second["trigger"]["kind"] == "sla_lapsing"
    assert second["explanation"]["summary"] == (
        f"warehouse {silent} did not answer for line(s) {first['lines'][0]['line_id']} (unacknowledged): "
        f"re-route 1 of 2, 1 line(s) to {other}"
    )
    assert second["sla"]["acknowledge_by"] == "2026-11-25T16:32:00Z"

    sweep_at(stack, "2026-11-25T16:33:00Z")  # the second warehouse is silent too: nobody else can ship it
    held = latest(stack, order_id)
    assert held["intended_action"] == "hold_for_review" and held["exception_path"]["kind"] == "auto_escalate"
    breach = stack.runtime.run_until(
        lambda: next((d for d in stack.exports.history("acme", order_id) if d["trigger"]["kind"] == "escalation_breached"), None),
        timeout=60, what="the breach of the escalation",
    )
    assert breach["version"] == held["version"] + 1
    assert [e["detail-type"] for e in bus_events(stack)] == ["EscalationOpened", "EscalationClimbed"]
    assert sweep_at(stack, "2026-11-26T12:00:00Z") == {"looked_at": 0, "rerouted": [], "escalated": [], "skipped": 0}
    report = verify_chain(stack.exports.history("acme", order_id), stack.exports.acknowledgement_documents("acme", order_id))
    assert report.verified, report.problems


def test_an_answer_in_time_stops_the_silence_clock_and_a_lapsing_ship_by_escalates(stack):
    with freeze_time("2026-11-25T14:31:00Z"):
        order_id = place(stack, 6002, [("TEE-BLK-M", 1)], placed=PLACED)
        first = latest(stack, order_id)
        assert post(stack, answer(first, warehouse_of(first), "accepted", "acc-6002"))[0] == 200
    assert sweep_at(stack, "2026-11-25T15:32:00Z")["rerouted"] == []  # it answered
    ship_by = first["sla"]["ship_by"]
    report = sweep_at(stack, ship_by)
    assert report["escalated"] == [first["export_id"]]
    events = stack.runtime.run_until(lambda: bus_events(stack), timeout=20, what="the escalation's first event")
    assert events[0]["detail-type"] == "EscalationOpened" and events[0]["detail"]["reason"] == "sla_breach"
    assert latest(stack, order_id)["version"] == 1  # escalating does not change the decision


def test_backorders_are_reviewed_when_their_review_time_comes(stack):
    with freeze_time("2026-11-25T14:31:00Z"):
        order_id = place(stack, 6003, [("JERSEY-LTD", 3)], placed=PLACED)
    first = latest(stack, order_id)
    assert first["intended_action"] == "backorder" and first["valid_until"] == "2026-11-26T14:31:00Z"
    stack.tenants.put_stock("acme", "JERSEY-LTD", {"east": 1, "west": 2})  # unchanged: still short
    assert sweep_at(stack, "2026-11-26T14:32:00Z")["rerouted"] == []
    assert latest(stack, order_id)["version"] == 1
    stack.tenants.put_stock("acme", "JERSEY-LTD", {"east": 1, "west": 9})  # arrived, unannounced
    assert sweep_at(stack, "2026-11-27T14:00:00Z")["rerouted"] == []  # the next review is 24 h after the last
    report = sweep_at(stack, "2026-11-27T14:33:00Z")
    shipped = latest(stack, order_id)
    assert report["rerouted"] == [shipped["export_id"]]
    assert (shipped["intended_action"], shipped["lines"][0]["warehouse_id"]) == ("route", "west")
    assert shipped["explanation"]["summary"] == f"backordered line(s) {first['lines'][0]['line_id']} reviewed: 1 line(s) to west"
