"""What the decide step reads (issue 7, AWS calls per order): the order's HEAD in the same
BatchGetItem as the tenant's policy and stock, so a new order is decided with that one
read and its transaction; an existing order's latest version is one GetItem more, the
version its HEAD names (HEAD is rewritten by every version, answer and sweep)."""

from contextlib import contextmanager

import pytest

from bench.aws_calls import CallCounter, instrument
from meshline.dal.aws import client
from meshline.dal.exports import version_key
from tests import template
from tests.payloads import routable_body
from tests.stack.test_acknowledgements import answer, latest, place, post, warehouse_of
from tests.stack.test_cancellation import cancel, chain_verified
from tests.stack.test_end_to_end import inbox_record


@contextmanager
def decide_calls():
    """The calls the decide function makes inside, each kept with what it sent and got."""
    counter = CallCounter(keep=True)
    undo = instrument(counter)
    made: list = []
    try:
        yield made
    finally:
        undo()
        made.extend(call for call in counter.take().kept if call.function == "DecideFunction")


def dynamodb(calls) -> list[str]:
    """The DynamoDB operations, in order. Besides them decide may only read its feature flags
    (AppConfig, once per FeatureFlagsMaxAgeSeconds, not per order; the local stack reads them
    with appconfig:GetHostedConfigurationVersion) and large exports (S3)."""
    assert {call.operation.split(":")[0] for call in calls} <= {"dynamodb", "appconfig", "appconfigdata", "s3"}, calls
    return [call.operation.removeprefix("dynamodb:") for call in calls if call.operation.startswith("dynamodb:")]


def head_key(order_id):
    return {"pk": {"S": f"ORDER#acme#{order_id}"}, "sk": {"S": "HEAD"}}


def test_a_new_order_is_decided_with_one_batch_read_and_one_transaction(stack):
    exports, tenants = stack.env["DecideFunction"]["EXPORTS_TABLE"], stack.env["DecideFunction"]["TENANTS_TABLE"]
    place(stack, 8101, [("TEE-BLK-M", 1)])  # the process learns the active policy (as any after its first order)
    with decide_calls() as calls:
        order_id = place(stack, 8102, [("TEE-BLK-M", 1)])

    assert dynamodb(calls) == ["BatchGetItem", "TransactWriteItems"]
    [read] = [call for call in calls if call.operation == "dynamodb:BatchGetItem"]
    asked = read.params["RequestItems"]
    assert set(asked) == {exports, tenants} and all(table["ConsistentRead"] for table in asked.values())
    assert asked[exports]["Keys"] == [head_key(order_id)]
    assert read.response["Responses"][exports] == []  # no HEAD: no export yet, nothing more to read
    assert {key["sk"]["S"] for key in asked[tenants]["Keys"]} >= {"POLICY#ACTIVE", "SKU#TEE-BLK-M"}

    [write] = [call for call in calls if call.operation == "dynamodb:TransactWriteItems"]
    heads = [entry["Put"]["Item"] for entry in write.params["TransactItems"]
             if "Put" in entry and entry["Put"]["Item"]["sk"] == {"S": "HEAD"}]
    assert [head["version"] for head in heads] == [{"N": "1"}]  # the HEAD the next trigger will read
    assert latest(stack, order_id)["version"] == 1

    # The template lets decide read what it reads, on the table it reads it from.
    logical = {exports: "ExportsTable.Arn", tenants: "TenantsTable.Arn"}
    allowed = {(action, statement["Resource"]) for statement in template.statements("DecideFunction")
               for action in template.actions(statement)}
    assert ("dynamodb:BatchGetItem", logical[exports]) in allowed and ("dynamodb:BatchGetItem", logical[tenants]) in allowed
    assert ("dynamodb:GetItem", logical[exports]) in allowed  # the version HEAD names, for an existing order
    assert ("dynamodb:Query", logical[exports]) in allowed  # the answers to it


def test_a_redelivered_trigger_is_answered_by_the_reads_without_a_write(stack):
    decide, record = inbox_record(stack, routable_body(8103, "2026-11-25T09:30:00-05:00", [("TEE-BLK-M", 1)]), "evt-8103")
    assert stack.runtime.invoker.invoke(decide, {"Records": [record]}) == {"batchItemFailures": []}
    with decide_calls() as calls:
        assert stack.runtime.invoker.invoke(decide, {"Records": [{**record, "messageId": "m-2"}]}) == {"batchItemFailures": []}
    assert dynamodb(calls) == ["BatchGetItem", "GetItem"]  # HEAD names v1; v1's trigger is this one
    [get] = [call for call in calls if call.operation == "dynamodb:GetItem"]
    assert get.params["Key"]["sk"] == {"S": version_key(1)} and get.params["ConsistentRead"]
    stack.runtime.settle()
    assert len(stack.exports.history("acme", "shopify-8103")) == 1


def test_a_later_trigger_reads_the_version_head_names_after_a_reroute_and_an_answer(stack):
    lines = [("TEE-BLK-M", 1)]
    order_id = place(stack, 8104, lines)
    first = latest(stack, order_id)
    assert post(stack, answer(first, warehouse_of(first), "rejected", "rej-8104", reason_code="out_of_stock"))[0] == 200
    rerouted = latest(stack, order_id)  # version 2, written by the acknowledge flow
    taker = warehouse_of(rerouted)
    assert rerouted["version"] == 2 and taker != warehouse_of(first)
    assert post(stack, answer(rerouted, taker, "accepted", "acc-8104"))[0] == 200  # HEAD rewritten, still naming v2

    with decide_calls() as calls:
        cancel(stack, 8104, lines)

    assert dynamodb(calls) == ["BatchGetItem", "GetItem", "Query", "TransactWriteItems"]
    [get] = [call for call in calls if call.operation == "dynamodb:GetItem"]
    assert get.params["Key"]["sk"] == {"S": version_key(2)}
    request = latest(stack, order_id)
    assert (request["version"], request["intended_action"], request["supersedes"]["export_id"]) == (3, "cancel", rerouted["export_id"])
    assert [(line["action"], line["warehouse_id"]) for line in request["lines"]] == [("cancel", taker)]
    [accepted] = stack.exports.acknowledgements("acme", order_id, 2)
    assert request["acknowledged"] == {"count": 1, "last_hash": accepted.content_hash}
    assert chain_verified(stack, order_id)


def test_a_previous_export_kept_in_s3_is_read_back_for_the_next_trigger(stack, monkeypatch):
    # Every export of this test is too large for its item, as one gzip cannot shrink enough would be.
    monkeypatch.setattr("meshline.dal.exports.EXPORT_ITEM_BUDGET", 512)
    lines = [("TEE-BLK-M", 1)]
    order_id = place(stack, 8105, lines)
    item = client("dynamodb").get_item(TableName=stack.env["DecideFunction"]["EXPORTS_TABLE"],
                                       Key={"pk": head_key(order_id)["pk"], "sk": {"S": version_key(1)}})["Item"]
    assert "document_ref" in item and "document" not in item and "document_gz" not in item
    first = latest(stack, order_id)

    with decide_calls() as calls:
        cancel(stack, 8105, lines)

    assert dynamodb(calls) == ["BatchGetItem", "GetItem", "Query", "TransactWriteItems"]
    assert "s3:GetObject" in [call.operation for call in calls]  # the previous document, behind its reference
    request = latest(stack, order_id)
    assert (request["version"], request["supersedes"]["export_id"]) == (2, first["export_id"])
    assert [(line["action"], line["warehouse_id"]) for line in request["lines"]] == [("cancel", warehouse_of(first))]
    assert chain_verified(stack, order_id)


@pytest.mark.parametrize("stored", ["inline", "in S3"])
def test_an_order_created_after_its_cancellation_is_still_ignored(stack, monkeypatch, stored):
    if stored == "in S3":
        monkeypatch.setattr("meshline.dal.exports.EXPORT_ITEM_BUDGET", 512)
    lines = [("TEE-BLK-M", 1)]
    cancel(stack, 8106, lines)
    with decide_calls() as calls:
        place(stack, 8106, lines)
    assert dynamodb(calls) == ["BatchGetItem", "GetItem"]  # read, recognised, nothing written
    [only] = stack.exports.history("acme", "shopify-8106")
    assert only["intended_action"] == "cancel" and only["version"] == 1


def test_an_order_whose_versions_have_no_head_is_decided_from_its_latest_version(stack):
    """Orders stored before every version wrote its HEAD: version 1 is taken, so decide asks
    the versions themselves, once, and decides from the latest."""
    lines = [("TEE-BLK-M", 1)]
    order_id = place(stack, 8107, lines)
    first = latest(stack, order_id)
    client("dynamodb").delete_item(TableName=stack.env["DecideFunction"]["EXPORTS_TABLE"], Key=head_key(order_id))

    with decide_calls() as calls:
        cancel(stack, 8107, lines)

    # The write that assumed a new order fails; the versions are queried; the decision is made again from v1.
    assert dynamodb(calls) == ["BatchGetItem", "TransactWriteItems", "Query", "Query", "TransactWriteItems"]
    request = latest(stack, order_id)
    assert (request["version"], request["intended_action"], request["supersedes"]["export_id"]) == (2, "cancel", first["export_id"])
    assert [document["version"] for document in stack.exports.history("acme", order_id)] == [1, 2]
    assert chain_verified(stack, order_id)
