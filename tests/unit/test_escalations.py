"""What an export escalates with, and how a breach is sealed into the chain."""

from datetime import timedelta

from meshline.domain.audit import verify_chain
from meshline.domain.escalations import EscalationOutcome, breach_trigger, escalation_for, execution_name, record_breach
from meshline.domain.exports import ExceptionKind, TriggerKind

from .domain_builders import order, stock
from .test_rejections import Chain, answer, rejecting_policy


def held_chain():
    chain = Chain(order(("A", 1)), rejecting_policy(), stock(A={"east": 5, "west": 5}))
    chain.receive(answer(chain.current, "east"))
    chain.receive(answer(chain.current, "west"))
    return chain


def test_only_held_exports_with_a_ladder_escalate_and_minutes_scale():
    chain = held_chain()
    assert escalation_for(chain.exports[0]) is None  # routed, not held
    start = escalation_for(chain.current, seconds_per_minute=0.02)
    assert (start.escalation_id, start.reason, start.owner, start.rung) == (chain.current.export_id, "rejected", "agency:fulfillment-team", 0)
    assert [(rung.contact, rung.timeout_seconds) for rung in start.ladder] == [("ops@agency.example", 1), ("lead@agency.example", 2)]
    assert [rung.timeout_seconds for rung in escalation_for(chain.current).ladder] == [1800, 3600]


def test_execution_names_are_valid_and_unique_per_export():
    assert execution_name("acme:shopify-1001:v3") == "acme-shopify-1001-v3"
    long_a, long_b = "t:" + "x" * 90 + ":v1", "t:" + "x" * 90 + ":v2"
    assert len(execution_name(long_a)) == 80 and execution_name(long_a) != execution_name(long_b)


def test_a_breach_is_a_new_version_in_the_human_queue_that_chains_and_is_deterministic():
    chain = held_chain()
    held = chain.current
    outcome = EscalationOutcome(outcome="breached", escalation_id=held.export_id, tenant_id="acme",
                                order_id=held.order_id, export_version=held.version, rung=1)
    now = held.created_at + timedelta(hours=2)
    breach = record_breach(held, breach_trigger(outcome, now), now, None)
    assert breach == record_breach(held, breach_trigger(outcome, now), now, None)
    assert (breach.version, breach.trigger.kind, breach.exception_path.kind) == (held.version + 1, TriggerKind.ESCALATION_BREACHED, ExceptionKind.HUMAN_QUEUE)
    assert breach.lines == held.lines and breach.owning_party == held.owning_party
    assert breach.audit_trail[-1].change.startswith(f"v{breach.version} (escalation_breached): escalation breached")
    assert escalation_for(breach) is None  # a breach does not escalate again
    exports, answers = chain.documents()
    report = verify_chain([*exports, breach.model_dump(mode="json")], answers)
    assert report.verified, report.problems
