"""Warehouse answers: admission against the current export, the fallback a rejection
leads to under the policy, and the order's hash chain through answers and versions."""

from datetime import timedelta

import pytest

from meshline.domain.acknowledgements import AckKind, AcknowledgementRequest, Refusal, admit
from meshline.domain.audit import verify_chain
from meshline.domain.exports import ExceptionKind, IntendedAction, LineAction, Trigger, TriggerKind
from meshline.domain.policy import Warehouse
from meshline.domain.rejections import plan_after_rejection
from meshline.domain.replay import DecisionInputs, redecide
from meshline.domain.routing import decide
from meshline.domain.validation import export_schema_errors

from .domain_builders import EAST, NOW, WEST, order, policy, stock, trigger

CENTRAL = Warehouse(warehouse_id="central", priority=3, operator="3pl:central", time_zone="America/Chicago")
LADDER = [{"contact": "ops@agency.example", "within_minutes": 30}, {"contact": "lead@agency.example", "within_minutes": 60}]


def rejecting_policy(budget: int = 2, **rules):
    paths = [
        {"on": "default"},
        {"on": "rejected", "retry_budget": budget, "fallback": "reroute", "ladder": LADDER},
        {"on": "rejected:incorrect_address", "fallback": "hold_for_review", "ladder": LADDER[:1]},
    ]
    return policy(EAST, WEST, CENTRAL, exception_paths=paths, **rules)


def answer(export, warehouse_id, kind=AckKind.REJECTED, reason="out_of_stock", lines=(), ack_id=None, minutes=5):
    return AcknowledgementRequest(
        ack_id=ack_id or f"{warehouse_id}-{kind}-{export.version}",
        export_id=export.export_id,
        warehouse_id=warehouse_id,
        kind=kind,
        at=export.created_at + timedelta(minutes=minutes),
        reason_code=reason if kind in (AckKind.REJECTED, AckKind.CANCEL_REFUSED) else None,
        lines=[{"line_id": line_id} for line_id in lines],
        tracking_number="1Z999" if kind is AckKind.SHIPPED else None,
    )


class Chain:
    """An order's life in memory: exports, their inputs and every recorded answer."""

    def __init__(self, the_order, the_policy, the_stock):
        self.order, self.policy, self.stock = the_order, the_policy, the_stock
        first = decide(the_order, the_policy, the_stock, trigger(the_order.order_id), None, NOW)
        self.exports = [first]
        self.inputs = [DecisionInputs(order=the_order, stock=the_stock)]
        self.answers = {first.version: []}

    @property
    def current(self):
        return self.exports[-1]

    def receive(self, request, minutes=5):
        ack = admit(request, self.current, self.answers[self.current.version], self.current.created_at + timedelta(minutes=minutes))
        self.answers[self.current.version].append(ack)
        if request.kind is not AckKind.REJECTED:
            return ack
        plan = plan_after_rejection(ack, self.policy, self.inputs[-1].reroute)
        cause = Trigger(kind=TriggerKind.WAREHOUSE_REJECTED, trigger_id=f"ack:{request.ack_id}",
                        source=f"warehouse:{request.warehouse_id}", received_at=ack.recorded_at)
        export = decide(self.order, self.policy, self.stock, cause, self.current, ack.recorded_at, reroute=plan, acknowledged=ack.link)
        assert export_schema_errors(export.model_dump(mode="json")) == []
        self.exports.append(export)
        self.inputs.append(DecisionInputs(order=self.order, stock=self.stock, reroute=plan))
        self.answers[export.version] = []
        return ack

    def documents(self):
        exports = [export.model_dump(mode="json") for export in self.exports]
        answers = [ack.model_dump(mode="json") for acks in self.answers.values() for ack in acks]
        return exports, answers


def shipped(export):
    return {line.line_id: line.warehouse_id for line in export.lines if line.action is LineAction.SHIP}


# --- admission ------------------------------------------------------------------------------


def test_an_answer_chains_to_the_export_then_to_the_answer_before_it():
    chain = Chain(order(("A", 1)), rejecting_policy(), stock(A={"east": 5}))
    received = chain.receive(answer(chain.current, "east", AckKind.RECEIVED))
    accepted = chain.receive(answer(chain.current, "east", AckKind.ACCEPTED))
    assert (received.sequence, received.previous_hash) == (1, chain.current.content_hash)
    assert (accepted.sequence, accepted.previous_hash) == (2, received.content_hash)
    assert accepted.line_ids == ["1"]


def test_an_answer_to_a_superseded_version_is_refused_naming_the_current_one():
    chain = Chain(order(("A", 1)), rejecting_policy(), stock(A={"east": 5, "west": 5}))
    first = chain.current
    chain.receive(answer(first, "east"))
    with pytest.raises(Refusal) as refused:
        admit(answer(first, "east", AckKind.ACCEPTED), chain.current, [], NOW)
    assert refused.value.status == 409
    assert str(refused.value) == f"{first.export_id} is not the current version of order shopify-1001: answer {chain.current.export_id} instead"


def test_a_warehouse_cannot_answer_for_lines_it_was_not_sent():
    chain = Chain(order(("A", 1), ("B", 1)), rejecting_policy(split={"mode": "minimize_shipments"}),
                  stock(A={"east": 5}, B={"west": 5}))
    assert shipped(chain.current) == {"1": "east", "2": "west"}
    with pytest.raises(Refusal, match="warehouse central was sent no line") as nothing_sent:
        admit(answer(chain.current, "central", AckKind.ACCEPTED), chain.current, [], NOW)
    with pytest.raises(Refusal, match=r"line\(s\) 2 of .* were not sent to warehouse east") as foreign:
        admit(answer(chain.current, "east", lines=["2"]), chain.current, [], NOW)
    assert nothing_sent.value.status == foreign.value.status == 403


def test_a_rejection_needs_a_reason_and_a_shipment_a_tracking_number():
    export = Chain(order(("A", 1)), rejecting_policy(), stock(A={"east": 5})).current
    with pytest.raises(ValueError, match="reason_code is required when kind is 'rejected'"):
        AcknowledgementRequest(ack_id="x", export_id=export.export_id, warehouse_id="east", kind="rejected", at=NOW)
    with pytest.raises(ValueError, match="tracking_number is required"):
        AcknowledgementRequest(ack_id="x", export_id=export.export_id, warehouse_id="east", kind="shipped", at=NOW)


# --- what a rejection leads to ------------------------------------------------------------------


def test_a_rejection_reroutes_to_the_next_warehouse_and_says_why():
    chain = Chain(order(("A", 1)), rejecting_policy(), stock(A={"east": 5, "west": 5}))
    chain.receive(answer(chain.current, "east"))
    rerouted = chain.current
    assert rerouted.version == 2 and rerouted.trigger.kind is TriggerKind.WAREHOUSE_REJECTED
    assert shipped(rerouted) == {"1": "west"}
    assert rerouted.owning_party == "3pl:west-fulfil"
    assert rerouted.explanation.summary == "warehouse east rejected line(s) 1 (out_of_stock): re-route 1 of 2, 1 line(s) to west"
    east = next(c for c in rerouted.explanation.candidates if c.warehouse_id == "east")
    assert (east.kept, east.eliminated_by) == (False, "rejected")
    assert rerouted.acknowledged.count == 1


def test_a_partial_rejection_reroutes_only_the_rejected_lines():
    chain = Chain(order(("A", 1), ("B", 2)), rejecting_policy(), stock(A={"east": 5, "west": 5}, B={"east": 5, "west": 5}))
    before = chain.current
    assert shipped(before) == {"1": "east", "2": "east"}
    chain.receive(answer(before, "east", lines=["2"]))
    after = chain.current
    assert shipped(after) == {"1": "east", "2": "west"}
    assert after.intended_action is IntendedAction.SPLIT
    kept = next(s for s in after.shipments if s.warehouse_id == "east")
    assert kept.line_ids == ["1"] and kept.ship_by == before.shipments[0].ship_by


def test_rejected_by_every_warehouse_the_lines_are_held_and_escalated():
    chain = Chain(order(("A", 1)), rejecting_policy(), stock(A={"east": 5, "west": 5}))
    chain.receive(answer(chain.current, "east"))
    chain.receive(answer(chain.current, "west"))
    held = chain.current
    assert held.intended_action is IntendedAction.HOLD_FOR_REVIEW
    assert [line.action for line in held.lines] == [LineAction.HOLD]
    assert held.explanation.summary == (
        "warehouse west rejected line(s) 1 (out_of_stock): re-route 2 of 2 found no other warehouse; line(s) 1 held for a person"
    )
    assert held.owning_party == "agency:fulfillment-team"
    path = held.exception_path
    assert (path.on, path.kind, path.retry_budget) == ("rejected", ExceptionKind.AUTO_ESCALATE, 0)
    assert [step.contact for step in path.ladder] == ["ops@agency.example", "lead@agency.example"]


def test_the_retry_budget_bounds_automatic_reroutes():
    chain = Chain(order(("A", 1)), rejecting_policy(budget=1), stock(A={"east": 5, "west": 5, "central": 5}))
    chain.receive(answer(chain.current, "east"))
    assert shipped(chain.current) == {"1": "west"}
    chain.receive(answer(chain.current, "west"))
    assert chain.current.intended_action is IntendedAction.HOLD_FOR_REVIEW  # central had stock; the budget was spent
    assert "retry budget of 1 re-route(s) spent" in chain.current.explanation.summary


def test_a_reason_the_policy_sends_to_a_person_is_never_rerouted():
    chain = Chain(order(("A", 1)), rejecting_policy(), stock(A={"east": 5, "west": 5}))
    chain.receive(answer(chain.current, "east", reason="incorrect_address"))
    held = chain.current
    assert held.intended_action is IntendedAction.HOLD_FOR_REVIEW
    assert held.exception_path.on == "rejected:incorrect_address"
    assert held.explanation.summary.startswith("warehouse east rejected line(s) 1 (incorrect_address): policy 'rejected:incorrect_address' says hold_for_review")


def test_a_line_never_goes_back_to_a_warehouse_that_rejected_it():
    chain = Chain(order(("A", 1), ("B", 1)), rejecting_policy(budget=3),
                  stock(A={"east": 5, "west": 5, "central": 5}, B={"east": 5, "west": 5, "central": 5}))
    chain.receive(answer(chain.current, "east", lines=["1"]))
    assert shipped(chain.current) == {"1": "west", "2": "east"}
    chain.receive(answer(chain.current, "west"))
    assert shipped(chain.current) == {"1": "central", "2": "east"}


def test_a_rerouted_decision_replays_exactly():
    chain = Chain(order(("A", 1), ("B", 2)), rejecting_policy(), stock(A={"east": 5, "west": 5}, B={"east": 5, "west": 5}))
    chain.receive(answer(chain.current, "east", lines=["2"]))
    chain.receive(answer(chain.current, "west"))
    for index in range(1, len(chain.exports)):
        stored, previous = chain.exports[index], chain.exports[index - 1]
        assert redecide(stored, chain.inputs[index], chain.policy, previous) == stored


# --- the hash chain -----------------------------------------------------------------------


def lived_chain():
    chain = Chain(order(("A", 1)), rejecting_policy(), stock(A={"east": 5, "west": 5}))
    chain.receive(answer(chain.current, "east", AckKind.RECEIVED))
    chain.receive(answer(chain.current, "east"))
    chain.receive(answer(chain.current, "west", AckKind.ACCEPTED))
    chain.receive(answer(chain.current, "west", AckKind.SHIPPED))
    return chain.documents()


def test_a_chain_of_versions_and_answers_verifies():
    exports, answers = lived_chain()
    assert (len(exports), len(answers)) == (2, 4)
    report = verify_chain(exports, answers)
    assert report.verified, report.problems


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (lambda e, a: a[0]["request"].update(kind="accepted"), "acknowledgement 1: content_hash does not match"),
        (lambda e, a: a.pop(0), "names 2 acknowledgement(s)"),
        (lambda e, a: a.pop(1), "names 2 acknowledgement(s)"),
        (lambda e, a: e[1].update(acknowledged=None), "content_hash does not match its content"),
        (lambda e, a: a[2].update(previous_hash=a[0]["content_hash"]), "does not follow the entry before it"),
        (lambda e, a: e[0]["lines"][0].update(warehouse_id="west"), "content_hash does not match its content"),
    ],
    ids=["altered-answer", "dropped-first-answer", "dropped-rejection", "unlinked-version", "relinked-answer", "altered-export"],
)
def test_tampering_with_any_entry_is_detected(tamper, expected):
    exports, answers = lived_chain()
    tamper(exports, answers)
    report = verify_chain(exports, answers)
    assert not report.verified
    assert any(expected in problem for problem in report.problems), report.problems


def test_without_a_rejection_rule_the_dispatch_path_applies_and_shows_what_is_left():
    paths = [{"on": "default"}, {"on": "dispatch", "retry_budget": 2, "fallback": "reroute", "ladder": LADDER}]
    chain = Chain(order(("A", 1)), policy(EAST, WEST, CENTRAL, exception_paths=paths),
                  stock(A={"east": 5, "west": 5, "central": 5}))
    assert (chain.current.exception_path.on, chain.current.exception_path.retry_budget) == ("dispatch", 2)
    chain.receive(answer(chain.current, "east"))
    assert shipped(chain.current) == {"1": "west"} and chain.current.exception_path.retry_budget == 1
    chain.receive(answer(chain.current, "west"))
    assert shipped(chain.current) == {"1": "central"} and chain.current.exception_path.retry_budget == 0
    chain.receive(answer(chain.current, "central"))
    assert chain.current.intended_action is IntendedAction.HOLD_FOR_REVIEW
    assert chain.current.exception_path.on == "dispatch"
