"""Isolation in IAM as well as in the data layer: the read function's own role may read
nothing, nor may the report function's; each request's reads go with a session of
TenantReadRole tagged with the one tenant asked for, and that role's policy names only
that tenant's keys.

moto accepts any credentials, so what runs here is Meshline's half of the contract: every
DynamoDB and S3 request the read and report functions send is signed with a tenant session's key,
that session is tagged with the tenant whose keys the request names, and a caller who may
not see a tenant never gets a session for it. The policy's half is checked on the
template: the role's conditions are built from the session tag, the function's own
role holds no read permission at all.
"""

import json

import pytest
from botocore.client import BaseClient

from tests import template
from tests.stack.test_operators_api import two_tenants  # noqa: F401 - the fixture

READING_FUNCTIONS = {"meshline-local-read-orders", "meshline-local-report-fulfillment"}


@pytest.fixture
def signed_requests(monkeypatch):
    """Every AWS request made in this process: (function, access key, operation, params),
    and the sessions STS handed out: access key -> (role, tenant tag)."""
    import os

    requests, sessions = [], {}
    make_api_call = BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        answer = make_api_call(self, operation_name, api_params)
        key = self._request_signer._credentials.access_key
        requests.append((os.environ.get("AWS_LAMBDA_FUNCTION_NAME"), self.meta.service_model.service_name, key,
                         operation_name, api_params))
        if operation_name == "AssumeRole":
            tags = {tag["Key"]: tag["Value"] for tag in api_params.get("Tags", [])}
            sessions[answer["Credentials"]["AccessKeyId"]] = (api_params["RoleArn"], tags.get("tenant"))
        return answer

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return requests, sessions


def tenant_named_by(service, operation, params):
    if service == "s3":
        return params["Key"].split("/")[2]  # payloads/exports/<tenant>/<sha256>.json
    if "Key" in params:
        return params["Key"]["pk"]["S"].split("#")[1]
    values = params["ExpressionAttributeValues"]
    if params.get("IndexName") in {"TenantAttention", "TenantOrders"}:
        return values[":tenant"]["S"]
    return values[":pk"]["S"].split("#")[1]


def test_every_read_goes_with_a_session_tagged_with_the_tenant_it_reads(stack, two_tenants, signed_requests):
    order_id, export = two_tenants
    requests, sessions = signed_requests
    reads = [f"/exports/{export['export_id']}", f"/tenants/acme/orders/{order_id}/history",
             f"/tenants/acme/orders/{order_id}/verification", "/tenants/acme/exceptions",
             *(f"/tenants/acme/reports/{kind}?from=2026-11-20&to=2026-11-30" for kind in
               ("sla", "exceptions", "acknowledgement-times", "overrides", "reconciliation"))]
    for path in reads:
        assert stack.call("GET", path, as_="agency:alice")[0] == 200, path
    assert stack.call("GET", f"/exports/{export['export_id']}", as_=export["lines"][0]["warehouse_id"])[0] == 200
    for path in reads:  # globex's operator: 404, and not one request made for acme
        assert stack.call("GET", path, as_="globex:agency:carol")[0] == 404, path

    made = [(service, key, operation, params) for function, service, key, operation, params in requests
            if function in READING_FUNCTIONS]
    data_reads = [(service, key, operation, params) for service, key, operation, params in made if service != "sts"]
    assert {operation for _, _, operation, _ in data_reads} >= {"GetItem", "Query"}
    for service, key, operation, params in data_reads:
        assert key in sessions, f"{operation} was sent with the function's own credentials"
        role, tagged = sessions[key]
        assert role.endswith(":role/meshline-local-tenant-read")
        assert tagged == tenant_named_by(service, operation, params) == "acme", (operation, params)
    assumed = [params for service, _, operation, params in made if operation == "AssumeRole"]
    # Kept once made (here the two functions share one process, so one session), and never
    # made for globex's operator.
    assert [a["Tags"] for a in assumed] == [[{"Key": "tenant", "Value": "acme"}]]


def test_the_template_lets_the_read_function_read_only_through_a_tenant_session():
    for function in ("ReadOrdersFunction", "ReportFulfillmentFunction"):
        assert all(isinstance(policy, dict) for policy in template.resources()[function]["Properties"]["Policies"])
        own = [action for statement in template.statements(function) for action in template.actions(statement)]
        assert sorted(own) == ["sts:AssumeRole", "sts:TagSession"], function

    role = template.resources()["TenantReadRole"]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"] == ["tenant"]
    statements = {s["Sid"]: s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]}
    assert statements["ReadOneTenantsOrderPartitions"]["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] == [
        "ORDER#${aws:PrincipalTag/tenant}#*"]
    assert statements["ReadOneTenantsExceptionQueue"]["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"] == [
        "${aws:PrincipalTag/tenant}"]
    assert statements["ReadOneTenantsLargeExports"]["Resource"].endswith("/payloads/exports/${!aws:PrincipalTag/tenant}/*")
    assert all(s["Effect"] == "Allow" and not str(s["Action"]).count("Put") for s in statements.values())
    json.dumps(statements)  # plain data, nothing left unparsed
