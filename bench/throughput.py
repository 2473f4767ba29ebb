"""Throughput: orders per second end to end through the local stack, beside a baseline that
does only the same writes and sends, against the same moto server in the same run.

Meshline: signed webhooks are POSTed over HTTP to the local API (the runtime's server) one
after another while the runtime's pollers run in their own thread, as `dev.py stack` runs
them; the clock stops when the last order's export is on its warehouse queue. Each order is
a one-line order that routes (no escalation).

Baseline: the writes and sends those same orders made (DynamoDB puts, updates and
transactions, SQS sends, the S3 archive put, PutEvents), replayed one after another with
boto3: same count, same sizes, with fresh order keys, no logic and no reads, into tables,
queues and a bucket shaped like Meshline's that nothing consumes.

Rounds alternate Meshline and baseline, after one warm-up round of each that is not timed
(imports, caches, the baseline's resources). After each round the warehouse queues, and the
baseline's, are purged, untimed, as warehouses would take their exports. On moto, both share one machine with the moto
server, so the ratio says what Meshline's logic, reads and hops cost beside its writes;
the absolute rates are not AWS's.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
import urllib.request
from collections.abc import Callable

from bench.aws_calls import Call, CallCounter, instrument

WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:TransactWriteItems",
          "dynamodb:BatchWriteItem", "sqs:SendMessage", "sqs:SendMessageBatch", "s3:PutObject", "events:PutEvents"}
FIRST_ORDER = 1_000_000
BASELINE_OFFSET = 5_000_000  # the baseline's order numbers: as many digits, so the same sizes
ORDER_NUMBER = re.compile(r"(?:(?<=shopify-)|(?<=evt-))\d{7}")
KEYS = {"pk", "sk", "Key", "MessageGroupId", "MessageDeduplicationId"}


def renamed(value, key: str | None = None):
    """`value` with the order numbers in its keys moved by BASELINE_OFFSET (and FIFO
    deduplication ids made new), every length kept."""
    if isinstance(value, dict):
        return {k: renamed(v, k if k in KEYS else key if k == "S" else None) for k, v in value.items()}
    if isinstance(value, list):
        return [renamed(v, key) for v in value]
    if isinstance(value, str) and key == "MessageDeduplicationId":
        return hashlib.sha256(f"baseline:{value}".encode()).hexdigest()[: len(value)]
    if isinstance(value, str) and key:
        return ORDER_NUMBER.sub(lambda m: str(int(m.group()) + BASELINE_OFFSET), value)
    return value


class Mirror:
    """Tables, queues and a bucket shaped like the ones Meshline wrote to, which nothing reads
    (Meshline's own would feed its stream and pollers): where the baseline writes."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def _make(self, original: str, create: Callable[[], str]) -> str:
        if original not in self.names:
            self.names[original] = create()
        return self.names[original]

    def table(self, name: str) -> str:
        from meshline.dal.aws import client

        def create() -> str:
            described = client("dynamodb").describe_table(TableName=name)["Table"]
            indexes = [{k: index[k] for k in ("IndexName", "KeySchema", "Projection")}
                       for index in described.get("GlobalSecondaryIndexes", [])]
            client("dynamodb").create_table(TableName=f"baseline-{name}", BillingMode="PAY_PER_REQUEST",
                                            KeySchema=described["KeySchema"], AttributeDefinitions=described["AttributeDefinitions"],
                                            **({"GlobalSecondaryIndexes": indexes} if indexes else {}))
            return f"baseline-{name}"

        return self._make(name, create)

    def queue(self, url: str) -> str:
        from meshline.dal.aws import client

        attributes = {"FifoQueue": "true"} if url.endswith(".fifo") else {}
        name = f"baseline-{url.rsplit('/', 1)[1]}"
        return self._make(url, lambda: client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])

    def bucket(self, name: str) -> str:
        from meshline.dal.aws import client

        def create() -> str:
            client("s3").create_bucket(Bucket=f"baseline-{name}", ObjectLockEnabledForBucket=True)
            return f"baseline-{name}"

        return self._make(name, create)

    def queues(self) -> list[str]:
        return [url for original, url in self.names.items() if original.startswith("http")]

    def replay(self, call: Call) -> None:
        """Make `call` again, renamed, against the mirrors."""
        from botocore import xform_name

        from meshline.dal.aws import client

        service, operation = call.operation.split(":")
        params = renamed(call.params)
        if "TableName" in params:
            params["TableName"] = self.table(params["TableName"])
        for entry in params.get("TransactItems", []):
            request = next(iter(entry.values()))
            request["TableName"] = self.table(request["TableName"])
        if "RequestItems" in params:
            params["RequestItems"] = {self.table(table): requests for table, requests in params["RequestItems"].items()}
        if "QueueUrl" in params:
            params["QueueUrl"] = self.queue(params["QueueUrl"])
        if "Bucket" in params:
            params["Bucket"] = self.bucket(params["Bucket"])
        getattr(client(service), xform_name(operation))(**params)


def run(rounds: int, per_round: int) -> tuple[list[float], list[float], list[Call]]:
    """Seconds of each timed Meshline round and of each baseline round, and the writes replayed."""
    from bench.stack import drain, local_stack
    from meshline_local.samples import routable_body, shopify_headers
    from meshline_local.seed import seed_tenant
    from meshline_local.stack import free_port

    counter = CallCounter(keep=True)
    with local_stack() as (runtime, cleanup):
        warehouse_queues = seed_tenant(runtime)
        cleanup.callback(instrument(counter))
        port = free_port()
        api = runtime.serve_http("127.0.0.1", port)
        cleanup.callback(api.shutdown)
        mirror = Mirror()
        ours: list[float] = []
        baseline: list[float] = []
        writes: list[Call] = []
        for round_ in range(rounds + 1):  # round 0 warms both up
            numbers = [FIRST_ORDER + round_ * per_round + i for i in range(per_round)]
            ours.append(_meshline_round(runtime, port, counter, numbers, routable_body, shopify_headers))
            made = [call for call in counter.take().kept if call.operation in WRITES]
            started = time.perf_counter()
            for call in made:
                mirror.replay(call)
            baseline.append(time.perf_counter() - started)
            writes += made if round_ else []
            for url in [*warehouse_queues, *mirror.queues()]:  # the warehouses take their exports, untimed
                drain(url)
        return ours[1:], baseline[1:], writes


def _meshline_round(runtime, port: int, counter: CallCounter, numbers: list[int], body_of, headers_of) -> float:
    """Seconds from the first webhook POSTed to the last export on its warehouse queue."""
    stop = threading.Event()
    pollers = threading.Thread(target=runtime.run_pollers, args=(stop, 0.01), daemon=True)
    bodies = [body_of(n, "2026-11-25T09:30:00-05:00", [("TEE-BLK-M", 1)]) for n in numbers]
    delivered = lambda: sum(len(c.params.get("Entries", [c.params])) for c in list(counter.kept)
                            if c.operation in ("sqs:SendMessage", "sqs:SendMessageBatch") and "-wh-" in c.params["QueueUrl"])
    pollers.start()
    started = time.perf_counter()
    for number, body in zip(numbers, bodies):
        request = urllib.request.Request(f"http://127.0.0.1:{port}/local/webhooks/shopify/acme", data=body, method="POST",
                                         headers=headers_of(body, event_id=f"evt-{number}"))
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 202, answer.status
    deadline = started + 60 + len(numbers)
    while delivered() < len(numbers):
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{delivered()} of {len(numbers)} exports reached a warehouse queue")
        time.sleep(0.005)
    seconds = time.perf_counter() - started
    stop.set()
    pollers.join()
    runtime.settle()  # the last publications' announcements and watches, untimed
    return seconds


def main(quick: bool = False) -> int:
    rounds, per_round = (2, 5) if quick else (6, 40)
    print(f"throughput: {rounds} rounds of {per_round} orders, webhook POST -> export on the warehouse queue, through the local stack;\n"
          f"baseline = the same orders' writes and sends replayed with boto3 (no logic, no reads), alternating, same moto server\n")
    ours, baseline, writes = run(rounds, per_round)
    print(f"{'round':>5} {'Meshline orders/s':>18} {'baseline orders/s':>18} {'x baseline':>10}")
    for index, (mine, theirs) in enumerate(zip(ours, baseline), start=1):
        print(f"{index:>5} {per_round / mine:>18.1f} {per_round / theirs:>18.1f} {theirs / mine:>10.2f}")
    orders = rounds * per_round
    mine, theirs = orders / sum(ours), orders / sum(baseline)
    size = sum(len(repr(call.params)) for call in writes) / orders
    print(f"{'all':>5} {mine:>18.1f} {theirs:>18.1f} {mine / theirs:>10.2f}")
    print(f"\nper order: {len(writes) / orders:.1f} writes and sends, about {size / 1024:.1f} KB of parameters, made by both; "
          f"Meshline at {mine / theirs:.2f}x the baseline's rate")
    return 0
