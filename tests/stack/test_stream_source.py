"""The local runtime's stream poller follows each shard with NextShardIterator, as Lambda's
event source mapping does: a failed batch is read again from its first record, a record
written after an empty read is not missed, and an iterator the stream no longer honours is
replaced from the checkpoint."""

import json

from meshline_local.runtime import StreamSource
from tests.payloads import routable_body, shopify_headers


def _publisher(stack) -> StreamSource:
    [source] = [s for s in stack.runtime.sources if isinstance(s, StreamSource)]
    return source


def _accept(stack, number: int) -> None:
    body = routable_body(number, "2026-11-25T09:30:00-05:00", [("TEE-BLK-M", 1)])
    assert stack.post_webhook(body, shopify_headers(body, event_id=f"evt-{number}"))[0] == 202


def _on_east(stack) -> list[str]:
    return [json.loads(message["Body"])["export_id"] for message in stack.drain(stack.warehouse_queue("east"))]


def test_a_failed_batch_is_read_again_from_its_first_record_and_nothing_after_it_is_skipped(stack):
    publish = stack.runtime.functions["PublishFunction"]
    real = publish.entry_point()
    calls = []

    def failing_twice(event, context):
        calls.append([record["dynamodb"]["SequenceNumber"] for record in event["Records"]])
        if len(calls) <= 2:
            raise RuntimeError("publish failed (injected)")
        return real(event, context)

    publish._entry = failing_twice
    _accept(stack, 3001)
    stack.runtime.settle()

    assert len(calls) == 3 and calls[0] == calls[1] == calls[2]  # the same batch, from its first record
    assert _on_east(stack) == ["acme:shopify-3001:v1"]
    _accept(stack, 3002)
    stack.runtime.settle()
    assert _on_east(stack) == ["acme:shopify-3002:v1"]


def test_the_poller_keeps_reading_one_iterator_and_replaces_one_the_stream_refuses(stack):
    source = _publisher(stack)
    _accept(stack, 3101)
    stack.runtime.settle()
    assert _on_east(stack) == ["acme:shopify-3101:v1"]
    [shard] = source.iterators
    assert source.checkpoints.get(shard)  # the checkpoint and the held iterator agree on the position

    source.poll(stack.runtime.invoker)  # an empty read keeps following the shard
    assert shard in source.iterators
    _accept(stack, 3102)
    stack.runtime.settle()
    assert _on_east(stack) == ["acme:shopify-3102:v1"]

    source.iterators[shard] = "an-iterator-the-stream-does-not-know"
    _accept(stack, 3103)
    stack.runtime.settle()
    assert _on_east(stack) == ["acme:shopify-3103:v1"]  # read from the checkpoint: neither lost nor repeated
