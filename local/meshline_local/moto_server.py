"""moto's own server (`python -m meshline_local.moto_server -H HOST -p PORT`, the arguments
of `moto_server`), with workarounds for costs in moto 5.2.5 that grow with what the stores
hold (1, 2, 4 and 5: each made the fault harness quadratic in the number of orders), for
one cost paid on every request (3), for a limit moto does not keep (6: EventBridge's
256 KB), for SQS FIFO deduplication, which moto forgets as soon as a message is deleted
(7), and for SQS FIFO order, which moto inverts when two messages of a group time out
together (8). Our code changes none of moto's files: it replaces
some of moto's functions in this process only, before the server starts.

Measured on 2026-11-26 with bench/fault_harness.py (counters read inside the moto process):
at 150 orders the exports table held 393 items and its stream 393 records, yet 502 `Table`
objects and 77,028 `StreamRecord` objects were alive, and each TransactWriteItems took
229 ms (8 ms at the start). The server grew to 14.8 GB at about 1,000 orders.

1. `DynamoDBBackend.transact_write_items` backs up every table a transaction touches with
   `copy.deepcopy(table)`, once per action (a 4-action transaction on one table copies it
   four times), items and stream records included, so that it can swap the copy back in
   if the transaction is cancelled. Each of Meshline's export writes is a transaction on
   the exports table: its cost grows with everything written before it. Here the
   transaction backs up only the items its actions name, and a cancelled one puts those
   back and drops the stream records it added: the same outcome (nothing of a cancelled
   transaction is visible, stream included) for the cost of the items it names. The table
   object stays the same one, so a stream shard iterator held across a cancellation still
   reads the live stream (with moto's swap it read an abandoned copy).

2. `BaseModel.__new__` appends every instance of every moto model to a class-level list
   (`instances_tracked`, read only by the `/moto-api/data.json` dashboard and by S3's reset)
   that is never emptied before a reset: every table copy above, every item copy a query
   or update returns, every deleted SQS message, every stream shard iterator stay alive for
   the life of the server. Here instances are not tracked: `/moto-api/data.json` answers
   with empty lists; S3's reset still disposes the keys of existing buckets (its first
   loop), and keys no bucket holds any longer are freed by the garbage collector.

With 1 and 2, a transaction costs what its items cost and the server's memory follows
what the stores actually hold. Each workaround is checked by tests/stack/test_moto_server.py
(the answers are moto's, the costs no longer grow with the table or the queue).

3. To route each request, moto's server asks `moto.backends.list_of_moto_modules()`, which
   lists and stats moto's package directory (about 130 system calls) every time: 35% of
   the server's time in the same harness run. The list cannot change while the server
   runs, so it is read once.

4. `Table.query` on the table's own key (no index) lists every item of the table
   (`all_items()`) and keeps those whose partition key matches, so each Query costs the
   whole table; Meshline queries an order's partition several times per order. Here such
   a query starts from that one partition (`table.items[hash_key]`, where moto itself
   stores it); sorting, paging, conditions and filters are moto's own code, unchanged.
   Queries on an index still scan the table, as moto keeps no index structure.

5. To send one message, moto's SQS reads the queue's `ContentBasedDeduplication` up to
   four times through `Queue.attributes`, which computes every attribute of the queue,
   among them the three ApproximateNumberOfMessages* counts: each walks every message in
   the queue and reads the clock for each. A send to a queue holding k messages costs k;
   a queue nobody drains during a run (a warehouse queue, the bus tap) makes the run
   quadratic (82% of the server's time at 3,000 orders, sampled with py-spy). Receiving
   is worse: for each message it hands out, moto reads `MessageRetentionPeriod` through
   GetQueueAttributes, which computes `Queue.attributes` three times; draining a queue
   of k messages costs k squared (hours for the 10,000-order harness's queues). Here
   those three counts are left out while a message is being sent or received, which
   read none of them; GetQueueAttributes on its own still counts.

6. Not a cost but a limit moto does not keep: EventBridge refuses a PutEvents request
   whose entries add up to more than 256 KB (the entry size AWS documents: the time, the
   source, the detail type, the detail and the resources, in UTF-8); moto takes any
   size. Here the server refuses it as AWS does, so that an event too large for AWS
   fails locally too (Meshline sends large exports by reference: meshline.dal.payloads).

7. SQS FIFO deduplication, and SQS's clock. moto 5.2.5 drops a FIFO send only when a
   message with the same deduplication id is *still in the queue* and was sent less than
   five minutes earlier: once the first message is deleted (or moved to the DLQ), a resend
   one second later is delivered again, where SQS would drop it for the rest of the five
   minutes after the first send, deleted or not. The opposite also happens: a message
   nobody deletes keeps its id "in the window" for as long as this process's wall clock
   says it is younger than five minutes, however much simulated time has passed. Here
   each FIFO queue remembers every deduplication id it accepted for five minutes after
   the send (scope: the queue, or the group with `DeduplicationScope: messageGroup`),
   whether the message is still there or not, and a move to the DLQ is never deduplicated
   (SQS moves the message itself). The five minutes are read from SQS's clock, which a
   test or the fault harness can move ahead (`advance_sqs_clock`, POST
   /meshline-local/sqs-clock {"advance_seconds": N}): a simulated retry four hours later
   is then four hours later for deduplication, visibility timeouts, delays and retention
   alike. Only SQS follows that clock; moto's other services keep this machine's (none
   of what they model for Meshline depends on it: TTL is not modelled, Step Functions
   waits are scaled by the template's EscalationSecondsPerMinute). A reset of moto
   (/moto-api/reset) makes new queues, so it forgets the ids; the clock stays where it was.

8. SQS FIFO order after a visibility timeout. moto keeps a received message "pending"
   until a receive walks past it visible again, and skips a message whose group has a
   pending one, judging that as it walks: when two messages of one group were received
   together and both timed out (a consumer that crashed, or the local runtime's retry of
   a failed batch), the walk frees the first, still sees its group held by the second,
   skips it, frees the second and hands it out alone: the group's later message first.
   Found by the fault harness (an order's creation decided before its cancellation that
   had arrived first). Here each receive first releases the pending messages that are
   visible again, so only messages really in flight hold their group, and a group's
   messages come back in the order they were sent, as SQS guarantees.
"""

from __future__ import annotations

import copy
import inspect
import json
import sys
import threading
from collections import OrderedDict
from typing import Any

TESTED_WITH = "5.2.5"


def _warn_if_untested() -> None:
    import moto

    if moto.__version__ != TESTED_WITH:
        print(f"meshline_local.moto_server: the workarounds were written against moto {TESTED_WITH}, "
              f"this is {moto.__version__}: check that the functions replaced here still behave as the "
              "module docstring says (tests/stack/test_moto_server.py), then update TESTED_WITH", file=sys.stderr)


def stop_tracking_instances() -> None:
    from moto.core.common_models import BaseModel

    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:
        # moto's own __new__ minus `cls.instances_tracked.append(instance)`.
        return super(BaseModel, cls).__new__(cls)

    BaseModel.__new__ = staticmethod(__new__)  # type: ignore[method-assign, assignment]


class _CopyKeepingTables:
    """`copy` as moto.dynamodb.models sees it: deep-copying a Table gives the Table itself.
    That module deep-copies tables only for transact_write_items' backup, which the
    wrapper below replaces with a backup of the touched items; other copies are real."""

    def __init__(self, table_type: type):
        self.table_type = table_type

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        return value if isinstance(value, self.table_type) else copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


class _TouchedItems:
    """What a transaction's actions can change: the items they name, and the stream's length."""

    def __init__(self, backend: Any, transact_items: list[dict[str, Any]]):
        self.items: list[tuple[Any, Any, Any, Any]] = []  # (table, hash key, range key, item before or None)
        self.streams: dict[int, tuple[Any, int]] = {}
        for action in transact_items:
            for operation in action.values():
                table = backend.tables.get(operation.get("TableName")) if isinstance(operation, dict) else None
                if table is None:
                    continue  # moto refuses the action itself
                try:
                    if "Item" in operation:  # Put
                        attributes = operation["Item"]
                        keys = {name: attributes[name] for name in (table.hash_key_attr, table.range_key_attr) if name}
                    else:
                        keys = operation["Key"]
                    hash_key, range_key = backend.get_keys_value(table, keys)
                    before = table.get_item(hash_key, range_key)
                except Exception:
                    continue  # an action moto refuses changes nothing
                # An Update changes the stored Item in place: keep a copy, not the object.
                self.items.append((table, hash_key, range_key, copy.deepcopy(before) if before is not None else None))
                if table.stream_shard is not None and id(table) not in self.streams:
                    self.streams[id(table)] = (table.stream_shard, len(table.stream_shard.items))

    def restore(self) -> None:
        for table, hash_key, range_key, before in reversed(self.items):
            if range_key is None:
                if before is None:
                    table.items.pop(hash_key, None)
                else:
                    table.items[hash_key] = before
            else:
                partition = table.items[hash_key]
                if before is None:
                    partition.pop(range_key, None)
                    if not partition:
                        del table.items[hash_key]
                else:
                    partition[range_key] = before
        for shard, length in self.streams.values():
            del shard.items[length:]


def back_up_touched_items_only() -> None:
    from moto.dynamodb import models as dynamodb_models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    if getattr(DynamoDBBackend.transact_write_items, "meshline_workaround", False):
        return
    original = DynamoDBBackend.transact_write_items
    dynamodb_models.copy = _CopyKeepingTables(Table)  # type: ignore[attr-defined]

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        touched = _TouchedItems(self, transact_items)
        try:
            return original(self, transact_items)
        except Exception:
            touched.restore()  # moto's own "rollback" now puts back the same table object
            raise

    transact_write_items.meshline_workaround = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def list_moto_modules_once() -> None:
    from moto import backends

    if getattr(backends.list_of_moto_modules, "meshline_workaround", False):
        return
    modules = tuple(backends.list_of_moto_modules())

    def list_of_moto_modules() -> tuple[str, ...]:
        return modules

    list_of_moto_modules.meshline_workaround = True  # type: ignore[attr-defined]
    backends.list_of_moto_modules = list_of_moto_modules  # type: ignore[assignment]


def query_one_partition() -> None:
    from moto.dynamodb.models.table import Table

    if getattr(Table.query, "meshline_workaround", False):
        return
    original_query, original_all_items = Table.query, Table.all_items
    signature = inspect.signature(original_query)
    querying = threading.local()  # (table, hash key) while this thread runs a query on the table's own key

    def all_items(self: Any) -> list[Any]:
        partition = getattr(querying, "partition", None)
        if partition is None or partition[0] is not self:
            return original_all_items(self)
        hash_key = partition[1]
        if hash_key not in self.items:  # `in`: the defaultdict grows no empty partition
            return []
        stored = self.items[hash_key]
        return list(stored.values()) if self.range_key_attr else [stored]

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        arguments = signature.bind(self, *args, **kwargs).arguments
        if arguments.get("index_name") or arguments.get("hash_key") is None:
            return original_query(self, *args, **kwargs)
        querying.partition = (self, arguments["hash_key"])
        try:
            return original_query(self, *args, **kwargs)
        finally:
            querying.partition = None

    query.meshline_workaround = True  # type: ignore[attr-defined]
    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]


_APPROXIMATE_COUNTS = ("approximate_number_of_messages", "approximate_number_of_messages_delayed",
                       "approximate_number_of_messages_not_visible")


def count_messages_only_when_asked() -> None:
    from moto.sqs.models import Queue, SQSBackend

    if getattr(SQSBackend.send_message, "meshline_workaround", False):
        return
    moving = threading.local()  # how deep this thread is in a send or a receive

    def uncounted_while_moving(counted: property) -> property:
        def count(self: Any) -> Any:
            return None if getattr(moving, "depth", 0) else counted.fget(self)  # type: ignore[misc]

        return property(count)

    for name in _APPROXIMATE_COUNTS:
        setattr(Queue, name, uncounted_while_moving(getattr(Queue, name)))

    def marked_as_moving(move: Any) -> Any:
        marked = _flagged_while_running(moving, move)
        marked.meshline_workaround = True  # type: ignore[attr-defined]
        return marked

    SQSBackend.send_message = marked_as_moving(SQSBackend.send_message)  # type: ignore[method-assign]
    SQSBackend.send_message_batch = marked_as_moving(SQSBackend.send_message_batch)  # type: ignore[method-assign]
    SQSBackend.receive_message = marked_as_moving(SQSBackend.receive_message)  # type: ignore[method-assign]


DEDUPLICATION_SECONDS = 300  # SQS: "within the 5-minute deduplication interval"
SQS_CLOCK_PATH = "/meshline-local/sqs-clock"


class _SqsClock:
    """This machine's clock plus how far it has been moved ahead (only ever forward)."""

    def __init__(self) -> None:
        self.offset_seconds = 0.0
        self.lock = threading.Lock()

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("SQS's clock only moves forward")
        with self.lock:
            self.offset_seconds += seconds
            return self.offset_seconds


SQS_CLOCK = _SqsClock()


def deduplicate_fifo_sends_for_five_minutes() -> None:
    from moto.core import utils as core_utils
    from moto.sqs import models as sqs_models
    from moto.sqs.models import Queue, SQSBackend

    if getattr(Queue.add_message, "meshline_workaround", False):
        return
    real_unix_time = core_utils.unix_time

    def unix_time(dt: Any = None) -> float:
        return real_unix_time(dt) if dt is not None else real_unix_time() + SQS_CLOCK.offset_seconds

    def unix_time_millis(dt: Any = None) -> float:
        return unix_time(dt) * 1000.0

    # moto.sqs.models reads the time only through these two names (checked for 5.2.5).
    sqs_models.unix_time = unix_time  # type: ignore[attr-defined]
    sqs_models.unix_time_millis = unix_time_millis  # type: ignore[attr-defined]

    original_add_message = Queue.add_message
    sending = threading.local()  # set while this thread runs a SendMessage(Batch): a move to a DLQ is not a send

    def add_message(self: Any, message: Any) -> None:
        if self.lambda_event_source_mappings:
            return original_add_message(self, message)  # never so locally: the runtime plays the mappings
        if self.fifo_queue and getattr(sending, "depth", 0) and message.deduplication_id is not None:
            now = unix_time()
            remembered = self.__dict__.setdefault("meshline_deduplication_ids", OrderedDict())
            while remembered and next(iter(remembered.values())) <= now:  # oldest first: the clock only moves forward
                remembered.popitem(last=False)
            scope = message.group_id if getattr(self, "deduplication_scope", "queue") == "messageGroup" else None
            key = (scope, message.deduplication_id)
            if key in remembered:
                return  # accepted, not delivered: as SQS answers a duplicate within the interval
            remembered[key] = now + DEDUPLICATION_SECONDS
        with self._messages_lock:
            self._messages.append(message)
            self._messages_lock.notify_all()

    def marked_as_sending(send: Any) -> Any:
        return _flagged_while_running(sending, send)

    add_message.meshline_workaround = True  # type: ignore[attr-defined]
    Queue.add_message = add_message  # type: ignore[method-assign]
    SQSBackend.send_message = marked_as_sending(SQSBackend.send_message)  # type: ignore[method-assign]
    SQSBackend.send_message_batch = marked_as_sending(SQSBackend.send_message_batch)  # type: ignore[method-assign]


def release_timed_out_messages_before_receiving() -> None:
    from moto.sqs.models import SQSBackend

    receive = SQSBackend.receive_message
    if getattr(receive, "meshline_releases", False):
        return

    def receive_message(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        queue = self.get_queue(queue_name)
        for message in [message for message in queue._pending_messages if message.visible]:
            queue._pending_messages.discard(message)  # its consumer timed out: it holds its group no longer
        return receive(self, queue_name, *args, **kwargs)

    receive_message.meshline_releases = True  # type: ignore[attr-defined]
    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]


def serve_sqs_clock() -> None:
    """POST SQS_CLOCK_PATH {"advance_seconds": N} moves SQS's clock N seconds ahead; GET reads
    how far ahead it is. Answered before moto's own dispatch sees the request."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    if getattr(DomainDispatcherApplication.__call__, "meshline_workaround", False):
        return
    dispatch = DomainDispatcherApplication.__call__

    def __call__(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") != SQS_CLOCK_PATH:
            return dispatch(self, environ, start_response)
        try:
            if environ["REQUEST_METHOD"] == "POST":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                request = json.loads(environ["wsgi.input"].read(length) or b"{}")
                SQS_CLOCK.advance(float(request["advance_seconds"]))
            body, status = json.dumps({"offset_seconds": SQS_CLOCK.offset_seconds}).encode(), "200 OK"
        except (KeyError, ValueError) as error:
            body, status = json.dumps({"message": f"expected {{\"advance_seconds\": N >= 0}}: {error}"}).encode(), "400 Bad Request"
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    __call__.meshline_workaround = True  # type: ignore[attr-defined]
    DomainDispatcherApplication.__call__ = __call__  # type: ignore[method-assign]


def advance_sqs_clock(endpoint_url: str, seconds: float) -> float:
    """Move the local stack's SQS clock `seconds` ahead (e.g. as far as a test moved its own
    with freezegun); returns how far ahead of this machine's clock it now is."""
    import urllib.request

    request = urllib.request.Request(f"{endpoint_url}{SQS_CLOCK_PATH}", method="POST",
                                     data=json.dumps({"advance_seconds": seconds}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return float(json.loads(answer.read())["offset_seconds"])


EVENT_ENTRIES_LIMIT = 256 * 1024


def event_entry_size(entry: dict[str, Any]) -> int:
    """PutEvents entry size, as AWS's "Calculating PutEvents event entry size" counts it."""
    size = 14 if entry.get("Time") else 0
    for name in ("Source", "DetailType", "Detail"):
        size += len(str(entry.get(name) or "").encode("utf-8"))
    return size + sum(len(str(resource).encode("utf-8")) for resource in entry.get("Resources") or [])


def refuse_oversized_events() -> None:
    from moto.events.exceptions import ValidationException
    from moto.events.models import EventsBackend

    put_events = EventsBackend.put_events

    def put_events_within_limit(self: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        total = sum(event_entry_size(event) for event in events)
        if total > EVENT_ENTRIES_LIMIT:
            raise ValidationException(f"Total size of the entries in the request is over the limit ({total} bytes).")
        return put_events(self, events)

    EventsBackend.put_events = put_events_within_limit


def _flagged_while_running(flag: threading.local, method: Any) -> Any:
    """`method`, raising `flag.depth` on this thread while it runs (nested calls included),
    for code it calls to tell whether it runs inside it."""

    def flagged(self: Any, *args: Any, **kwargs: Any) -> Any:
        flag.depth = getattr(flag, "depth", 0) + 1
        try:
            return method(self, *args, **kwargs)
        finally:
            flag.depth -= 1

    return flagged


def apply_workarounds() -> None:
    _warn_if_untested()
    refuse_oversized_events()
    stop_tracking_instances()
    back_up_touched_items_only()
    list_moto_modules_once()
    query_one_partition()
    count_messages_only_when_asked()
    deduplicate_fifo_sends_for_five_minutes()
    release_timed_out_messages_before_receiving()
    serve_sqs_clock()


def main(argv: list[str] | None = None) -> None:
    apply_workarounds()
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
