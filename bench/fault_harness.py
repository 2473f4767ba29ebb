"""Fault harness, first slice: N orders through the local stack with injected faults, then
checks from the stores themselves that nothing was lost or doubled.

Faults injected (rates of the N orders):
- duplicate deliveries of the same webhook (20%), some re-sent much later;
- out-of-order deliveries: the cancellation before the creation (10%);
- throttling (ThrottlingException, HTTP 400) on AWS calls the functions make, at
  `throttle_rate`, injected at botocore's before-send so the client's own retries see it;
- forged signatures and malformed bodies (5% each), which must be refused and leave nothing.

Checks, from DynamoDB, the warehouse queues, the bus tap and the archive:
- every accepted order has exactly one current export, its versions 1..n without a gap;
- no trigger applied twice (one version per trigger id);
- every export that ships is on each of its warehouses' queues exactly once;
- every export is in the archive exactly once, and announced on the bus;
- every order's hash chain verifies;
- refused inputs left no export.

Not yet (issue 6): crashes at every step boundary, secret rotation, poison messages and
redrive, deliveries spread over hours against real SQS FIFO windows.

Run: `python3 dev.py bench fault_harness [--orders N]` (1,000 by default). It prints a
progress line every `progress_every` orders and, at the end, the faults injected by kind,
what was lost, doubled, unchained or misdelivered, the wall time and the moto server's
peak memory. It stops the moto server if it passes `max_moto_mb`.

A throttled call is retried by the client exactly as it would be (same attempts, same
order), but each wait is scaled by `retry_wait_scale` (1/100 by default): the local
runtime runs one invocation at a time, so nothing happens during a wait that the wait
would make room for, and at full length the waits were about 40% of the wall time
(measured at 100 orders).
"""

from __future__ import annotations

from collections.abc import Callable

import json
import random
import resource
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class HarnessReport:
    orders: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)
    misdelivered: list[str] = field(default_factory=list)
    seconds: float = 0.0  # wall time, start of the moto server to the last check
    driving_seconds: float = 0.0  # deliveries and settling, without start-up and checks
    moto_peak_mb: float | None = None  # the moto server's peak resident memory (None: not started here)
    harness_peak_mb: float = 0.0  # this process's peak resident memory

    @property
    def orders_per_second(self) -> float:
        return self.orders / self.driving_seconds if self.driving_seconds else 0.0

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.unverified or self.misdelivered)


class Throttler:
    """Answers a share of the functions' AWS calls with ThrottlingException, before they are sent."""

    def __init__(self, rate: float, rng: random.Random):
        self.rate, self.rng, self.active, self.injected = rate, rng, False, 0

    def before_send(self, request, **_):
        if not self.active or self.rng.random() >= self.rate:
            return None
        from botocore.awsrequest import AWSResponse

        self.injected += 1
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded (injected)"}).encode()
        headers = {"x-amzn-ErrorType": "ThrottlingException", "Content-Type": "application/x-amz-json-1.0"}
        return AWSResponse(request.url, 400, headers, _Raw(body))


class _Raw:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **_):
        yield self.body

    def read(self, *_):
        return self.body


def _instrument(throttler: Throttler) -> Callable[[], None]:
    """Every boto3 client created from now on carries the throttler; returns the undo."""
    return _hook_clients({"before-send": throttler.before_send},
                         lambda function, _event: setattr(throttler, "active", function is not None))


def _hook_clients(hooks: dict[str, Callable], inside: Callable[[str | None, dict | None], None]) -> Callable[[], None]:
    """Register each botocore event handler of `hooks` on every boto3 client created from now
    on (Meshline's clients are made afresh: the cache is cleared), and tell `inside` which
    function is running and with what event (None, None between invocations).
    Returns what puts everything back, so the harness can run inside a test process."""
    import boto3.session

    from meshline.dal import aws
    from meshline_local import runtime

    make_client = boto3.session.Session.client
    invoke = runtime.Invoker.invoke

    def hooked_client(self, *args, **kwargs):
        made = make_client(self, *args, **kwargs)
        for event, handler in hooks.items():
            made.meta.events.register(event, handler)
        return made

    def watched_invoke(self, function, event):
        inside(function.logical_id, event)
        try:
            return invoke(self, function, event)
        finally:
            inside(None, None)

    boto3.session.Session.client = hooked_client
    runtime.Invoker.invoke = watched_invoke
    aws.reset()

    def undo() -> None:
        boto3.session.Session.client = make_client
        runtime.Invoker.invoke = invoke
        aws.reset()

    return undo


def _shorten_retry_waits(scale: float) -> Callable[[], None]:
    """Scale the wait botocore's standard retry mode takes before each retry; returns the undo."""
    from botocore.retries.standard import ExponentialBackoff

    delay_amount = ExponentialBackoff.delay_amount

    def scaled(self, context):
        return delay_amount(self, context) * scale

    ExponentialBackoff.delay_amount = scaled

    def undo() -> None:
        ExponentialBackoff.delay_amount = delay_amount

    return undo


def _memory_mb(pid: int, field_name: str = "VmRSS") -> float | None:
    """Resident memory of a process from /proc (VmHWM: its peak so far); None where there is no /proc."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class MotoWatch:
    """Samples the moto server's memory every second; past `limit_mb` it kills the server,
    so a run that grows without bound stops instead of taking the machine with it."""

    def __init__(self, process, limit_mb: float | None):
        self.process, self.limit_mb = process, limit_mb
        self.peak_mb: float | None = None
        self.exceeded: float | None = None
        self._stop = threading.Event()
        if process is not None:
            threading.Thread(target=self._watch, name="moto-watch", daemon=True).start()

    def current_mb(self) -> float | None:
        return _memory_mb(self.process.pid) if self.process is not None else None

    def _sample(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        for value in (_memory_mb(self.process.pid, "VmHWM"), self.current_mb()):
            if value is not None:
                self.peak_mb = max(self.peak_mb or 0.0, value)
        current = self.current_mb()
        if self.limit_mb and current and current > self.limit_mb and self.exceeded is None:
            self.exceeded = current
            self.process.kill()

    def _watch(self) -> None:
        while not self._stop.wait(1.0):
            self._sample()

    def stop(self) -> None:
        self._sample()
        self._stop.set()

    def check(self) -> None:
        if self.exceeded is not None:
            raise RuntimeError(f"the moto server passed {self.limit_mb:.0f} MB ({self.exceeded:.0f} MB) and was stopped; "
                               "it should hold about 35 MB per 1,000 orders over its 250 MB start (see "
                               "meshline_local/moto_server.py), or pass a higher max_moto_mb")


def run(orders: int, throttle_rate: float = 0.05, seed: int = 7, *, progress: Callable[[str], None] | None = None,
        progress_every: int = 100, max_moto_mb: float | None = 4096, retry_wait_scale: float = 0.01) -> HarnessReport:
    from meshline.dal.aws import client
    from meshline.dal.exports import ExportStore
    from meshline.domain.audit import verify_chain
    from meshline_local.samples import cancelled_body, routable_body, shopify_headers
    from meshline_local.seed import add_bus_tap, seed_tenant
    from meshline_local.stack import MotoServer, start_runtime

    rng = random.Random(seed)
    report = HarnessReport(orders=orders)
    say = progress or (lambda line: None)
    started = time.perf_counter()
    undo: list[Callable[[], None]] = []
    server = MotoServer().start()
    watch = MotoWatch(server.process, max_moto_mb)
    try:
        runtime = start_runtime(server.endpoint_url, stage="local", state_dir=Path(tempfile.mkdtemp()))
        warehouse_queues = seed_tenant(runtime)
        tap = add_bus_tap(runtime)
        throttler = Throttler(throttle_rate, rng)
        undo.append(_instrument(throttler))
        undo.append(_shorten_retry_waits(retry_wait_scale))
        say(f"stack up in {time.perf_counter() - started:.1f} s; moto server at {watch.current_mb() or 0:.0f} MB")
        driving = time.perf_counter()

        def progress_line(done: int) -> str:
            elapsed = time.perf_counter() - driving
            faults = {**report.faults, "throttled AWS calls": throttler.injected}
            return (f"{done:>7,}/{orders:,} orders  {elapsed:7.1f} s  {done / elapsed if elapsed else 0:5.1f} orders/s  "
                    f"moto {watch.current_mb() or 0:,.0f} MB  faults so far: "
                    + ", ".join(f"{kind} {count}" for kind, count in sorted(faults.items())))
        exports = ExportStore(runtime.functions["DecideFunction"].environment["EXPORTS_TABLE"])
        placed = "2026-11-25T09:30:00-05:00"

        def deliver(body: bytes, headers: dict[str, str], attempts: int = 5) -> int:
            """As a shop does: retry a delivery that was not answered 2xx (a throttled call can fail it)."""
            status = 0
            for _ in range(attempts):
                status, _, _ = runtime.handle_http("POST", "/local/webhooks/shopify/acme", headers, body)
                if status < 500:
                    return status
                report.faults["webhook answered 5xx, re-sent"] += 1
            return status

        accepted: set[str] = set()
        expected: dict[str, set[str]] = {}  # per order, the business events that must each make one version
        later: list[tuple[bytes, dict[str, str]]] = []
        for index in range(orders):
            if index and index % progress_every == 0:
                say(progress_line(index))
            number = 20000 + index
            order_id = f"shopify-{number}"
            lines = [(rng.choice(["TEE-BLK-M", "MUG-CLASSIC", "JERSEY-LTD"]), rng.randint(1, 3))]
            body = routable_body(number, placed, lines)
            headers = shopify_headers(body, event_id=f"evt-{number}")
            roll = rng.random()
            if roll < 0.05:
                report.faults["forged"] += 1
                assert deliver(body, shopify_headers(body, secret="forged", event_id=f"evt-f-{number}")) == 401
                continue
            if roll < 0.10:
                report.faults["malformed"] += 1
                bad = body.replace(b'"quantity": ', b'"quantity": -', 1)
                assert deliver(bad, shopify_headers(bad, event_id=f"evt-m-{number}")) == 400
                continue
            if roll < 0.20:
                report.faults["cancellation before creation"] += 1
                cancel = cancelled_body(number, placed, lines, cancelled_at="2026-11-25T10:00:00-05:00")
                deliver(cancel, shopify_headers(cancel, event_id=f"evt-c-{number}", topic="orders/cancelled"))
                # The creation that follows its cancellation must change nothing.
                expected[order_id] = {f"order_cancelled:{order_id}"}
            if deliver(body, headers) in (200, 202):
                accepted.add(order_id)
                expected.setdefault(order_id, {f"order_created:{order_id}"})
            if rng.random() < 0.20:
                report.faults["duplicate delivery"] += 1
                if rng.random() < 0.5:
                    deliver(body, headers)
                else:
                    later.append((body, headers))  # re-sent after everything else
            if index % 10 == 9:
                runtime.settle(timeout=120)
                watch.check()
        runtime.settle(timeout=120)
        say(progress_line(orders))
        say(f"re-sending {len(later)} deliveries late")
        for body, headers in later:
            deliver(body, headers)
        runtime.settle(timeout=120)
        watch.check()
        throttler.active = False
        report.faults["throttled AWS calls"] = throttler.injected
        report.driving_seconds = time.perf_counter() - driving
        say(f"driven in {report.driving_seconds:.1f} s ({report.orders_per_second:.1f} orders/s); checking the stores")

        def drain(url: str) -> list[dict]:
            """Every message on a queue, deleted as read (ten at a time)."""
            read = []
            while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages"):
                read += batch
                sqs.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(n), "ReceiptHandle": message["ReceiptHandle"]} for n, message in enumerate(batch)
                ])
            return read

        queued: Counter[tuple[str, str]] = Counter()
        sqs = client("sqs")
        for url in warehouse_queues:
            for message in drain(url):
                queued[(message["MessageAttributes"]["export_id"]["StringValue"], url.rsplit("-", 1)[1].removesuffix(".fifo"))] += 1
        announced: Counter[str] = Counter()
        for message in drain(tap):
            event = json.loads(message["Body"])
            if event["detail-type"] == "ExportPublished":
                announced[event["detail"]["export"]["export_id"]] += 1
        bucket = runtime.functions["PublishFunction"].environment["ARCHIVE_BUCKET"]
        archived = Counter(
            version["Key"] for page in client("s3").get_paginator("list_object_versions").paginate(Bucket=bucket)
            for version in page.get("Versions", [])
        )

        for checked, order_id in enumerate(sorted(accepted), 1):
            if checked % (progress_every * 5) == 0:
                say(f"checked {checked:,}/{len(accepted):,} accepted orders")
            history = sorted(exports.history("acme", order_id), key=lambda d: d["version"])
            if not history:
                report.lost.append(order_id)
                continue
            if [d["version"] for d in history] != list(range(1, len(history) + 1)):
                report.duplicated.append(f"{order_id}: versions {[d['version'] for d in history]}")
            triggers = Counter(d["trigger"]["trigger_id"] for d in history)
            report.duplicated += [f"{order_id}: trigger {t} applied {n} times" for t, n in triggers.items() if n > 1]
            if set(triggers) != expected[order_id]:
                report.duplicated.append(f"{order_id}: versions for {sorted(triggers)}, expected {sorted(expected[order_id])}")
            if not verify_chain(history, exports.acknowledgement_documents("acme", order_id)).verified:
                report.unverified.append(order_id)
            for document in history:
                export_id = document["export_id"]
                key = f"exports/acme/{order_id}/v{document['version']:010d}.json"
                if archived[key] != 1:
                    report.misdelivered.append(f"{export_id}: archived {archived[key]} times")
                if announced[export_id] < 1:
                    report.misdelivered.append(f"{export_id}: never announced")
                for warehouse in dict.fromkeys(line["warehouse_id"] for line in document["lines"] if line["action"] == "ship"):
                    if queued[(export_id, warehouse)] != 1:
                        report.misdelivered.append(f"{export_id}: on {warehouse}'s queue {queued[(export_id, warehouse)]} times")
        for order_id in (f"shopify-{20000 + i}" for i in range(orders)):
            if order_id not in accepted and exports.history("acme", order_id):
                report.duplicated.append(f"{order_id}: refused, yet an export exists")
        report.seconds = time.perf_counter() - started
        return report
    except Exception:
        watch.check()  # a server stopped for its memory explains the error that followed
        raise
    finally:
        for undo_one in reversed(undo):
            undo_one()
        watch.stop()
        report.moto_peak_mb = watch.peak_mb
        report.harness_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        server.stop()


def print_report(report: HarnessReport) -> None:
    minutes, seconds = divmod(report.seconds, 60)
    print(f"orders: {report.orders:,} in {int(minutes)} min {seconds:.1f} s wall time "
          f"(driving {report.driving_seconds:.1f} s, {report.orders_per_second:.1f} orders/s)")
    print("faults injected:")
    for kind, count in sorted(report.faults.items()):
        print(f"    {kind:<34} {count:,}")
    print(f"lost: {len(report.lost)}   duplicated: {len(report.duplicated)}   unverified chains: {len(report.unverified)}   "
          f"misdelivered: {len(report.misdelivered)}")
    moto = f"{report.moto_peak_mb:,.0f} MB" if report.moto_peak_mb is not None else "not measured (server not started here)"
    print(f"peak memory: moto server {moto}, harness process {report.harness_peak_mb:,.0f} MB")
    for problem in (report.lost + report.duplicated + report.unverified + report.misdelivered)[:20]:
        print(f"    ! {problem}")


def main(quick: bool = False, orders: int | None = None) -> int:
    orders = orders or (40 if quick else 1000)
    print(f"fault harness (first slice): {orders:,} orders through the local stack", flush=True)
    report = run(orders, progress=lambda line: print(f"  {line}", flush=True), progress_every=max(10, min(500, orders // 20)))
    print()
    print_report(report)
    return 0 if report.clean else 1
