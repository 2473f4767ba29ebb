"""Escalation through the local stack: the real ASL executed by moto's Step Functions
engine, started by publication, its tasks kept, its breach recorded as a new version.
Ladder minutes run at 0.02 s each here (tests/stack/conftest.py)."""

import json

from meshline.dal.escalations import EscalationStore
from meshline.domain.audit import verify_chain
from tests.stack.test_acknowledgements import answer, latest, place, post, warehouse_of


def reject_everywhere(stack, number):
    order_id = place(stack, number, [("TEE-BLK-M", 1)])
    for ack_id in ("rej-a", "rej-b"):
        current = latest(stack, order_id)
        status, _ = post(stack, answer(current, warehouse_of(current), "rejected", ack_id, reason_code="out_of_stock"))
        assert status == 200
    held = latest(stack, order_id)
    assert held["intended_action"] == "hold_for_review"
    return order_id, held


def bus_events(stack, source="meshline.escalation"):
    return [event for event in (json.loads(m["Body"]) for m in stack.drain(stack.tap_url)) if event["source"] == source]


def test_silence_climbs_the_ladder_and_the_breach_is_recorded_as_a_new_version(stack):
    order_id, held = reject_everywhere(stack, 4001)
    breach = stack.runtime.run_until(
        lambda: next((d for d in stack.exports.history("acme", order_id) if d["trigger"]["kind"] == "escalation_breached"), None),
        timeout=60, what="the escalation's breach",
    )
    assert breach["version"] == held["version"] + 1
    assert breach["lines"] == held["lines"] and breach["intended_action"] == "hold_for_review"
    assert breach["exception_path"]["kind"] == "human_queue"
    assert breach["explanation"]["summary"] == (
        f"escalation breached: nobody resolved {held['export_id']} up the ladder "
        "(agency:fulfillment-team → ops@acme-outfitters.example); it stays with agency:fulfillment-team"
    )
    assert breach["trigger"]["delivery_ids"] == {"rung": "1"}

    tasks = EscalationStore(stack.env["TrackEscalationsFunction"]["EXPORTS_TABLE"]).tasks("acme", order_id)
    assert [(t.export_version, t.rung, t.contact, t.timeout_seconds) for t in tasks] == [
        (held["version"], 0, "agency:fulfillment-team", 2), (held["version"], 1, "ops@acme-outfitters.example", 5)
    ]
    events = bus_events(stack)
    assert [e["detail-type"] for e in events] == ["EscalationOpened", "EscalationClimbed"]
    assert events[0]["detail"]["escalation_id"] == held["export_id"]
    assert events[1]["detail"]["contact"] == "ops@acme-outfitters.example"
    report = verify_chain(stack.exports.history("acme", order_id), stack.exports.acknowledgement_documents("acme", order_id))
    assert report.verified and report.versions == breach["version"], report.problems
