"""The moto server the local stack starts (meshline_local.moto_server): a cancelled
transaction still leaves nothing behind, a transaction's cost does not grow with the table,
and moto keeps no list of every object it ever made."""

import json
import os
import statistics
import time
import urllib.request
import uuid

import pytest
from botocore.exceptions import ClientError

from meshline.dal.aws import client
from meshline_local.stack import use_endpoint


@pytest.fixture
def table(moto_server):
    saved = dict(os.environ)
    use_endpoint(moto_server.endpoint_url)
    name = f"moto-server-check-{uuid.uuid4().hex[:8]}"
    dynamodb = client("dynamodb")
    dynamodb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    yield name
    dynamodb.delete_table(TableName=name)
    os.environ.clear()
    os.environ.update(saved)


def _item(pk: str, sk: str, **attributes: str) -> dict:
    return {"pk": {"S": pk}, "sk": {"S": sk}, **{k: {"S": v} for k, v in attributes.items()}}


def _stream_records(table: str, iterator: str | None = None) -> tuple[list[dict], str]:
    streams = client("dynamodbstreams")
    if iterator is None:
        arn = client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    response = streams.get_records(ShardIterator=iterator, Limit=1000)
    return response["Records"], response["NextShardIterator"]


def test_a_cancelled_transaction_leaves_nothing_behind(table):
    dynamodb = client("dynamodb")
    dynamodb.put_item(TableName=table, Item=_item("o", "updated", state="before"))
    dynamodb.put_item(TableName=table, Item=_item("o", "deleted", state="kept"))
    records, iterator = _stream_records(table)
    assert len(records) == 2

    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(TransactItems=[
            {"Update": {"TableName": table, "Key": {"pk": {"S": "o"}, "sk": {"S": "updated"}},
                        "UpdateExpression": "SET #s = :after", "ExpressionAttributeNames": {"#s": "state"},
                        "ExpressionAttributeValues": {":after": {"S": "after"}}}},
            {"Put": {"TableName": table, "Item": _item("o", "new", state="put")}},
            {"Delete": {"TableName": table, "Key": {"pk": {"S": "o"}, "sk": {"S": "deleted"}}}},
            {"Put": {"TableName": table, "Item": _item("other", "x"), "ConditionExpression": "attribute_exists(pk)"}},
        ])
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"

    items = {item["sk"]["S"]: item.get("state", {}).get("S") for item in dynamodb.scan(TableName=table)["Items"]}
    assert items == {"updated": "before", "deleted": "kept"}
    assert _stream_records(table, iterator)[0] == []  # a cancelled transaction writes no stream record

    # The iterator taken before the cancellation still reads the live stream.
    dynamodb.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": _item("o", "later")}}])
    later, _ = _stream_records(table, iterator)
    assert [record["dynamodb"]["Keys"]["sk"]["S"] for record in later] == ["later"]


def test_a_transaction_costs_the_same_on_a_large_table(table):
    """moto 5.2.5 deep-copies the whole table (stream included) once per action of a
    transaction: on 3,000 items that is about a second per transaction."""
    dynamodb = client("dynamodb")

    def median_transaction_seconds(prefix: str) -> float:
        durations = []
        for n in range(15):
            started = time.perf_counter()
            dynamodb.transact_write_items(TransactItems=[
                {"Put": {"TableName": table, "Item": _item(f"{prefix}-{n}", "v1"), "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"TableName": table, "Item": _item(f"{prefix}-{n}", "trigger"), "ConditionExpression": "attribute_not_exists(pk)"}},
            ])
            durations.append(time.perf_counter() - started)
        return statistics.median(durations)

    small = median_transaction_seconds("small")
    for batch in range(120):
        dynamodb.batch_write_item(RequestItems={table: [
            {"PutRequest": {"Item": _item(f"filler-{batch}", f"{n:03d}", body="x" * 200)}} for n in range(25)
        ]})
    large = median_transaction_seconds("large")
    assert large < max(5 * small, 0.05), f"a transaction took {small * 1000:.1f} ms on 30 items, {large * 1000:.1f} ms on 3,030"


def test_moto_keeps_no_list_of_every_object_it_made(table, moto_server):
    dynamodb = client("dynamodb")
    for n in range(5):
        dynamodb.put_item(TableName=table, Item=_item("listed", str(n)))
    dynamodb.query(TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": "listed"}})
    with urllib.request.urlopen(f"{moto_server.endpoint_url}/moto-api/data.json", timeout=30) as response:
        data = json.load(response)
    assert data["dynamodb"]["Item"] == [] and data["dynamodb"]["StreamRecord"] == []
