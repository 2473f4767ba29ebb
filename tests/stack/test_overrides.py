"""Manual overrides through the local stack: signed with the operator's KMS key, refused
when stale, unsigned or unapproved, resolving the escalation that waited for a person."""

import base64
import json

from meshline.dal.aws import client
from meshline.dal.escalations import EscalationStore
from meshline.dal.signatures import sign
from meshline.domain.audit import verify_chain
from meshline.domain.exports import Export, LineChange
from meshline.domain.overrides import signed_payload
from meshline.flows.override import signature_problems
from tests.stack.test_acknowledgements import answer, latest, place, post
from tests.stack.test_escalation import bus_events, reject_everywhere


def override_body(order_id, current, changes, reason="manual_reroute", operator="agency:alice", approver=None,
                  justification="West restocked the tees this morning; ship from there."):
    changes = [LineChange.model_validate(change) for change in changes]
    payload = signed_payload("acme", order_id, current["version"], reason, justification, changes)
    body = {
        "expected_version": current["version"], "reason_code": reason, "justification": justification,
        "changes": [change.model_dump(mode="json") for change in changes],
        "signed_by": sign("local", operator, payload).model_dump(mode="json"),
    }
    if approver:
        body["approved_by"] = sign("local", approver, payload).model_dump(mode="json")
    return body


def post_override(stack, order_id, body, as_=None):
    status, answer = stack.call("POST", f"/tenants/acme/orders/{order_id}/overrides", body,
                                as_=as_ or body["signed_by"]["operator"])
    stack.runtime.settle()
    return status, answer


def execution_of(held_export_id):
    sfn = client("stepfunctions")
    [machine] = sfn.list_state_machines()["stateMachines"]
    [execution] = [e for e in sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
                   if e["name"] == held_export_id.replace(":", "-")]
    return sfn.describe_execution(executionArn=execution["executionArn"])


def test_rejected_everywhere_escalated_then_a_signed_override_ships_it_and_resolves_the_escalation(stack):
    order_id, held = reject_everywhere(stack, 5001)
    tasks = EscalationStore(stack.env["TrackEscalationsFunction"]["EXPORTS_TABLE"])
    stack.runtime.run_until(lambda: tasks.tasks("acme", order_id), timeout=20, what="the first escalation task")
    line_id = held["lines"][0]["line_id"]
    status, created = post_override(stack, order_id, override_body(order_id, held, [{"line_id": line_id, "action": "ship", "warehouse_id": "west"}]))
    assert status == 201, created
    assert (created["version"], created["intended_action"], created["trigger"]["kind"]) == (held["version"] + 1, "route", "manual_override")
    assert created["lines"][0]["warehouse_id"] == "west" and created["owning_party"] == "3pl:west-fulfil"
    assert created["override"]["signed_by"]["operator"] == "agency:alice"
    assert created["explanation"]["summary"].startswith("manual override by agency:alice (manual_reroute): line")

    execution = stack.runtime.run_until(
        lambda: (e := execution_of(held["export_id"]))["status"] != "RUNNING" and e, timeout=20, what="the escalation's end")
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["outcome"] == "resolved"
    assert json.loads(execution["output"])["resolution"]["export_id"] == created["export_id"]
    assert [e["detail-type"] for e in bus_events(stack)] == ["EscalationOpened"]  # resolved on the first rung

    [delivered] = [json.loads(m["Body"]) for m in stack.drain(stack.warehouse_queue("west")) if json.loads(m["Body"])["version"] == created["version"]]
    assert delivered == created
    for kind, ack_id, extra in (("accepted", "w-acc", {}), ("shipped", "w-shp", {"tracking_number": "1Z1"})):
        assert post(stack, answer(created, "west", kind, ack_id, **extra))[0] == 200
    report = verify_chain(stack.exports.history("acme", order_id), stack.exports.acknowledgement_documents("acme", order_id))
    assert report.verified, report.problems
    assert signature_problems(Export.model_validate(created), "local") == []


def test_overrides_are_refused_when_stale_unsigned_or_unapproved(stack):
    order_id = place(stack, 5002, [("TEE-BLK-M", 1)])
    current = latest(stack, order_id)
    line_id = current["lines"][0]["line_id"]
    to_west = [{"line_id": line_id, "action": "ship", "warehouse_id": "west"}]

    stale = override_body(order_id, {**current, "version": current["version"] + 1}, to_west)
    assert post_override(stack, order_id, stale) == (409, {"error": "conflict", "message": (
        f"{order_id} is at version 1, not 2: look at {current['export_id']} and override that")})

    forged = override_body(order_id, current, to_west)
    forged["justification"] = "Something else than what alice signed."
    status, answer_ = post_override(stack, order_id, forged)
    assert (status, answer_["message"]) == (403, "the signature of agency:alice does not match this override")

    borrowed = override_body(order_id, current, to_west, operator="agency:bob")
    borrowed["signed_by"]["operator"] = "agency:alice"
    status, answer_ = post_override(stack, order_id, borrowed)
    assert (status, answer_["message"]) == (
        403, "agency:alice signs with alias/meshline-local-operator-agency-alice, not alias/meshline-local-operator-agency-bob")

    cancel = [{"line_id": line_id, "action": "cancel"}]
    status, answer_ = post_override(stack, order_id, override_body(order_id, current, cancel, reason="customer_request"))
    assert status == 403 and answer_["message"].startswith("policy version 1 requires a second approver for 'customer_request' / 'cancel'")
    status, answer_ = post_override(stack, order_id, override_body(order_id, current, cancel, reason="customer_request", approver="agency:alice"))
    assert (status, answer_["message"]) == (403, "approved_by must be a different operator from signed_by")
    unknown_line = [{"line_id": "nope", "action": "cancel"}]
    status, answer_ = post_override(stack, order_id, override_body(order_id, current, unknown_line))
    assert (status, answer_["message"]) == (400, f"changes: order {order_id} has no line nope")
    assert len(stack.exports.history("acme", order_id)) == 1  # nothing refused was written

    status, cancelled = post_override(stack, order_id, override_body(order_id, current, cancel, reason="customer_request", approver="agency:bob"))
    assert status == 201 and cancelled["intended_action"] == "cancel"
    assert cancelled["override"]["approved_by"]["operator"] == "agency:bob"
    assert signature_problems(Export.model_validate(cancelled), "local") == []


def test_an_override_signature_still_verifies_later_and_a_doctored_one_does_not(stack):
    order_id = place(stack, 5003, [("TEE-BLK-M", 1)])
    current = latest(stack, order_id)
    body = override_body(order_id, current, [{"line_id": current["lines"][0]["line_id"], "action": "backorder"}],
                         reason="awaiting_restock")
    status, created = post_override(stack, order_id, body)
    assert status == 201
    doctored = Export.model_validate({**created, "justification": "A different story told afterwards."})
    assert signature_problems(doctored, "local") == ["the signature of agency:alice does not match this override"]
    other = base64.b64encode(b"\x30" * 70).decode()
    resigned = Export.model_validate({**created, "override": {**created["override"], "signed_by": {**created["override"]["signed_by"], "value": other}}})
    assert signature_problems(resigned, "local") == ["the signature of agency:alice does not match this override"]
