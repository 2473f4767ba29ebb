"""Rolling a candidate policy version out to a percentage of a tenant's orders, on the local
stack: a candidate is stored without being activated, the `policy_canary` flag (a new
hosted configuration version, as `python3 dev.py flags canary` writes it) gives it the
orders whose bucket is under the percentage, every export names the version it was decided
under and replays exactly, and at 0% every new order is the active version's again."""

import time

import pytest

from meshline.dal.tenants import FirstPolicyNotActivated
from meshline.domain.rollout import order_bucket
from meshline.flows.replay import Replayer
from meshline_local.flags import candidate_problem, newest_version, set_policy_canary
from meshline_local.samples import sample_orders, shopify_headers
from meshline_local.seed import DEMO_POLICY
from tests.stack.conftest import FEATURE_FLAGS_MAX_AGE_SECONDS
from tests.stack.test_acknowledgements import answer, latest, place, post, warehouse_of

CANARY_DESK = "agency:canary-desk"


def candidate_draft(name="v2: the canary desk watches every order"):
    """The demo policy with one visible difference: every export it decides names the canary desk."""
    document = DEMO_POLICY.draft().model_dump(mode="json")
    document.update(name=name, watchers=[*document["watchers"], CANARY_DESK])
    return document


def set_canary(stack, version, percent):
    env = stack.env["DecideFunction"]
    set_policy_canary(env["FEATURE_FLAGS_APPLICATION"], env["FEATURE_FLAGS_PROFILE"], "acme", version, percent)
    time.sleep(float(FEATURE_FLAGS_MAX_AGE_SECONDS) + 0.2)  # every function has read the flags again


def post_sample_orders(stack, count, first_id):
    """`count` varied orders, shopify-<first_id>..., decided; their first exports by order id."""
    for body in sample_orders(count, first_id=first_id):
        assert stack.post_webhook(body, shopify_headers(body))[0] == 202
    stack.runtime.settle(timeout=180)
    wanted = {f"shopify-{number}" for number in range(first_id, first_id + count)}
    return {doc["order_id"]: doc for doc in stack.all_exports() if doc["version"] == 1 and doc["order_id"] in wanted}


def stage_candidate(stack):
    status, created = stack.call("PUT", "/tenants/acme/policy", {"expected_version": 1, "activate": False,
                                                                 "policy": candidate_draft()})
    assert (status, created["version"], created["active"]) == (201, 2, False), created
    return created


def test_a_candidate_decides_the_orders_in_its_percentage_replays_exactly_and_0_percent_ends_it(stack):
    created = stage_candidate(stack)
    assert stack.call("GET", "/tenants/acme/policy")[1]["version"] == 1  # stored, not active

    set_canary(stack, 2, 50)
    decided = post_sample_orders(stack, 40, first_id=5001)
    assert len(decided) == 40
    used = {order_id: doc["decision_version"]["policy_version"] for order_id, doc in decided.items()}
    replayer = Replayer(stack.exports, stack.tenants)
    assert used == {order_id: 2 if order_bucket("acme", order_id) < 50 else 1 for order_id in used}
    assert 12 <= list(used.values()).count(2) <= 28, used  # about half
    for order_id, doc in decided.items():
        under_candidate = used[order_id] == 2
        assert (CANARY_DESK in doc["watchers"]) is under_candidate
        if under_candidate:
            assert doc["decision_version"]["policy_hash"] == created["policy_hash"]
        replayed = replayer.replay_version("acme", order_id, 1)  # under the version it names
        assert replayed.reproduced, replayed

    # A re-decision while the rollout stands: the order's bucket has not moved, nor its side.
    number = next(n for n in range(8000, 9000) if order_bucket("acme", f"shopify-{n}") < 50)
    order_id = place(stack, number, [("TEE-BLK-M", 1)])
    first = latest(stack, order_id)
    assert first["decision_version"]["policy_version"] == 2
    assert post(stack, answer(first, warehouse_of(first), "rejected", "rej-1", reason_code="out_of_stock"))[0] == 200
    rerouted = latest(stack, order_id)
    assert (rerouted["version"], rerouted["decision_version"]["policy_version"]) == (2, 2)

    set_canary(stack, 2, 0)
    later = post_sample_orders(stack, 10, first_id=6001)
    assert len(later) == 10
    assert {doc["decision_version"]["policy_version"] for doc in later.values()} == {1}
    assert not any(CANARY_DESK in doc["watchers"] for doc in later.values())
    # ...and the canary order, decided again after the rollback, under the active version.
    assert post(stack, answer(rerouted, warehouse_of(rerouted), "rejected", "rej-2", reason_code="out_of_stock"))[0] == 200
    assert latest(stack, order_id)["decision_version"]["policy_version"] == 1


def test_a_candidate_left_behind_after_a_later_activation_is_ignored(stack):
    stage_candidate(stack)
    assert candidate_problem(stack.tenants.table, "acme", 2) is None  # what `dev.py flags canary` warns about
    assert candidate_problem(stack.tenants.table, "acme", 7) == (
        "'acme' has no policy version 7 (yet): its orders keep the active version 1")
    set_canary(stack, 2, 100)
    status, created = stack.call("PUT", "/tenants/acme/policy", {"expected_version": 1, "policy": candidate_draft("v3")})
    assert (status, created["version"], created["active"]) == (201, 3, True)  # numbers follow the highest stored
    assert candidate_problem(stack.tenants.table, "acme", 2) == (
        "version 2 is not newer than the active version 3: the canary is ignored")
    order_id = place(stack, 8101, [("TEE-BLK-M", 1)])
    assert latest(stack, order_id)["decision_version"]["policy_version"] == 3  # not the flag's older v2


def test_a_stored_candidate_is_promoted_by_activation_and_a_stale_or_unknown_one_is_refused(stack):
    stage_candidate(stack)
    assert [v["version"] for v in stack.call("GET", "/tenants/acme/policy/versions")[1]] == [1, 2]
    status, answer_ = stack.call("POST", "/tenants/acme/policy/versions/2/activation", {"expected_version": 2})
    assert (status, answer_["message"]) == (409, "tenant 'acme': expected active policy version 2, but the active "
                                                 "version is 1; read it and submit again")
    assert stack.call("POST", "/tenants/acme/policy/versions/9/activation", {"expected_version": 1})[0] == 404
    status, active = stack.call("POST", "/tenants/acme/policy/versions/2/activation", {"expected_version": 1})
    assert (status, active["version"], active["name"]) == (200, 2, candidate_draft()["name"])
    assert stack.call("GET", "/tenants/acme/policy")[1]["version"] == 2
    # Back to version 1: activation takes any stored version.
    assert stack.call("POST", "/tenants/acme/policy/versions/1/activation", {"expected_version": 2})[0] == 200
    order_id = place(stack, 8201, [("TEE-BLK-M", 1)])
    assert latest(stack, order_id)["decision_version"]["policy_version"] == 1


def test_a_stale_candidate_is_refused_and_a_first_policy_cannot_be_a_candidate(stack):
    assert stack.call("PUT", "/tenants/acme/policy", {"expected_version": 1, "policy": candidate_draft("v2")})[0] == 201
    status, answer_ = stack.call("PUT", "/tenants/acme/policy", {"expected_version": 1, "activate": False,
                                                                 "policy": candidate_draft()})
    assert status == 409, answer_
    assert [v["version"] for v in stack.call("GET", "/tenants/acme/policy/versions")[1]] == [1, 2]
    with pytest.raises(FirstPolicyNotActivated):
        stack.tenants.put_policy("newco", DEMO_POLICY.draft(), expected_version=None, actor="test", activate=False)


def test_the_template_flags_are_live_until_an_operator_writes_new_ones_and_a_bad_document_is_refused(stack):
    env = stack.env["DecideFunction"]
    application, profile = env["FEATURE_FLAGS_APPLICATION"], env["FEATURE_FLAGS_PROFILE"]
    assert newest_version(application, profile) == (1, {"policy_canary": {"boolean_type": False, "default": 0}})
    with pytest.raises(ValueError, match="percent must be 0-100"):
        set_policy_canary(application, profile, "acme", 2, 150)
    from meshline_local.flags import InvalidFlags, create_version

    with pytest.raises(InvalidFlags, match="policy_canary.default"):
        create_version(application, profile, '{"policy_canary": {"boolean_type": false, "default": 2}}', "bad")
    assert newest_version(application, profile)[0] == 1
