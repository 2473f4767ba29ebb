"""Policy administration through the operators' API on the local stack: versions, refusals,
the dry run over 200 real-shaped orders, and replay."""

import gzip
import time

from meshline_local.samples import sample_orders, shopify_headers
from meshline_local.seed import DEMO_POLICY


def call(stack, method, path, body=None):
    return stack.call(method, path, body)


def draft(policy=DEMO_POLICY, **changes):
    document = policy.draft().model_dump(mode="json")
    document.update(changes)
    return document


def test_a_new_policy_version_is_validated_stored_and_becomes_active(stack):
    status, active = call(stack, "GET", "/tenants/acme/policy")
    assert (status, active["version"]) == (200, 1)

    status, created = call(stack, "PUT", "/tenants/acme/policy", {"expected_version": 1, "policy": draft(name="v2")})
    assert status == 201, created
    assert created["version"] == 2 and len(created["policy_hash"]) == 64
    assert call(stack, "GET", "/tenants/acme/policy")[1]["name"] == "v2"
    status, versions = call(stack, "GET", "/tenants/acme/policy/versions")
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[1]["created_by"] == "agency:alice"  # the operator whose credential put it
    status, first = call(stack, "GET", "/tenants/acme/policy/versions/1")
    assert (status, first["name"]) == (200, DEMO_POLICY.name)  # versions are immutable


def test_a_stale_expected_version_is_refused_with_409_and_changes_nothing(stack):
    assert call(stack, "PUT", "/tenants/acme/policy", {"expected_version": 1, "policy": draft(name="first")})[0] == 201
    status, answer = call(stack, "PUT", "/tenants/acme/policy", {"expected_version": 1, "policy": draft(name="second")})
    assert status == 409
    assert answer["message"] == (
        "tenant 'acme': expected active policy version 1, but the active version is 2; read it and submit again"
    )
    assert call(stack, "GET", "/tenants/acme/policy")[1]["name"] == "first"


def test_a_bad_policy_is_refused_with_422_naming_the_field(stack):
    bad = draft()
    bad["warehouses"][1]["time_zone"] = "America/Atlantis"
    status, answer = call(stack, "PUT", "/tenants/acme/policy", {"expected_version": 1, "policy": bad})
    assert status == 422
    [problem] = answer["detail"]
    assert problem["loc"] == ["body", "policy", "warehouses", 1, "time_zone"]
    assert "unknown IANA time zone 'America/Atlantis'" in problem["msg"]
    assert answer["message"] == "policy.warehouses.1.time_zone: Value error, unknown IANA time zone 'America/Atlantis'"
    assert [v["version"] for v in call(stack, "GET", "/tenants/acme/policy/versions")[1]] == [1]


def test_unknown_tenants_and_versions_answer_404(stack):
    assert call(stack, "GET", "/tenants/globex/policy")[0] == 404
    assert call(stack, "GET", "/tenants/acme/policy/versions/9")[1]["message"] == "tenant 'acme' has no policy version 9"
    assert call(stack, "POST", "/tenants/globex/policy/dry-run", {"policy": draft()})[0] == 404


def test_the_dry_run_over_200_orders_lists_exactly_the_orders_whose_decision_changes(stack):
    started = time.perf_counter()
    for body in sample_orders(200):
        status, _ = stack.post_webhook(body, shopify_headers(body))
        assert status == 202
    stack.runtime.settle(timeout=240)
    ingested = time.perf_counter() - started

    current = {}
    for stored in stack.exports.every_stored():
        doc = stored.document
        if doc["version"] >= current.get(doc["order_id"], {}).get("version", 0):
            current[doc["order_id"]] = doc
    assert len(current) == 200
    uses_west = {order_id for order_id, doc in current.items() if any(s["warehouse_id"] == "west" for s in doc["shipments"])}
    assert 0 < len(uses_west) < 200  # the sample exercises both outcomes

    without_west = draft(warehouses=[w for w in draft()["warehouses"] if w["warehouse_id"] != "west"])
    started = time.perf_counter()
    status, report = call(stack, "POST", "/tenants/acme/policy/dry-run", {"policy": without_west, "last": 200})
    elapsed = time.perf_counter() - started
    assert status == 200, report
    assert (report["active_version"], report["draft_version"], report["orders_evaluated"]) == (1, 2, 200)
    assert {change["order_id"] for change in report["changed"]} == uses_west
    assert set(report["unchanged"]) == set(current) - uses_west
    example = report["changed"][0]
    assert any(c["path"].endswith("warehouse_id") and c["stored"] == "west" for c in example["changes"])
    print(f"\n200 orders through the local stack in {ingested:.1f} s; dry run over them in {elapsed:.2f} s; "
          f"{len(uses_west)} change")
    # A dry run stores nothing.
    assert [v["version"] for v in call(stack, "GET", "/tenants/acme/policy/versions")[1]] == [1]


def test_an_export_replays_through_the_api_and_a_tampered_input_is_reported_field_by_field(stack):
    body = sample_orders(1)[0]
    stack.post_webhook(body, shopify_headers(body))
    stack.runtime.settle()
    [stored] = list(stack.exports.every_stored())
    order_id = stored.document["order_id"]
    status, result = call(stack, "GET", f"/tenants/acme/orders/{order_id}/replay?version=1")
    assert (status, result["reproduced"], result["differences"]) == (200, True, [])

    # Someone edits the recorded stock behind Meshline's back: replay notices, and says where.
    from meshline.dal.aws import client

    levels = stored.inputs.stock.levels
    sku = next(iter(levels))
    tampered = stored.inputs.model_copy(update={"stock": stored.inputs.stock.model_copy(
        update={"levels": {**levels, sku: {wh: 0 for wh in levels[sku]}}})})
    client("dynamodb").update_item(
        TableName=stack.exports.table,
        Key={"pk": {"S": f"ORDER#acme#{order_id}"}, "sk": {"S": "V#0000000001"}},
        UpdateExpression="SET inputs_gz = :inputs",  # stored gzipped (meshline.dal.exports)
        ExpressionAttributeValues={":inputs": {"B": gzip.compress(tampered.model_dump_json().encode())}},
    )
    status, result = call(stack, "GET", f"/tenants/acme/orders/{order_id}/replay")
    assert (status, result["reproduced"]) == (200, False)
    paths = [difference["path"] for difference in result["differences"]]
    assert "decision_version.inputs_hash" in paths and "content_hash" in paths
    # Put it back, so that the suite-wide replay after this test still holds.
    client("dynamodb").update_item(
        TableName=stack.exports.table,
        Key={"pk": {"S": f"ORDER#acme#{order_id}"}, "sk": {"S": "V#0000000001"}},
        UpdateExpression="SET inputs_gz = :inputs",
        ExpressionAttributeValues={":inputs": {"B": gzip.compress(stored.inputs.model_dump_json().encode())}},
    )
