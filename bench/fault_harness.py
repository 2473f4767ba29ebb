"""Fault harness (issue 6): N orders through the local stack while faults are injected,
then checks, from the stores themselves, that nothing was lost, doubled, left unchained or
failed silently.

Faults injected (shares of the N orders unless said otherwise; every kind at least once,
so the CI size injects each kind too; `FaultRates` holds them):
- duplicate deliveries of the same webhook (20%): a third re-sent at once (inside SQS
  FIFO's 5-minute deduplication window), a third re-sent at the end of the run, and a third
  re-sent 8 times over 4 hours as Shopify retries (1, 2, 4, 8, 16, 32, 64 and 240 minutes
  after the first), the clock moved for each: past the fifth minute SQS no longer drops the
  inbox message, so only Meshline's receipts and trigger markers keep it from deciding twice;
- out-of-order deliveries: the cancellation before the creation (10%);
- throttling (5% of the functions' AWS call attempts) and 5xx errors (2%), answered at
  botocore's `before-send` so the clients' own retries see them (bench/faults.py);
- Lambda timeouts mid-handler (3%, spread over ingest, decide, publish and acknowledge):
  the invocation ends at one of the first AWS calls it surely makes (ingest: 2, the
  others: 3), before the call is sent or after it succeeded, and its event source retries
  it (SQS makes the batch visible again, the stream retries the batch, the shop re-sends a
  webhook answered 5xx);
- a crash at every step boundary (3%, spread over the boundaries of bench/faults.py:
  after the receipt and before the enqueue, after the enqueue and before the answer, after
  the export write and before the rest of the batch, after the batch and before the inbox messages are deleted, after the archive
  and before the warehouse queue, after the warehouse queue and before the bus, after the
  bus, after the backorder queue and before the customer notification, after the batch and
  before the stream checkpoint, the same two for warehouse answers): the process dies, a new
  one starts from the same state directory (stream checkpoints) with empty caches, and
  received messages reappear only after their queue's visibility timeout (the clock is
  moved by it);
- a webhook secret rotation through the operators' API at half the run (1-hour overlap):
  during the overlap the shop signs with the retiring or the new secret, both verify;
  after it, deliveries signed with the retired secret (2%) are refused with 401 and leave
  nothing;
- poison messages (0.3%, at least 3): a results-queue answer that is not JSON and an
  inbox message that is not an order (unfixable), and an order for a merchant not yet
  onboarded (fixed at the end by onboarding it): all land in their queue's DLQ with the
  reason recorded; then the merchant is onboarded, `meshline_local.redrive` replays every
  dead letter, the fixed one is decided exactly once and the unfixable ones return to the
  DLQ, still with their reason;
- forged signatures and malformed bodies (5% each), oversized bodies over the ingest
  limit (1%: 413), and deliveries replayed a day later with their original signature (2%:
  answered as duplicates, or refused if their secret has retired since): none makes an export.
Warehouses answer 20% of the shipped exports on the results queue (a quarter of them
rejections, which re-route the order as a new version; a quarter sent twice).

Checks, from DynamoDB, the queues, the bus tap and the archive:
- lost: an accepted order without an export;
- duplicated: versions not 1..n, a trigger applied twice, versions for other triggers
  than the order's business events, an export for a refused delivery, a receipt for a
  refused delivery, a re-send or replay answered as a new order, a warehouse answer
  recorded twice or not at all;
- unverified: an order whose hash chain (versions and answers) does not verify;
- misdelivered: an export not on each of its warehouses' queues exactly once, not
  archived exactly once, never announced; a new backorder not on the backorders queue
  exactly once, or its customer notification never announced;
- unaccounted failures: a failure that neither was retried to success nor ended in a
  DLQ with its reason: a webhook the shop gave up on, a dead letter without a reason, a
  dead letter or stream on-failure record nobody planned, a planned poison message that
  vanished or was processed twice.

Run: `python3 dev.py bench fault_harness [--orders N]` (1,000 by default). It prints a
progress line every `progress_every` orders and, at the end, the faults injected by kind,
the lost, duplicated, unverified, misdelivered and unaccounted counts, the wall time and
the moto server's peak memory. It stops the moto server if it passes `max_moto_mb`.

A throttled or failed call is retried by the client exactly as it would be (same attempts,
same order), but each wait is scaled by `retry_wait_scale` (1/100 by default): the local
runtime runs one invocation at a time, so nothing happens during a wait that the wait
would make room for, and at full length the waits were about 40% of the wall time
(measured at 100 orders).
"""

from __future__ import annotations

import heapq
import json
import logging
import random
import resource
import tempfile
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import freezegun.api as _freezegun

from bench import faults
from bench.faults import BOUNDARIES, TIMED_OUT_FUNCTIONS, AwsErrors, HarnessClock, Interruptions, ProcessCrashed

TENANT = "acme"
START = datetime(2026, 11, 25, 14, 31, tzinfo=UTC)
ORDER_SPACING_SECONDS = 2.0  # simulated time between two orders' first deliveries
SHOPIFY_RETRY_MINUTES = (1, 2, 4, 8, 16, 32, 64, 240)  # 8 retries over 4 hours
SHOP_ATTEMPTS = 1 + len(SHOPIFY_RETRY_MINUTES)  # a delivery answered 5xx (or not at all) is tried this often
FIFO_WINDOW_SECONDS = 300
ROTATION_OVERLAP_HOURS = 1  # Shopify may sign with the old secret for up to an hour
NEW_SECRET = "acme-shopify-secret-rotated-2026"
UNKNOWN_TENANT = "initech"  # the poison's merchant, onboarded at the end to fix it
REPLAY_AFTER = timedelta(days=1)


def _wall() -> float:
    """This machine's clock, whatever freezegun does to the process's (the harness's timings)."""
    return _freezegun.real_perf_counter()


@dataclass(frozen=True)
class FaultRates:
    forged: float = 0.05
    malformed: float = 0.05
    oversized: float = 0.01
    retired_secret: float = 0.02  # after the rotation's overlap: signed with the retired secret
    cancelled_first: float = 0.10
    duplicate: float = 0.20
    replayed: float = 0.02
    timeout: float = 0.03
    crash: float = 0.03
    poison: float = 0.003
    answered: float = 0.20
    throttle: float = 0.05  # of AWS call attempts
    server_error: float = 0.02  # of AWS call attempts


@dataclass
class HarnessReport:
    orders: int = 0
    faults: Counter[str] = field(default_factory=Counter)  # every kind planned, with how often it happened
    consequences: Counter[str] = field(default_factory=Counter)  # what the faults led to, and the warehouses' answers
    where: Counter[str] = field(default_factory=Counter)  # timeouts: at which call
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)
    misdelivered: list[str] = field(default_factory=list)
    unaccounted: list[str] = field(default_factory=list)
    seconds: float = 0.0  # wall time, start of the moto server to the last check
    driving_seconds: float = 0.0  # deliveries, faults and settling, without start-up and checks
    simulated_hours: float = 0.0  # how far Meshline's and SQS's clock moved
    moto_peak_mb: float | None = None  # the moto server's peak resident memory (None: not started here)
    harness_peak_mb: float = 0.0  # this process's peak resident memory

    @property
    def orders_per_second(self) -> float:
        return self.orders / self.driving_seconds if self.driving_seconds else 0.0

    @property
    def problems(self) -> list[str]:
        return self.lost + self.duplicated + self.unverified + self.misdelivered + self.unaccounted

    @property
    def clean(self) -> bool:
        return not self.problems

    @property
    def never_injected(self) -> list[str]:
        return sorted(kind for kind, count in self.faults.items() if count == 0)


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


def _interrupt_invocations(interruptions: Interruptions) -> Callable[[], None]:
    """Lambda's side of a timeout (the invocation fails, the event source retries it) and
    crashes after a handler returned; returns the undo."""
    from meshline_local import runtime

    invoke = runtime.Invoker.invoke

    def interrupted_invoke(self, function, event):
        interruptions.enter(function.logical_id, event)
        try:
            try:
                result = invoke(self, function, event)
            except faults.LambdaTimedOut as timeout:
                raise runtime.FunctionError(f"{function.logical_id}: Task timed out ({timeout})") from None
            interruptions.returned(function.logical_id)
            return result
        finally:
            interruptions.enter(None, None)

    runtime.Invoker.invoke = interrupted_invoke

    def undo() -> None:
        runtime.Invoker.invoke = invoke

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


class RestartableStack:
    """The local runtime, and what a crashed process leaves behind: a new runtime starts
    from the same state directory (deployment, stream checkpoints), with new pollers (no
    stream position but the checkpoints, no retry counts) and every cache emptied.

    The handlers' code stays loaded (importing them again costs seconds per restart, and
    under freezegun a module imported anew would see its fake date classes); what a
    handler keeps between invocations is its caches, which are emptied."""

    def __init__(self, endpoint_url: str, state_dir: Path):
        from meshline_local.stack import start_runtime

        self.endpoint_url, self.state_dir = endpoint_url, state_dir
        self.runtime = start_runtime(endpoint_url, stage="local", state_dir=state_dir)
        for function in self.runtime.functions.values():
            function.entry_point()  # imported now, before the clock is frozen
        self.restarts = 0

    def restart(self) -> None:
        from aws_lambda_powertools.utilities import parameters

        from meshline_local.stack import start_runtime

        loaded = {name: function.entry_point() for name, function in self.runtime.functions.items()}
        parameters.clear_caches()  # the webhook secrets a warm process kept
        _clear_function_caches()
        self.runtime = start_runtime(self.endpoint_url, stage="local", state_dir=self.state_dir)
        for name, function in self.runtime.functions.items():
            function._entry = loaded[name]
        self.restarts += 1

    def visibility_timeout(self, function: str) -> int:
        """How long the messages a crashed invocation of `function` had received stay invisible."""
        from meshline.dal.aws import client
        from meshline_local.runtime import SqsSource

        for source in self.runtime.sources:
            if isinstance(source, SqsSource) and source.function.logical_id == function:
                attributes = client("sqs").get_queue_attributes(QueueUrl=source.queue_url, AttributeNames=["VisibilityTimeout"])
                return int(attributes["Attributes"]["VisibilityTimeout"])
        return 0


def _clear_function_caches() -> None:
    """Every functools cache of the shared library (queue URLs, settings, clients): a new
    process starts without them."""
    import sys

    for name, module in list(sys.modules.items()):
        if name == "meshline" or name.startswith("meshline."):
            for value in list(vars(module).values()):
                if callable(getattr(value, "cache_clear", None)):
                    value.cache_clear()


@dataclass
class Plan:
    """Which faults each order carries (indexes of the N orders)."""

    forged: set[int]
    malformed: set[int]
    oversized: set[int]
    retired_secret: set[int]
    cancelled_first: set[int]
    duplicate: dict[int, str]  # index -> "at once", "at the end" or "Shopify's retries"
    replayed: set[int]
    timeouts: dict[int, faults.Timeout]
    crashes: dict[int, faults.Boundary]
    answered: dict[int, str]  # index -> "accepted", "rejected" or "accepted, sent twice"
    poison_at: dict[int, int]  # index -> how many poison messages are sent before that order


def plan_faults(orders: int, rates: FaultRates, rng: random.Random) -> Plan:
    rotation, overlap_over = orders // 2, orders * 3 // 4

    def share(rate: float, minimum: int = 1) -> int:
        return max(minimum, round(rate * orders))

    def take(count: int, candidates: set[int]) -> set[int]:
        chosen = set(rng.sample(sorted(candidates), min(count, len(candidates))))
        candidates -= chosen
        return chosen

    free = set(range(orders))
    retired_secret = take(share(rates.retired_secret), {i for i in free if i >= overlap_over})
    free -= retired_secret
    forged, malformed, oversized = (take(share(rate), free) for rate in (rates.forged, rates.malformed, rates.oversized))
    accepted = set(free)
    cancelled_first = take(share(rates.cancelled_first), set(accepted))
    shipping = accepted - cancelled_first  # orders whose first export routes lines to a warehouse
    interrupted = set(shipping)
    per_boundary = share(rates.crash / len(BOUNDARIES))
    crashes = {index: boundary for boundary in BOUNDARIES for index in take(per_boundary, interrupted)}
    per_function = share(rates.timeout / len(TIMED_OUT_FUNCTIONS))
    timeouts = {index: faults.Timeout(function, rng.randint(1, calls), rng.random() < 0.5)
                for function, calls in TIMED_OUT_FUNCTIONS.items() for index in take(per_function, interrupted)}
    # Warehouse answers: every order whose planned fault is in the acknowledge flow, and more.
    must_answer = {i for i, b in crashes.items() if b.function == "AcknowledgeResultsFunction"} | {
        i for i, t in timeouts.items() if t.function == "AcknowledgeResultsFunction"}
    answered_orders = must_answer | take(max(0, share(rates.answered) - len(must_answer)), shipping - must_answer)
    kinds = ("accepted", "rejected", "accepted", "accepted, sent twice")
    answered = {index: kinds[n % len(kinds)] for n, index in enumerate(sorted(answered_orders))}
    modes = ("at once", "Shopify's retries", "at the end")
    duplicate = {index: modes[n % len(modes)] for n, index in enumerate(sorted(take(share(rates.duplicate), set(accepted))))}
    # Replays: signed before the rotation (refused a day later: the secret retired) and after its overlap (duplicates).
    replayed = take(max(1, share(rates.replayed) // 2), {i for i in shipping if i < rotation}) | take(
        max(1, share(rates.replayed) - share(rates.replayed) // 2), {i for i in shipping if i >= overlap_over})
    poisons = share(rates.poison, minimum=3)
    bunches = max(1, -(-poisons // 10))  # ten at a time: each bunch costs a few seconds of retries
    poison_at = {(orders * (n + 1)) // (bunches + 1): poisons // bunches + (1 if n < poisons % bunches else 0)
                 for n in range(bunches)}
    return Plan(forged, malformed, oversized, retired_secret, cancelled_first, duplicate, replayed, timeouts, crashes,
                answered, poison_at)


def planned_kinds(plan: Plan) -> list[str]:
    """Every fault kind the run injects (each must happen at least once)."""
    return [
        faults.THROTTLED, faults.SERVER_ERRORS,
        *(f"Lambda timeout in {function}" for function in TIMED_OUT_FUNCTIONS),
        *(f"crash: {boundary.name}" for boundary in BOUNDARIES),
        *(f"duplicate delivery ({mode})" for mode in sorted(set(plan.duplicate.values()))),
        "Shopify retry re-send (8 over 4 hours)", "re-sent past SQS FIFO's 5-minute deduplication window",
        "cancellation before creation", "warehouse answer sent twice",
        "webhook secret rotation", "delivery signed with the retiring secret during the overlap",
        "signed with the retired secret after the overlap",
        *(f"poison message ({kind})" for kind in POISON_KINDS),
        "forged signature", "malformed body", "oversized body (over the ingest limit)",
        "replayed a day later with its original signature",
    ]


POISON_KINDS = ("results queue: not JSON", "inbox: not an order", "inbox: merchant not yet onboarded")


def _lines_for(index: int, plan: Plan, rng: random.Random) -> list[tuple[str, int]]:
    lines = [(rng.choice(["TEE-BLK-M", "MUG-CLASSIC", "JERSEY-LTD"]), rng.randint(1, 3))]
    boundary = plan.crashes.get(index)
    if boundary is not None and "backorder" in boundary.name:
        return [("JERSEY-LTD", 5)]  # no warehouse holds five: backordered
    if boundary is not None or index in plan.timeouts or index in plan.answered or index in plan.replayed:
        return [("TEE-BLK-M", 1)]  # always in stock: the export ships, so every publication step runs
    return lines


def run(orders: int, seed: int = 7, rates: FaultRates = FaultRates(), *, progress: Callable[[str], None] | None = None,
        progress_every: int = 100, max_moto_mb: float | None = 4096, retry_wait_scale: float = 0.01) -> HarnessReport:
    from meshline.dal.aws import client
    from meshline.dal.dead_letters import failure_of
    from meshline.dal.exports import ExportStore
    from meshline.dal.secrets import SECRET_CACHE_SECONDS
    from meshline.settings import IngestSettings
    from meshline.domain.audit import verify_chain
    from meshline_local.redrive import DLQ_SUFFIXES, dead_letters
    from meshline_local.samples import DEMO_SECRET, cancelled_body, routable_body, shopify_headers, sigv4_headers
    from meshline_local.seed import OTHER_TENANT_POLICY, add_bus_tap, seed_tenant
    from meshline_local.stack import MotoServer

    # One generator per purpose, so that how many AWS calls a run makes (which depends on
    # timing: cache expiry, retries) changes neither the plan nor the orders' contents.
    rng, shop_rng = random.Random(seed), random.Random(seed + 1)
    plan = plan_faults(orders, rates, rng)
    report = HarnessReport(orders=orders)
    say = progress or (lambda line: None)
    started = _wall()
    undo: list[Callable[[], None]] = []
    server = MotoServer().start()
    watch = MotoWatch(server.process, max_moto_mb)
    clock = HarnessClock(START, server.endpoint_url)
    try:
        # Each restart translates the template again; samtranslator then warns, as it drops
        # the metrics of the last translation, that they were never published.
        translator_log = logging.getLogger("samtranslator.metrics.metrics")
        undo.append(lambda level=translator_log.level: translator_log.setLevel(level))
        translator_log.setLevel(logging.ERROR)
        stack = RestartableStack(server.endpoint_url, Path(tempfile.mkdtemp()))
        warehouse_queues = seed_tenant(stack.runtime)
        tap = add_bus_tap(stack.runtime)
        clock.start()
        environment = {name: function.environment for name, function in stack.runtime.functions.items()}
        inbox = stack.runtime.deployed.physical["OrderInboxQueue"]
        results = stack.runtime.deployed.physical["ResultsQueue"]
        receipts_table = environment["IngestFunction"]["RECEIPTS_TABLE"]
        max_body_bytes = int(environment["IngestFunction"].get("MAX_WEBHOOK_BYTES")
                             or IngestSettings.model_fields["max_body_bytes"].default)
        exports = ExportStore(environment["DecideFunction"]["EXPORTS_TABLE"])

        aws_errors = AwsErrors(rates.throttle, rates.server_error, random.Random(seed + 2))
        interruptions = Interruptions(
            timeouts={f"shopify-{20000 + i}": timeout for i, timeout in plan.timeouts.items()},
            crashes={f"shopify-{20000 + i}": boundary for i, boundary in plan.crashes.items()},
        )
        undo.append(_hook_clients({"before-send": aws_errors.before_send, **interruptions.hooks()},
                                  lambda function, _event: setattr(aws_errors, "active", function is not None)))
        undo.append(_interrupt_invocations(interruptions))
        undo.append(_shorten_retry_waits(retry_wait_scale))
        interruptions.active = True
        for kind in planned_kinds(plan):
            report.faults[kind] += 0  # listed even if it never happens: the CI test fails on a zero
        say(f"stack up in {_wall() - started:.1f} s; moto server at {watch.current_mb() or 0:.0f} MB")
        driving = _wall()

        def counted(kind: str, n: int = 1) -> None:
            report.faults[kind] += n

        def progress_line(done: int) -> str:
            elapsed = _wall() - driving
            return (f"{done:>7,}/{orders:,} orders  {elapsed:7.1f} s  {done / elapsed if elapsed else 0:5.1f} orders/s  "
                    f"moto {watch.current_mb() or 0:,.0f} MB  clock +{clock.moved_seconds / 3600:.1f} h  "
                    f"restarts {stack.restarts}  AWS errors {sum(aws_errors.injected.values())}")

        # ------------------------------------------------------------------ crashes and settling

        def recover(crash: ProcessCrashed) -> None:
            """A new process takes over; what the dead one had received reappears after its visibility timeout."""
            in_flight_for = stack.visibility_timeout(crash.function)
            stack.restart()
            if in_flight_for:
                clock.advance(in_flight_for + 1)

        def settle() -> None:
            while True:
                try:
                    stack.runtime.settle(timeout=120)
                    return
                except ProcessCrashed as crash:
                    recover(crash)

        def run_until(condition: Callable[[], Any], what: str) -> Any:
            while True:
                try:
                    return stack.runtime.run_until(condition, timeout=90, what=what)
                except ProcessCrashed as crash:
                    recover(crash)

        # ------------------------------------------------------------------ the shop

        rotation: dict[str, datetime] = {}

        def shop_secret() -> str:
            """What the shop signs with now: the old secret, then during the overlap either, then the new one."""
            if "at" not in rotation:
                return DEMO_SECRET
            if clock.now() < rotation["until"]:
                if shop_rng.random() < 0.5:
                    counted("delivery signed with the retiring secret during the overlap")
                    return DEMO_SECRET
            return NEW_SECRET

        def post(headers: dict[str, str], body: bytes) -> tuple[int, dict]:
            """One delivery; 0 when the process died before answering (API Gateway answers 5xx)."""
            try:
                status, _, payload = stack.runtime.handle_http("POST", f"/local/webhooks/shopify/{TENANT}", headers, body)
            except ProcessCrashed as crash:
                recover(crash)
                return 0, {}
            return status, json.loads(payload or b"{}")

        def deliver(body: bytes, event_id: str, topic: str = "orders/create", secret: str | None = None,
                    headers: dict[str, str] | None = None) -> tuple[int, dict]:
            """As a shop does: sign, send, and try again (a few seconds later) until answered below 500."""
            status, answer = 0, {}
            for attempt in range(SHOP_ATTEMPTS):
                sent = headers or shopify_headers(body, secret=secret or shop_secret(), event_id=event_id, topic=topic)
                status, answer = post(sent, body)
                if 0 < status < 500:
                    return status, answer
                report.consequences["webhook re-sent by the shop after a 5xx or no answer"] += 1
                clock.advance(5)
            report.unaccounted.append(f"{event_id}: the shop gave up after {SHOP_ATTEMPTS} attempts (last answer {status})")
            return status, answer

        # ------------------------------------------------------------------ the timeline

        placed = "2026-11-25T09:30:00-05:00"
        accepted: set[str] = set()
        expected: dict[str, set[str]] = {}  # per order, the business events that must each make one version
        first_received: dict[str, str] = {}  # event id -> first_received_at of its first answer
        refused_events: list[tuple[str, str]] = []  # (order id, event id) of deliveries that must leave nothing
        scheduled: list[tuple[datetime, int, str, bytes, str]] = []  # (due, n, order id, body, event id)
        at_the_end: list[tuple[str, bytes, str]] = []
        captured: list[tuple[str, bytes, dict[str, str]]] = []  # deliveries replayed a day later, as sent
        to_answer: list[int] = []
        answers: dict[str, set[str]] = {}  # order -> ack ids sent
        poison_bodies: dict[str, tuple[str, str]] = {}  # body -> (kind, DLQ it must end in, or "" when fixed)
        fixable_orders: list[tuple[str, str]] = []  # (order id, trigger id) of the poison fixed at the end

        def check_duplicate_answer(order_id: str, event_id: str, status: int, answer: dict, what: str) -> None:
            if status != 200 or answer.get("status") != "duplicate":
                report.duplicated.append(f"{order_id}: {what} answered {status} {answer.get('status')}, not as a duplicate")
            elif answer.get("first_received_at") != first_received.get(event_id):
                report.duplicated.append(f"{order_id}: {what} remembered as first received at {answer.get('first_received_at')}, "
                                         f"not {first_received.get(event_id)}")

        def resend(order_id: str, body: bytes, event_id: str, what: str) -> None:
            status, answer = deliver(body, event_id)
            if order_id in accepted:
                check_duplicate_answer(order_id, event_id, status, answer, what)

        def run_due_resends() -> None:
            while scheduled and scheduled[0][0] <= clock.now():
                _, _, order_id, body, event_id = heapq.heappop(scheduled)
                late = (clock.now() - datetime.fromisoformat(first_received.get(event_id, clock.now().isoformat()))).total_seconds()
                counted("Shopify retry re-send (8 over 4 hours)")
                if late > FIFO_WINDOW_SECONDS:
                    counted("re-sent past SQS FIFO's 5-minute deduplication window")
                resend(order_id, body, event_id, "a Shopify retry")

        def rotate_secret() -> None:
            path = f"/local/tenants/{TENANT}/webhook-secrets/shopify/rotation"
            payload = json.dumps({"secret": NEW_SECRET, "overlap_hours": ROTATION_OVERLAP_HOURS}).encode()
            for _ in range(SHOP_ATTEMPTS):  # an administrator retries a 5xx too
                status, _, answer = stack.runtime.handle_http("POST", path, sigv4_headers("POST", path, payload), payload)
                if status < 500:
                    break
            if status != 201:
                raise RuntimeError(f"the secret rotation answered {status}: {answer!r}")
            rotation.update(at=clock.now(), until=datetime.fromisoformat(json.loads(answer)["previous_valid_until"]))
            counted("webhook secret rotation")
            # Functions keep the secrets they read for SECRET_CACHE_SECONDS: until then a delivery
            # signed with the new one is refused and re-sent by the shop. Let that pass first.
            clock.advance(SECRET_CACHE_SECONDS + 1)

        def send_poisons(count: int) -> None:
            sqs = client("sqs")
            template = json.loads(json.loads((Path(__file__).resolve().parents[1] / "events" / "decide-order-received.json")
                                             .read_text())["Records"][0]["body"])
            for _ in range(count):
                n = len(poison_bodies)
                kind = POISON_KINDS[n % len(POISON_KINDS)]
                if kind == "results queue: not JSON":
                    body = f"{{not json {n}"
                    sqs.send_message(QueueUrl=results, MessageBody=body)
                    poison_bodies[body] = (kind, "meshline-local-warehouse-results-dlq")
                elif kind == "inbox: not an order":
                    body = json.dumps({"message_type": "Greeting", "hello": n})
                    sqs.send_message(QueueUrl=inbox, MessageBody=body, MessageGroupId=f"garbage-{n}",
                                     MessageDeduplicationId=f"poison-{n}")
                    poison_bodies[body] = (kind, "meshline-local-order-inbox-dlq.fifo")
                else:
                    message = json.loads(json.dumps(template))
                    order_id = f"shopify-{90000 + n}"
                    message["order"].update(tenant_id=UNKNOWN_TENANT, order_id=order_id, platform_order_id=str(90000 + n))
                    message["trigger"]["trigger_id"] = f"order_created:{order_id}"
                    body = json.dumps(message)
                    sqs.send_message(QueueUrl=inbox, MessageBody=body, MessageGroupId=f"{UNKNOWN_TENANT}:{order_id}",
                                     MessageDeduplicationId=f"poison-{n}")
                    poison_bodies[body] = (kind, "")
                    fixable_orders.append((order_id, message["trigger"]["trigger_id"]))
                counted(f"poison message ({kind})")

        def answer_decided_orders() -> None:
            """Warehouses answer the exports the planned orders were decided to (a rejection re-routes)."""
            sqs = client("sqs")
            for index in to_answer:
                order_id = f"shopify-{20000 + index}"
                current = exports.latest(TENANT, order_id)
                shipping = [line.warehouse_id for line in (current.lines if current else []) if line.action == "ship"]
                if current is None or not shipping:
                    continue
                kind = plan.answered[index]
                ack_id = f"{shipping[0]}-{order_id}-1"
                request = {"ack_id": ack_id, "export_id": current.export_id, "warehouse_id": shipping[0],
                           "kind": "rejected" if kind == "rejected" else "accepted",
                           "at": clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")}
                if kind == "rejected":
                    request.update(reason_code="out_of_stock")
                    expected[order_id].add(f"ack:{shipping[0]}:{ack_id}")
                answers.setdefault(order_id, set()).add(ack_id)
                for _ in range(2 if kind.endswith("twice") else 1):
                    sqs.send_message(QueueUrl=results, MessageBody=json.dumps(request))
                if kind.endswith("twice"):
                    counted("warehouse answer sent twice")
                report.consequences[f"warehouse answers: {request['kind']}"] += 1
            to_answer.clear()

        for index in range(orders):
            if index and index % progress_every == 0:
                say(progress_line(index))
            clock.advance(ORDER_SPACING_SECONDS)
            run_due_resends()
            if index == orders // 2:
                rotate_secret()
            if index == orders * 3 // 4:
                clock.advance_to(rotation["until"] + timedelta(seconds=1))
            if index in plan.poison_at:
                send_poisons(plan.poison_at[index])
            number = 20000 + index
            order_id = f"shopify-{number}"
            lines = _lines_for(index, plan, rng)
            body = routable_body(number, placed, lines)
            event_id = f"evt-{number}"

            refused_with = None
            if index in plan.forged:
                counted("forged signature")
                refused_with = (401, body, f"evt-f-{number}", "forged")
            elif index in plan.malformed:
                counted("malformed body")
                bad = body.replace(b'"quantity": ', b'"quantity": -', 1)
                refused_with = (400, bad, f"evt-m-{number}", None)
            elif index in plan.oversized:
                counted("oversized body (over the ingest limit)")
                padded = body[:-1] + b', "note": "' + b"x" * (max_body_bytes + 1024) + b'"}'
                refused_with = (413, padded, f"evt-o-{number}", None)
            elif index in plan.retired_secret:
                counted("signed with the retired secret after the overlap")
                refused_with = (401, body, f"evt-r-{number}", DEMO_SECRET)
            if refused_with is not None:
                wanted, sent, refused_event, secret = refused_with
                status, answer = deliver(sent, refused_event, secret=secret)
                if status != wanted:
                    report.duplicated.append(f"{order_id}: a delivery to refuse with {wanted} was answered {status} {answer}")
                refused_events.append((order_id, refused_event))
                continue

            if index in plan.cancelled_first:
                counted("cancellation before creation")
                cancel = cancelled_body(number, placed, lines, cancelled_at="2026-11-25T10:00:00-05:00")
                status, answer = deliver(cancel, f"evt-c-{number}", topic="orders/cancelled")
                if status not in (200, 202):  # 200: a re-send after a 5xx that came after the receipt
                    report.lost.append(f"{order_id}: its cancellation was answered {status} {answer}")
                expected[order_id] = {f"order_cancelled:{order_id}"}  # the creation that follows changes nothing
            secret = shop_secret()
            headers = shopify_headers(body, secret=secret, event_id=event_id)
            status, answer = deliver(body, event_id, headers=headers)
            if status in (200, 202):
                accepted.add(order_id)
                expected.setdefault(order_id, {f"order_created:{order_id}"})
                first_received[event_id] = answer.get("first_received_at", "")
            else:
                report.lost.append(f"{order_id}: its first delivery was answered {status} {answer}")
            if index in plan.replayed:
                captured.append((order_id, body, headers))
            if index in plan.answered:
                to_answer.append(index)
            mode = plan.duplicate.get(index)
            if mode is not None:
                counted(f"duplicate delivery ({mode})")
                if mode == "at once":
                    resend(order_id, body, event_id, "an immediate re-send")
                elif mode == "at the end":
                    at_the_end.append((order_id, body, event_id))
                else:
                    for minutes in SHOPIFY_RETRY_MINUTES:
                        heapq.heappush(scheduled, (clock.now() + timedelta(minutes=minutes), len(scheduled), order_id, body, event_id))
            if index % 10 == 9:
                settle()
                answer_decided_orders()
                watch.check()
        settle()
        answer_decided_orders()
        settle()
        say(progress_line(orders))
        say(f"Shopify's retries: {len(scheduled)} re-sends to come, over up to 4 hours of simulated time")
        while scheduled:
            clock.advance_to(scheduled[0][0])
            run_due_resends()
        say(f"re-sending {len(at_the_end)} deliveries at the end of the run")
        for order_id, body, event_id in at_the_end:
            resend(order_id, body, event_id, "a late re-send")
        settle()
        clock.advance(REPLAY_AFTER.total_seconds())
        say(f"replaying {len(captured)} deliveries {REPLAY_AFTER} later, with their original signatures")
        for order_id, body, headers in captured:
            counted("replayed a day later with its original signature")
            status, answer = deliver(body, headers["X-Shopify-Event-Id"], headers=headers)
            report.consequences["replays refused: signed with the since retired secret" if status == 401
                                else "replays answered as duplicates"] += 1
            if status != 401:  # a retired secret refuses the replay; otherwise it is a duplicate
                check_duplicate_answer(order_id, headers["X-Shopify-Event-Id"], status, answer, "a replay")
        settle()
        watch.check()

        # ------------------------------------------------------------------ dead letters: fix, redrive, check
        def dead_letter_count() -> int:
            sqs = client("sqs")
            return sum(int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
                           ["Attributes"]["ApproximateNumberOfMessages"])
                       for url in sqs.list_queues(QueueNamePrefix="meshline-local-").get("QueueUrls", [])
                       if url.endswith(DLQ_SUFFIXES))

        run_until(lambda: dead_letter_count() >= len(poison_bodies), "every poison message in its DLQ")
        say(f"{dead_letter_count()} dead letters; onboarding {UNKNOWN_TENANT} and redriving them")
        seed_tenant(stack.runtime, OTHER_TENANT_POLICY.model_copy(update={"tenant_id": UNKNOWN_TENANT}), operators=())
        redriven = dead_letters(receipts_table, apply=True)
        if not all(letter.redriven for letter in redriven):
            report.unaccounted += [f"{letter.queue} {letter.message_id}: not redriven" for letter in redriven if not letter.redriven]
        unfixable = sum(1 for _, dlq in poison_bodies.values() if dlq)
        run_until(lambda: dead_letter_count() >= unfixable and not stack.runtime.in_flight(),
                  "the unfixable poison messages back in their DLQ")
        settle()
        aws_errors.enabled = interruptions.active = False
        report.faults.update(aws_errors.injected)
        report.consequences["process restarts after a crash"] = stack.restarts
        for kind, count in interruptions.injected.items():
            if kind.startswith("Lambda timeout in "):
                function, where = kind.removeprefix("Lambda timeout in ").split(" ", 1)
                report.faults[f"Lambda timeout in {function}"] += count
                report.where[f"{function} {where.strip('()')}"] += count
            else:
                report.faults[kind] += count
        report.driving_seconds = _wall() - driving
        say(f"driven in {report.driving_seconds:.1f} s ({report.orders_per_second:.1f} orders/s), "
            f"{stack.restarts} restarts after crashes; checking the stores")

        # ------------------------------------------------------------------ checks, from the stores
        sqs = client("sqs")

        def drain(url: str) -> list[dict]:
            """Every message on a queue, deleted as read (ten at a time)."""
            read = []
            while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                               AttributeNames=["All"]).get("Messages"):
                read += batch
                sqs.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(n), "ReceiptHandle": message["ReceiptHandle"]} for n, message in enumerate(batch)
                ])
            return read

        # Every failure ends retried to success (the checks below) or in a DLQ with its reason.
        for url in sqs.list_queues(QueueNamePrefix="meshline-local-").get("QueueUrls", []):
            name = url.rsplit("/", 1)[1]
            if not name.endswith(DLQ_SUFFIXES):
                continue
            sources = sqs.list_dead_letter_source_queues(QueueUrl=url).get("queueUrls", [])
            source = sources[0].rsplit("/", 1)[1] if len(sources) == 1 else None
            for message in drain(url):
                poison = poison_bodies.pop(message["Body"], None)
                failure = failure_of(receipts_table, source, message["MessageId"]) if source else None
                if poison is None:
                    report.unaccounted.append(f"{name}: a dead letter nobody planned ({failure['reason'] if failure else 'no reason recorded'})")
                elif poison[1] != name:
                    report.unaccounted.append(f"{name}: the poison '{poison[0]}' ended here, expected in {poison[1] or 'no DLQ (fixed)'}")
                elif failure is None:
                    report.unaccounted.append(f"{name}: the poison '{poison[0]}' has no reason recorded")
                elif not failure["reason"].startswith("ValidationError"):
                    report.unaccounted.append(f"{name}: the poison '{poison[0]}' failed for another reason: {failure['reason']}")
        for kind, dlq in poison_bodies.values():
            if dlq:
                report.unaccounted.append(f"the poison '{kind}' is in no DLQ")
        for order_id, trigger_id in fixable_orders:
            history = exports.history(UNKNOWN_TENANT, order_id)
            if [d["trigger"]["trigger_id"] for d in history] != [trigger_id]:
                report.unaccounted.append(f"{UNKNOWN_TENANT}/{order_id}: the redriven poison made "
                                          f"{[d['trigger']['trigger_id'] for d in history]}, expected one export")
        for message in drain(stack.runtime.deployed.physical["PublishFailureQueue"]):
            report.unaccounted.append(f"the stream gave up on a batch: {message['Body'][:200]}")

        queued: Counter[tuple[str, str]] = Counter()
        for url in warehouse_queues:
            for message in drain(url):
                queued[(message["MessageAttributes"]["export_id"]["StringValue"], url.rsplit("-", 1)[1].removesuffix(".fifo"))] += 1
        backordered_queue = Counter(message["MessageAttributes"]["export_id"]["StringValue"]
                                    for message in drain(environment["PublishFunction"]["BACKORDERS_QUEUE_URL"]))
        announced: Counter[tuple[str, str]] = Counter()
        for message in drain(tap):
            event = json.loads(message["Body"])
            export_id = event["detail"].get("export_id") or (event["detail"].get("export") or {}).get("export_id")
            announced[(event["detail-type"], export_id)] += 1
        bucket = environment["PublishFunction"]["ARCHIVE_BUCKET"]
        archived = Counter(
            version["Key"] for page in client("s3").get_paginator("list_object_versions").paginate(Bucket=bucket)
            for version in page.get("Versions", [])
        )

        for checked, order_id in enumerate(sorted(accepted), 1):
            if checked % (progress_every * 5) == 0:
                say(f"checked {checked:,}/{len(accepted):,} accepted orders")
            history = sorted(exports.history(TENANT, order_id), key=lambda d: d["version"])
            if not history:
                report.lost.append(order_id)
                continue
            if [d["version"] for d in history] != list(range(1, len(history) + 1)):
                report.duplicated.append(f"{order_id}: versions {[d['version'] for d in history]}")
            triggers = Counter(d["trigger"]["trigger_id"] for d in history)
            report.duplicated += [f"{order_id}: trigger {t} applied {n} times" for t, n in triggers.items() if n > 1]
            if set(triggers) != expected[order_id]:
                made = ", ".join(f"v{d['version']} {d['trigger']['trigger_id']} ({d['intended_action']})" for d in history)
                report.duplicated.append(f"{order_id}: versions {made}; expected one for each of {sorted(expected[order_id])}")
            answered = exports.acknowledgement_documents(TENANT, order_id)
            if not verify_chain(history, answered).verified:
                report.unverified.append(order_id)
            recorded = Counter(answer["request"]["ack_id"] for answer in answered)
            if recorded != Counter(answers.get(order_id, ())):
                report.duplicated.append(f"{order_id}: warehouse answers recorded {dict(recorded)}, sent {sorted(answers.get(order_id, ()))}")
            backordered_before: set[str] = set()
            for document in history:
                export_id = document["export_id"]
                key = f"exports/{TENANT}/{order_id}/v{document['version']:010d}.json"
                if archived[key] != 1:
                    report.misdelivered.append(f"{export_id}: archived {archived[key]} times")
                if announced[("ExportPublished", export_id)] < 1:
                    report.misdelivered.append(f"{export_id}: never announced")
                for warehouse in dict.fromkeys(line["warehouse_id"] for line in document["lines"] if line["action"] == "ship"):
                    if queued[(export_id, warehouse)] != 1:
                        report.misdelivered.append(f"{export_id}: on {warehouse}'s queue {queued[(export_id, warehouse)]} times")
                backordered = {line["line_id"] for line in document["lines"] if line["action"] == "backorder"}
                if backordered - backordered_before:
                    if backordered_queue[export_id] != 1:
                        report.misdelivered.append(f"{export_id}: on the backorders queue {backordered_queue[export_id]} times")
                    if announced[("CustomerNotificationRequested", export_id)] < 1:
                        report.misdelivered.append(f"{export_id}: its customer notification never announced")
                backordered_before = backordered
        dynamodb = client("dynamodb")
        for order_id, event_id in refused_events:
            if exports.history(TENANT, order_id):
                report.duplicated.append(f"{order_id}: refused, yet an export exists")
            if dynamodb.get_item(TableName=receipts_table, Key={"pk": {"S": f"{TENANT}#shopify#{event_id}"}}).get("Item"):
                report.duplicated.append(f"{order_id}: refused, yet its delivery {event_id} was remembered")
        report.simulated_hours = clock.moved_seconds / 3600
        report.seconds = _wall() - started
        return report
    except Exception:
        watch.check()  # a server stopped for its memory explains the error that followed
        raise
    finally:
        for undo_one in reversed(undo):
            undo_one()
        clock.stop()
        watch.stop()
        report.moto_peak_mb = watch.peak_mb
        report.harness_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        server.stop()


def print_report(report: HarnessReport) -> None:
    minutes, seconds = divmod(report.seconds, 60)
    print(f"orders: {report.orders:,} in {int(minutes)} min {seconds:.1f} s wall time "
          f"(driving {report.driving_seconds:.1f} s, {report.orders_per_second:.1f} orders/s; "
          f"{report.simulated_hours:.1f} h of simulated time)")
    print("faults injected:")
    for kind, count in sorted(report.faults.items()):
        print(f"    {kind:<72} {count:>7,}")
    print("what they led to:")
    for kind, count in sorted(report.consequences.items()):
        print(f"    {kind:<72} {count:>7,}")
    if report.where:
        print("Lambda timeouts, where:")
        for where, count in sorted(report.where.items()):
            print(f"    {where:<72} {count:>7,}")
    print(f"lost: {len(report.lost)}   duplicated: {len(report.duplicated)}   unverified chains: {len(report.unverified)}   "
          f"misdelivered: {len(report.misdelivered)}   unaccounted failures: {len(report.unaccounted)}")
    if report.never_injected:
        print(f"never injected: {', '.join(report.never_injected)}")
    moto = f"{report.moto_peak_mb:,.0f} MB" if report.moto_peak_mb is not None else "not measured (server not started here)"
    print(f"peak memory: moto server {moto}, harness process {report.harness_peak_mb:,.0f} MB")
    for problem in report.problems[:30]:
        print(f"    ! {problem}")


def main(quick: bool = False, orders: int | None = None) -> int:
    orders = orders or (40 if quick else 1000)
    print(f"fault harness: {orders:,} orders through the local stack", flush=True)
    report = run(orders, progress=lambda line: print(f"  {line}", flush=True), progress_every=max(10, min(500, orders // 20)))
    print()
    print_report(report)
    return 0 if report.clean and not report.never_injected else 1
