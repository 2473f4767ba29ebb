"""The operators' API on the local stack: credentials and roles, rate limits, the read API,
and the cross-tenant and cross-warehouse probe suite over every route of the OpenAPI."""

import json
from datetime import timedelta
from pathlib import Path

import pytest

from meshline.clock import utc_now
from meshline.dal.credentials import CredentialStore
from meshline.dal.escalations import EscalationStore
from meshline.dal.signatures import sign
from meshline.domain.exports import LineChange
from meshline.domain.overrides import signed_payload
from meshline_local.seed import OTHER_TENANT_OPERATORS, OTHER_TENANT_POLICY, bearer, seed_credentials, seed_tenant
from tests.stack.test_acknowledgements import answer, latest, other, place, post, warehouse_of
from tests.stack.test_escalation import reject_everywhere

JUSTIFICATION = "Probing whether another tenant's order can be reached."
OPENAPI = Path(__file__).resolve().parents[2] / "schemas" / "openapi" / "operators-api.openapi.json"


def credentials(stack) -> CredentialStore:
    onboarding = stack.env["OnboardTenantsFunction"]
    return CredentialStore(onboarding["TENANTS_TABLE"], onboarding["USAGE_PLAN_NAME"])


def raw_call(stack, method, path, headers, body=b""):
    status, _, answer_ = stack.runtime.handle_http(method, f"/local{path}", headers, body)
    return status, json.loads(answer_ or b"{}")


def test_calls_without_a_valid_credential_are_refused_before_any_handler_runs(stack):
    invocations = len(stack.runtime.invoker.invocations)
    assert raw_call(stack, "GET", "/tenants/acme/policy", {}) == (401, {"message": "Unauthorized"})
    assert raw_call(stack, "GET", "/tenants/acme/policy", {"Authorization": "Basic YWxpY2U6cHc="})[0] == 401
    alice = stack.tokens["agency:alice"]
    forged = alice[: alice.index(".") + 1] + "not-the-secret"
    assert raw_call(stack, "GET", "/tenants/acme/policy", bearer(forged)) == (401, {"message": "Unauthorized"})
    assert raw_call(stack, "GET", "/tenants/acme/policy", bearer("mlk_0000000000000000.whatever")) == (401, {"message": "Unauthorized"})
    handlers = [name for name, _ in stack.runtime.invoker.invocations[invocations:]]
    assert set(handlers) == {"AuthorizeCallersFunction"}  # only the authorizer ran; and no token reached the logs
    logs = "".join(path.read_text() for path in (stack.state_dir / "logs").glob("*"))
    assert alice.split(".", 1)[1] not in logs and "not-the-secret" not in logs


def test_a_rotated_secret_keeps_working_through_the_overlap_then_stops(stack):
    store = credentials(stack)
    issued, old_token = store.issue({"role": "operator", "party": "agency:dave", "tenants": ["acme"]}, utc_now())
    credential_id = issued.caller.credential_id
    _, new_token = store.rotate(credential_id, utc_now(), overlap=timedelta(hours=1))
    for token in (old_token, new_token):
        assert raw_call(stack, "GET", "/tenants/acme/policy", bearer(token))[0] == 200

    # Rotated again, as if the overlap had been over an hour ago: only the newest verifies.
    _, newest = store.rotate(credential_id, utc_now() - timedelta(hours=2), overlap=timedelta(hours=1))
    stack.runtime.forget_authorizations()  # the authorizer's cached answers outlive their TTL
    assert raw_call(stack, "GET", "/tenants/acme/policy", bearer(newest))[0] == 200
    assert raw_call(stack, "GET", "/tenants/acme/policy", bearer(new_token))[0] == 401
    assert raw_call(stack, "GET", "/tenants/acme/policy", bearer(old_token))[0] == 401

    store.revoke(credential_id, utc_now())
    stack.runtime.forget_authorizations()
    assert raw_call(stack, "GET", "/tenants/acme/policy", bearer(newest))[0] == 401


def test_each_credential_has_its_own_rate_limit(stack):
    bob = bearer(stack.tokens["agency:bob"])
    answers = [raw_call(stack, "GET", "/tenants/acme/policy", bob) for _ in range(30)]
    statuses = [status for status, _ in answers]
    # The usage plan allows a burst of 20 and refills at 10 per second: a quick 30 cannot all pass.
    assert statuses.count(200) >= 20 and statuses.count(429) >= 1, statuses
    assert {json.dumps(body) for status, body in answers if status == 429} == {'{"message": "Too Many Requests"}'}
    assert stack.call("GET", "/tenants/acme/policy", as_="agency:alice")[0] == 200  # alice's own bucket is untouched


def test_roles_are_enforced_on_every_kind_of_action(stack):
    # Any credential may ask who it is (the console does), and learns nothing it was not issued with.
    assert stack.call("GET", "/caller") == (200, {"role": "operator", "party": "agency:alice", "tenants": ["acme"],
                                                  "warehouse_id": None})
    assert stack.call("GET", "/caller", as_="east") == (200, {"role": "warehouse", "party": "3pl:east-logistics",
                                                              "tenants": ["acme"], "warehouse_id": "east"})
    assert raw_call(stack, "GET", "/caller", {}) == (401, {"message": "Unauthorized"})
    order_id = place(stack, 7101, [("TEE-BLK-M", 1)])
    first = latest(stack, order_id)
    holder = warehouse_of(first)
    status, refused = stack.call("GET", "/tenants/acme/policy", as_=holder)
    assert (status, refused["message"]) == (403, "a warehouse credential cannot administer policies; it takes an operator credential")
    assert stack.call("GET", f"/tenants/acme/orders/{order_id}/history", as_=holder)[0] == 403
    assert stack.call("GET", "/tenants/acme/exceptions", as_=holder)[0] == 403
    status, refused = stack.call("POST", "/acknowledgements", answer(first, holder, "accepted", "by-op"), as_="agency:alice")
    assert (status, refused["error"]) == (403, "forbidden")
    # A warehouse answers as itself only: posing as the other warehouse is "no such export".
    status, refused = stack.call("POST", "/acknowledgements", answer(first, holder, "accepted", "posing"), as_=other(holder))
    assert (status, refused) == (404, {"error": "not_found", "message": f"no export {first['export_id']}"})
    assert stack.exports.refused("acme", order_id) == []  # a probe leaves no trace in the order


def test_the_read_api_shows_an_order_history_with_its_verified_chain_and_the_exception_queue(stack):
    routed_id = place(stack, 7201, [("TEE-BLK-M", 1)])
    routed = latest(stack, routed_id)
    holder = warehouse_of(routed)
    assert post(stack, answer(routed, holder, "rejected", "rej-7201", reason_code="out_of_stock"))[0] == 200
    rerouted = latest(stack, routed_id)
    assert post(stack, answer(rerouted, other(holder), "accepted", "acc-7201"))[0] == 200

    held_id, held = reject_everywhere(stack, 7202)
    tasks = EscalationStore(stack.env["TrackEscalationsFunction"]["EXPORTS_TABLE"])
    stack.runtime.run_until(lambda: tasks.tasks("acme", held_id), timeout=20, what="the first escalation task")

    status, export = stack.call("GET", f"/exports/{rerouted['export_id']}")
    assert status == 200 and export == rerouted  # the stored document, as published
    assert stack.call("GET", f"/exports/{rerouted['export_id']}", as_=other(holder)) == (200, rerouted)
    assert stack.call("GET", f"/exports/{rerouted['export_id']}", as_=holder)[0] == 404  # re-routed away from it
    assert stack.call("GET", f"/exports/{routed['export_id']}", as_=holder) == (200, routed)

    status, history = stack.call("GET", f"/tenants/acme/orders/{routed_id}/history")
    assert status == 200
    assert [v["version"] for v in history["versions"]] == [1, 2]
    assert [(a["export_version"], a["sequence"], a["request"]["kind"]) for a in history["acknowledgements"]] == [
        (1, 1, "rejected"), (2, 1, "accepted")]
    assert history["chain"] == {"order_id": routed_id, "verified": True, "versions": 2, "answers": 2, "problems": []}
    assert stack.call("GET", f"/tenants/acme/orders/{routed_id}/verification")[1] == history["chain"]

    status, held_history = stack.call("GET", f"/tenants/acme/orders/{held_id}/history")
    [step] = held_history["escalations"]
    assert (step["export_version"], step["rung"], step["contact"]) == (held["version"], 0, "agency:fulfillment-team")
    assert "task_token" not in json.dumps(held_history)  # whoever holds a token could end the escalation

    status, queue = stack.call("GET", "/tenants/acme/exceptions?within_hours=48")
    assert status == 200
    deadlines = [entry["deadline"] for entry in queue["entries"]]
    assert deadlines == sorted(deadlines)
    by_order = {entry["order_id"]: entry for entry in queue["entries"]}
    assert by_order[held_id]["kind"] == "escalated" and by_order[held_id]["export_id"] == held["export_id"]
    assert by_order[held_id]["reason"].startswith("held for review")
    assert by_order[held_id]["warehouses"] == []  # a person holds every line
    assert by_order[routed_id]["kind"] == "awaiting_shipment"  # accepted, not yet shipped
    assert by_order[routed_id]["warehouses"] == [other(holder)]  # the one it was re-routed to

    first_page = stack.call("GET", "/tenants/acme/exceptions?within_hours=48&limit=1")[1]
    assert len(first_page["entries"]) == 1 and first_page["next_cursor"]
    second_page = stack.call("GET", f"/tenants/acme/exceptions?within_hours=48&limit=1&cursor={first_page['next_cursor']}")[1]
    assert second_page["entries"][0]["order_id"] != first_page["entries"][0]["order_id"]
    assert stack.call("GET", "/tenants/acme/exceptions?limit=1000")[0] == 422
    assert stack.call("GET", "/tenants/acme/exceptions?cursor=bm90LWEtY3Vyc29y")[0] == 400


# ---------------------------------------------------------------- the probe suite (OWASP API1)

@pytest.fixture
def two_tenants(stack):
    """acme with a routed, answered order, and globex (same warehouse ids, its own operator)."""
    seed_tenant(stack.runtime, OTHER_TENANT_POLICY, operators=OTHER_TENANT_OPERATORS)
    stack.tokens.update({f"globex:{who}": token
                         for who, token in seed_credentials(stack.runtime, OTHER_TENANT_POLICY, OTHER_TENANT_OPERATORS).items()})
    order_id = place(stack, 7301, [("TEE-BLK-M", 1)])
    export = latest(stack, order_id)
    assert post(stack, answer(export, warehouse_of(export), "accepted", "acc-7301"))[0] == 200
    return order_id, export


def probes(order_id, export, operator="agency:carol"):
    """A request for every operation of the operators' API, aimed at acme's objects, with a
    valid body: so a 404 comes from the scope check, not from validation."""
    policy = OTHER_TENANT_POLICY.draft().model_dump(mode="json")
    line = export["lines"][0]["line_id"]
    changes = [LineChange(line_id=line, action="ship", warehouse_id="west")]
    payload = signed_payload("acme", order_id, export["version"], "manual_reroute", JUSTIFICATION, changes)
    override = {"expected_version": export["version"], "reason_code": "manual_reroute", "justification": JUSTIFICATION,
                "changes": [c.model_dump(mode="json") for c in changes],
                "signed_by": sign("local", operator, payload).model_dump(mode="json")}
    warehouse = export["lines"][0]["warehouse_id"]
    ack = {"ack_id": "probe-1", "export_id": export["export_id"], "warehouse_id": warehouse, "kind": "shipped", "tracking_number": "1Z999AA10123456784",
           "at": export["created_at"]}
    return {
        ("put", "/tenants/{tenant_id}/policy"): {"expected_version": 1, "policy": policy},
        ("get", "/tenants/{tenant_id}/policy"): None,
        ("get", "/tenants/{tenant_id}/policy/versions"): None,
        ("get", "/tenants/{tenant_id}/policy/versions/{version}"): None,
        ("post", "/tenants/{tenant_id}/policy/versions/{version}/activation"): {"expected_version": 1},
        ("post", "/tenants/{tenant_id}/policy/dry-run"): {"policy": policy, "last": 5},
        ("get", "/tenants/{tenant_id}/orders/{order_id}/replay"): None,
        ("post", "/tenants/{tenant_id}/orders/{order_id}/overrides"): override,
        ("post", "/acknowledgements"): ack,
        ("get", "/exports/{export_id}"): None,
        ("get", "/tenants/{tenant_id}/orders/{order_id}/history"): None,
        ("get", "/tenants/{tenant_id}/orders/{order_id}/verification"): None,
        ("get", "/tenants/{tenant_id}/exceptions"): None,
        ("get", "/caller"): None,  # names no object: it answers who the caller is (checked below)
        ("get", "/tenants/{tenant_id}/reports/sla"): None,
        ("get", "/tenants/{tenant_id}/reports/exceptions"): None,
        ("get", "/tenants/{tenant_id}/reports/acknowledgement-times"): None,
        ("get", "/tenants/{tenant_id}/reports/overrides"): None,
        ("get", "/tenants/{tenant_id}/reports/reconciliation"): None,
        # Onboarding is SigV4 only: a globex operator must not mint itself an acme credential.
        ("post", "/tenants"): {"tenant_id": "acme", "policy": policy, "platform_secrets": {"shopify": "taken-over"}},
        ("post", "/credentials"): {"role": "operator", "party": operator, "tenants": ["acme"]},
        ("post", "/tenants/{tenant_id}/webhook-secrets/{platform}/rotation"): {"secret": "taken-over-secret-0001"},
        ("post", "/credentials/{credential_id}/rotation"): None,
        ("delete", "/credentials/{credential_id}"): None,
    }


def operations():
    """(method, path) -> whether the route is behind SigV4 rather than credentials."""
    document = json.loads(OPENAPI.read_text())
    return {(method, path): operation.get("security") == [{"AwsSigV4": []}]
            for path, methods in document["paths"].items() for method, operation in methods.items()}


def concrete(path, order_id, export, credential_id="x"):
    return path.format(tenant_id="acme", order_id=order_id, export_id=export["export_id"], version=1,
                       credential_id=credential_id, platform="shopify")


def test_every_route_answers_another_tenants_operator_404_with_no_data(stack, two_tenants):
    order_id, export = two_tenants
    table = probes(order_id, export)
    signed_only = operations()
    assert sorted(table) == sorted(signed_only), "a route of the OpenAPI has no probe: add one"
    before = stack.exports.order_items("acme", order_id)
    acme_policy = stack.tenants.active_policy("acme")
    alice = stack.tokens["agency:alice"].removeprefix("mlk_").split(".")[0]
    for (method, path), body in table.items():
        as_ = "globex:east" if path == "/acknowledgements" else "globex:agency:carol"
        invocations = len(stack.runtime.invoker.invocations)
        status, answer_ = stack.call(method.upper(), concrete(path, order_id, export, alice), body, as_=as_)
        if signed_only[(method, path)]:
            assert (status, set(answer_)) == (403, {"message"}), (method, path, status, answer_)
            assert stack.runtime.invoker.invocations[invocations:] == [], "no handler may run for it"
            continue
        if path == "/caller":  # carol learns who she is, and of no tenant but her own
            assert (status, answer_) == (200, {"role": "operator", "party": "agency:carol", "tenants": ["globex"],
                                               "warehouse_id": None})
            continue
        assert status == 404, (method, path, status, answer_)
        assert set(answer_) == {"error", "message"} and answer_["error"] == "not_found", (method, path, answer_)
    assert stack.exports.order_items("acme", order_id) == before  # nothing written into acme's order
    assert stack.tenants.active_policy("acme") == acme_policy
    assert stack.call("GET", "/tenants/acme/policy", as_="agency:alice")[0] == 200  # alice was not rotated or revoked


def test_another_tenants_objects_answer_exactly_like_missing_ones(stack, two_tenants):
    order_id, export = two_tenants
    for path in (f"/tenants/acme/orders/{order_id}/history", f"/exports/{export['export_id']}"):
        invisible = stack.call("GET", path, as_="globex:agency:carol")
        missing = stack.call("GET", path.replace("acme", "globex"), as_="globex:agency:carol")
        assert invisible[0] == missing[0] == 404
        assert invisible[1]["message"].replace("acme", "globex") == missing[1]["message"]


def test_a_warehouse_cannot_read_or_answer_another_warehouses_export(stack, two_tenants):
    order_id, export = two_tenants
    holder = warehouse_of(export)
    stranger = other(holder)
    assert stack.call("GET", f"/exports/{export['export_id']}", as_=holder) == (200, export)
    assert stack.call("GET", f"/exports/{export['export_id']}", as_=stranger)[0] == 404
    answer_as_stranger = answer(export, stranger, "shipped", "probe-wh", tracking_number="1Z999AA10123456784")
    assert stack.call("POST", "/acknowledgements", answer_as_stranger, as_=stranger) == (
        404, {"error": "not_found", "message": f"no export {export['export_id']}"})
    assert stack.call("POST", "/acknowledgements", answer_as_stranger, as_=f"globex:{stranger}")[0] == 404
    assert len(stack.exports.acknowledgements("acme", order_id)) == 1


def test_an_oversized_body_is_refused_before_it_is_parsed(stack):
    huge = json.dumps({"expected_version": 1, "policy": {"name": "x" * 300_000}}).encode()
    status, refused = stack.call("PUT", "/tenants/acme/policy", raw=huge)
    assert (status, refused["error"]) == (413, "payload_too_large")
    assert refused["message"] == f"the body is {len(huge)} bytes; at most 262144 are accepted"
    assert [v.version for v in stack.tenants.policy_versions("acme")] == [1]
