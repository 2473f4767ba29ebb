"""The moto server the local stack starts (meshline_local.moto_server): a cancelled
transaction still leaves nothing behind, a query still answers as DynamoDB does, neither
costs more on a large table, a send costs the same on a full queue, and moto keeps no list
of every object it ever made; EventBridge refuses events over 256 KB; FIFO deduplication
lasts five minutes after a send, on an SQS clock that tests can move ahead, and a FIFO
group timed out comes back in order."""

import json
import os
import statistics
import time
import urllib.request
import uuid

import pytest
from botocore.exceptions import ClientError

from meshline.dal.aws import client
from meshline_local.moto_server import DEDUPLICATION_SECONDS, SQS_CLOCK_PATH, advance_sqs_clock
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


def test_a_query_answers_from_its_partition_in_key_order_and_pages(table):
    dynamodb = client("dynamodb")
    for pk in ("a", "b", "c"):
        for n in (3, 1, 2, 5, 4):
            dynamodb.put_item(TableName=table, Item=_item(pk, f"V#{n}", pk_copy=pk))
    dynamodb.put_item(TableName=table, Item=_item("b", "HEAD"))

    def query(**extra) -> dict:
        return dynamodb.query(TableName=table, KeyConditionExpression="pk = :pk AND begins_with(sk, :v)",
                              ExpressionAttributeValues={":pk": {"S": "b"}, ":v": {"S": "V#"}}, **extra)

    assert [item["sk"]["S"] for item in query()["Items"]] == ["V#1", "V#2", "V#3", "V#4", "V#5"]
    assert {item["pk_copy"]["S"] for item in query()["Items"]} == {"b"}
    assert [item["sk"]["S"] for item in query(ScanIndexForward=False)["Items"]] == ["V#5", "V#4", "V#3", "V#2", "V#1"]
    first = query(Limit=2)
    assert [item["sk"]["S"] for item in first["Items"]] == ["V#1", "V#2"]
    rest = query(ExclusiveStartKey=first["LastEvaluatedKey"])
    assert [item["sk"]["S"] for item in rest["Items"]] == ["V#3", "V#4", "V#5"]
    none = dynamodb.query(TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": "nobody"}})
    assert none["Items"] == [] and none["Count"] == 0
    assert len(dynamodb.scan(TableName=table)["Items"]) == 16  # the query grew no empty partition


def test_transactions_and_queries_cost_the_same_on_a_large_table(table):
    """moto 5.2.5 deep-copies the whole table (stream included) once per action of a
    transaction, and reads every item of the table for a query on one partition: on 3,000
    items, about a second per transaction and tens of milliseconds per query."""
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

    def median_query_seconds() -> float:
        durations = []
        for _ in range(15):
            started = time.perf_counter()
            dynamodb.query(TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": "small-3"}})
            durations.append(time.perf_counter() - started)
        return statistics.median(durations)

    small, small_query = median_transaction_seconds("small"), median_query_seconds()
    for batch in range(120):
        dynamodb.batch_write_item(RequestItems={table: [
            {"PutRequest": {"Item": _item(f"filler-{batch}", f"{n:03d}", body="x" * 200)}} for n in range(25)
        ]})
    large, large_query = median_transaction_seconds("large"), median_query_seconds()
    assert large < max(5 * small, 0.05), f"a transaction took {small * 1000:.1f} ms on 30 items, {large * 1000:.1f} ms on 3,030"
    assert large_query < max(5 * small_query, 0.03), f"a query took {small_query * 1000:.1f} ms on 30 items, {large_query * 1000:.1f} ms on 3,030"


def test_moto_keeps_no_list_of_every_object_it_made(table, moto_server):
    dynamodb = client("dynamodb")
    for n in range(5):
        dynamodb.put_item(TableName=table, Item=_item("listed", str(n)))
    dynamodb.query(TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": "listed"}})
    with urllib.request.urlopen(f"{moto_server.endpoint_url}/moto-api/data.json", timeout=30) as response:
        data = json.load(response)
    assert data["dynamodb"]["Item"] == [] and data["dynamodb"]["StreamRecord"] == []


@pytest.fixture
def queues(moto_server):
    saved = dict(os.environ)
    use_endpoint(moto_server.endpoint_url)
    sqs, suffix = client("sqs"), uuid.uuid4().hex[:8]
    urls = {
        "standard": sqs.create_queue(QueueName=f"moto-server-check-{suffix}")["QueueUrl"],
        "fifo": sqs.create_queue(QueueName=f"moto-server-check-{suffix}.fifo",
                                 Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"],
    }
    yield urls
    for url in urls.values():
        sqs.delete_queue(QueueUrl=url)
    os.environ.clear()
    os.environ.update(saved)


def _counts(url: str) -> dict[str, str]:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"]
    return client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]


def test_queues_still_count_their_messages_and_deduplicate_on_content(queues):
    sqs = client("sqs")
    for body in ("one", "two", "one"):  # the second "one" is a duplicate within five minutes
        sqs.send_message(QueueUrl=queues["fifo"], MessageBody=body, MessageGroupId="g")
    sqs.send_message_batch(QueueUrl=queues["standard"], Entries=[{"Id": str(n), "MessageBody": str(n)} for n in range(3)])
    sqs.send_message(QueueUrl=queues["standard"], MessageBody="later", DelaySeconds=60)
    assert _counts(queues["fifo"]) == {"ApproximateNumberOfMessages": "2", "ApproximateNumberOfMessagesNotVisible": "0",
                                       "ApproximateNumberOfMessagesDelayed": "0"}
    sqs.receive_message(QueueUrl=queues["standard"], MaxNumberOfMessages=1)
    assert _counts(queues["standard"]) == {"ApproximateNumberOfMessages": "2", "ApproximateNumberOfMessagesNotVisible": "1",
                                           "ApproximateNumberOfMessagesDelayed": "1"}


def test_a_send_or_a_receive_costs_the_same_on_a_queue_nobody_drains(queues):
    """moto 5.2.5 counts every message of the queue, several times, to send one, and nine
    times for each message it receives."""
    sqs = client("sqs")

    def median_seconds(call) -> float:
        durations = []
        for n in range(15):
            started = time.perf_counter()
            call(n)
            durations.append(time.perf_counter() - started)
        return statistics.median(durations)

    def send(n: int) -> None:
        sqs.send_message(QueueUrl=queues["fifo"], MessageBody=f"send-{n}-{uuid.uuid4()}", MessageGroupId="g")

    def receive(n: int) -> None:
        assert len(sqs.receive_message(QueueUrl=queues["standard"], MaxNumberOfMessages=10, VisibilityTimeout=0)["Messages"]) == 10

    def fill(url: str, **group) -> None:
        for batch in range(300):
            sqs.send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(n), "MessageBody": f"filler-{batch}-{n}", **group} for n in range(10)
            ])

    sqs.send_message_batch(QueueUrl=queues["standard"], Entries=[{"Id": str(n), "MessageBody": str(n)} for n in range(10)])
    empty_send, short_receive = median_seconds(send), median_seconds(receive)
    fill(queues["fifo"], MessageGroupId="g")
    fill(queues["standard"])
    full_send, long_receive = median_seconds(send), median_seconds(receive)
    assert full_send < max(5 * empty_send, 0.03), \
        f"a send took {empty_send * 1000:.1f} ms on an empty queue, {full_send * 1000:.1f} ms on 3,015 messages"
    assert long_receive < max(5 * short_receive, 0.05), \
        f"a receive took {short_receive * 1000:.1f} ms on 10 messages, {long_receive * 1000:.1f} ms on 3,010"


def test_events_over_256_kb_are_refused_as_eventbridge_refuses_them(table):
    events = client("events")
    bus = f"size-check-{uuid.uuid4().hex[:8]}"
    events.create_event_bus(Name=bus)
    entry = {"EventBusName": bus, "Source": "meshline.check", "DetailType": "Check"}
    # At the limit (AWS counts the source, detail type and detail in UTF-8): accepted.
    fitting = 256 * 1024 - len("meshline.check") - len("Check") - len('{"x":""}')
    answer = events.put_events(Entries=[{**entry, "Detail": json.dumps({"x": "é" * (fitting // 2)}, ensure_ascii=False)}])
    assert answer["FailedEntryCount"] == 0
    with pytest.raises(ClientError, match="Total size of the entries in the request is over the limit"):
        events.put_events(Entries=[{**entry, "Detail": json.dumps({"x": "a" * (fitting + 1)})}])
    events.delete_event_bus(Name=bus)


def _bodies(url: str, **receive) -> list[str]:
    sqs, bodies = client("sqs"), []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, **receive).get("Messages"):
        for message in batch:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def test_a_fifo_queue_drops_a_resent_id_for_five_minutes_after_the_first_send_deleted_or_not(queues, moto_server):
    """moto 5.2.5 forgets a deduplication id once its message is deleted; SQS keeps it for
    the five minutes after the send. Past them, on SQS's (moved) clock, the id is new again,
    even while the first message is still in the queue."""
    sqs, fifo = client("sqs"), queues["fifo"]
    sqs.send_message(QueueUrl=fifo, MessageBody="first", MessageGroupId="g", MessageDeduplicationId="delivery-1")
    assert _bodies(fifo) == ["first"]
    sqs.send_message(QueueUrl=fifo, MessageBody="resent", MessageGroupId="g", MessageDeduplicationId="delivery-1")
    assert _bodies(fifo) == []  # dropped: the first was deleted, but less than five minutes ago

    sqs.send_message(QueueUrl=fifo, MessageBody="kept", MessageGroupId="h", MessageDeduplicationId="delivery-2")
    advance_sqs_clock(moto_server.endpoint_url, DEDUPLICATION_SECONDS + 1)
    sqs.send_message(QueueUrl=fifo, MessageBody="four hours later", MessageGroupId="g", MessageDeduplicationId="delivery-1")
    sqs.send_message(QueueUrl=fifo, MessageBody="kept, resent", MessageGroupId="h", MessageDeduplicationId="delivery-2")
    assert sorted(_bodies(fifo)) == ["four hours later", "kept", "kept, resent"]


def test_visibility_timeouts_follow_the_moved_sqs_clock(queues, moto_server):
    sqs, standard = client("sqs"), queues["standard"]
    sqs.send_message(QueueUrl=standard, MessageBody="in flight")
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=standard, VisibilityTimeout=180)["Messages"]] == ["in flight"]
    assert sqs.receive_message(QueueUrl=standard).get("Messages") is None  # a crashed consumer still holds it
    advance_sqs_clock(moto_server.endpoint_url, 181)
    assert _bodies(standard) == ["in flight"]


def test_the_sqs_clock_only_moves_forward(moto_server):
    import urllib.error

    request = urllib.request.Request(f"{moto_server.endpoint_url}{SQS_CLOCK_PATH}", method="POST",
                                     data=json.dumps({"advance_seconds": -1}).encode())
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    assert refused.value.code == 400 and "advance_seconds" in json.loads(refused.value.read())["message"]


def test_a_fifo_group_comes_back_in_order_after_its_messages_time_out_together(queues, moto_server):
    """moto 5.2.5 handed out the group's second message alone, then the first: an order's
    creation decided before the cancellation that had arrived first."""
    sqs, fifo = client("sqs"), queues["fifo"]
    for body in ("cancellation", "creation"):
        sqs.send_message(QueueUrl=fifo, MessageBody=body, MessageGroupId="order-1")
    received = sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10, VisibilityTimeout=60)["Messages"]
    assert [m["Body"] for m in received] == ["cancellation", "creation"]  # then the consumer crashed
    advance_sqs_clock(moto_server.endpoint_url, 61)
    assert _bodies(fifo) == ["cancellation", "creation"]
