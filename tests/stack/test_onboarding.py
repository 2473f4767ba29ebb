"""Onboarding through the operators' API (SigV4 only): a merchant with its queues, secrets
and first policy, then credentials issued, rotated and revoked; the merchant's first
webhook, signed with the onboarded secret, becomes an export on its own warehouse queue."""

import json
from datetime import timedelta

from meshline.dal.aws import client
from meshline_local.samples import DEMO_SECRET, sigv4_headers
from meshline_local.seed import OTHER_TENANT_POLICY, bearer
from tests.payloads import routable_body, shopify_headers

SECRET = "initech-webhook-secret-0001"


def admin(stack, method, path, body=None):
    payload = json.dumps(body).encode() if body is not None else b""
    status, _, answer = stack.runtime.handle_http(method, f"/local{path}", sigv4_headers(method, f"/local{path}", payload), payload)
    return status, json.loads(answer or b"{}")


def onboarding_request(tenant_id="initech"):
    policy = OTHER_TENANT_POLICY.draft().model_dump(mode="json")
    return {"tenant_id": tenant_id, "policy": policy, "platform_secrets": {"shopify": SECRET}}


def test_a_merchant_is_onboarded_and_its_first_webhook_becomes_an_export(stack):
    status, onboarded = admin(stack, "POST", "/tenants", onboarding_request())
    assert status == 201, onboarded
    assert onboarded["policy_version"] == 1 and onboarded["platforms"] == ["shopify"]
    assert onboarded["warehouse_queues"] == ["meshline-local-wh-initech-east.fifo", "meshline-local-wh-initech-west.fifo"]
    parameter = client("ssm").get_parameter(Name="/meshline/local/tenants/initech/shopify-webhook-secret", WithDecryption=True)
    assert parameter["Parameter"]["Type"] == "SecureString" and parameter["Parameter"]["Value"] == SECRET
    assert SECRET not in "".join(path.read_text() for path in (stack.state_dir / "logs").glob("*"))

    status, again = admin(stack, "POST", "/tenants", onboarding_request())
    assert (status, again["message"]) == (409, "tenant 'initech' is already onboarded: change it with a new policy version")

    body = routable_body(8101, "2026-11-25T09:30:00-05:00", [("TEE-BLK-M", 1)])
    status, _, _ = stack.runtime.handle_http("POST", "/local/webhooks/shopify/initech",
                                             shopify_headers(body, event_id="evt-8101", secret=SECRET), body)
    assert status == 202
    stack.runtime.settle()
    [export] = stack.exports.history("initech", "shopify-8101")
    assert export["tenant_id"] == "initech" and export["decision_version"]["policy_version"] == 1


def test_credentials_are_issued_rotated_and_revoked_by_administrators_only(stack):
    assert admin(stack, "POST", "/tenants", onboarding_request())[0] == 201
    status, issued = admin(stack, "POST", "/credentials", {"role": "operator", "party": "agency:erin", "tenants": ["initech"]})
    assert status == 201 and issued["token"].startswith(f"mlk_{issued['credential_id']}.")
    erin = issued["token"]

    def policy_of(tenant, token):
        status, _, _ = stack.runtime.handle_http("GET", f"/local/tenants/{tenant}/policy", bearer(token), b"")
        return status

    assert policy_of("initech", erin) == 200
    assert policy_of("acme", erin) == 404  # a credential reaches its own tenants only

    status, refused = admin(stack, "POST", "/credentials", {"role": "warehouse", "party": "3pl:north", "tenants": ["initech"],
                                                             "warehouse_id": "north"})
    assert (status, refused["message"]) == (400, "tenant 'initech' has no warehouse 'north'")
    status, refused = admin(stack, "POST", "/credentials", {"role": "warehouse", "party": "3pl:east", "tenants": ["initech"]})
    assert (status, refused["message"]) == (422, "body: Value error, warehouse_id is required for a warehouse credential")
    assert admin(stack, "POST", "/credentials", {"role": "operator", "party": "agency:erin", "tenants": ["nobody"]})[0] == 404

    status, rotated = admin(stack, "POST", f"/credentials/{issued['credential_id']}/rotation")
    assert status == 201 and rotated["token"] != erin and rotated["previous_secret_retires_at"]
    assert policy_of("initech", erin) == 200 and policy_of("initech", rotated["token"]) == 200  # the overlap

    status, revoked = admin(stack, "DELETE", f"/credentials/{issued['credential_id']}")
    assert status == 200 and revoked["credential_id"] == issued["credential_id"]
    stack.runtime.forget_authorizations()
    assert policy_of("initech", rotated["token"]) == 401 and policy_of("initech", erin) == 401
    assert admin(stack, "DELETE", "/credentials/0000000000000000")[0] == 404


def test_onboarding_refuses_unsigned_calls_and_bearer_credentials(stack):
    payload = json.dumps(onboarding_request("hooli")).encode()
    for headers in ({"Content-Type": "application/json"}, bearer(stack.tokens["agency:alice"])):
        status, _, answer = stack.runtime.handle_http("POST", "/local/tenants", headers, payload)
        assert (status, json.loads(answer)) == (403, {"message": "Missing Authentication Token"})
    assert stack.tenants.active_policy("hooli") is None


def test_a_webhook_secret_rotation_keeps_the_old_secret_through_its_overlap_only(stack):
    from meshline_local.freezing import freeze_time

    from meshline.clock import utc_now

    def deliver(number, secret):
        body = routable_body(number, "2026-11-25T09:30:00-05:00", [("TEE-BLK-M", 1)])
        status, _, answer = stack.runtime.handle_http("POST", "/local/webhooks/shopify/acme",
                                                      shopify_headers(body, event_id=f"evt-{number}", secret=secret), body)
        return status, json.loads(answer)

    old = DEMO_SECRET  # the demo tenant's
    assert deliver(8201, old)[0] == 202
    status, rotated = admin(stack, "POST", "/tenants/acme/webhook-secrets/shopify/rotation",
                            {"secret": "acme-shopify-secret-2027", "overlap_hours": 2})
    assert status == 201 and rotated["platform"] == "shopify"
    with freeze_time(utc_now() + timedelta(minutes=6)):  # past the secrets' 5-minute cache
        assert deliver(8202, old)[0] == 202  # Shopify may still sign with the old one
        assert deliver(8203, "acme-shopify-secret-2027")[0] == 202
    with freeze_time(utc_now() + timedelta(hours=2, minutes=6)):
        assert deliver(8204, old)[0] == 401  # the overlap is over
        assert deliver(8205, "acme-shopify-secret-2027")[0] == 202
    assert admin(stack, "POST", "/tenants/nobody/webhook-secrets/shopify/rotation", {"secret": "x" * 20})[0] == 404
