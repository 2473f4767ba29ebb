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
"""

from __future__ import annotations

from collections.abc import Callable

import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class HarnessReport:
    orders: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)
    misdelivered: list[str] = field(default_factory=list)
    seconds: float = 0.0

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


def run(orders: int, throttle_rate: float = 0.05, seed: int = 7) -> HarnessReport:
    from meshline.dal.aws import client
    from meshline.dal.exports import ExportStore
    from meshline.domain.audit import verify_chain
    from meshline_local.samples import cancelled_body, routable_body, shopify_headers
    from bench.stack import drain, local_stack
    from meshline_local.seed import add_bus_tap, seed_tenant

    rng = random.Random(seed)
    report = HarnessReport(orders=orders)
    started = time.perf_counter()
    with local_stack() as (runtime, cleanup):
        warehouse_queues = seed_tenant(runtime)
        tap = add_bus_tap(runtime)
        throttler = Throttler(throttle_rate, rng)
        cleanup.callback(_instrument(throttler))
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
        runtime.settle(timeout=120)
        for body, headers in later:
            deliver(body, headers)
        runtime.settle(timeout=120)
        throttler.active = False
        report.faults["throttled AWS calls"] = throttler.injected

        queued: Counter[tuple[str, str]] = Counter(
            (message["MessageAttributes"]["export_id"]["StringValue"], url.rsplit("-", 1)[1].removesuffix(".fifo"))
            for url in warehouse_queues for message in drain(url)
        )
        announced: Counter[str] = Counter(
            event["detail"]["export"]["export_id"] for event in (json.loads(m["Body"]) for m in drain(tap))
            if event["detail-type"] == "ExportPublished"
        )
        bucket = runtime.functions["PublishFunction"].environment["ARCHIVE_BUCKET"]
        archived = Counter(
            version["Key"] for page in client("s3").get_paginator("list_object_versions").paginate(Bucket=bucket)
            for version in page.get("Versions", [])
        )

        for order_id in sorted(accepted):
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


def print_report(report: HarnessReport) -> None:
    print(f"orders: {report.orders} in {report.seconds:.1f} s")
    print("faults injected:")
    for kind, count in sorted(report.faults.items()):
        print(f"    {kind:<34} {count}")
    print(f"lost: {len(report.lost)}   duplicated: {len(report.duplicated)}   unverified chains: {len(report.unverified)}   "
          f"misdelivered: {len(report.misdelivered)}")
    for problem in (report.lost + report.duplicated + report.unverified + report.misdelivered)[:20]:
        print(f"    ! {problem}")


def main(quick: bool = False) -> int:
    orders = 40 if quick else 1000
    print(f"fault harness (first slice): {orders} orders through the local stack\n")
    report = run(orders)
    print_report(report)
    return 0 if report.clean else 1
