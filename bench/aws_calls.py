"""AWS calls per order: every billed API call Meshline's functions make, counted with
botocore's `before-call` event, through the local stack (moto), per path:

- happy: a signed webhook -> decide -> publish (warehouse queue, bus, archive);
- reroute: then the warehouse rejects it -> re-route -> publish the new version;
- escalate: then the other warehouse rejects it too: nobody else can ship it, so it is held
  for a person -> publish, which starts the escalation state machine (its task recorded);
- override: then a person's signed override ships it -> publish; the escalation resolves.

Calls made by the handlers are counted, by function and operation. Not counted here:
Lambda's own polling of queues and streams (bench/cost.py prices it: its SQS receives and
deletes are billed, its stream reads are free) and the harness's seeding and reading. The baseline is the floor the issue names:
one durable write and one delivery, 2 calls per order.

Goal (issue 7): at most 4 billed calls per order on the happy path.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

FLOOR = 2
GOAL = 4
BURST = 100
PATHS = ("happy", "reroute", "escalate", "override")


@dataclass
class Call:
    """One API call a function made: what it asked for, what came back, how long it took."""

    function: str
    operation: str  # service:Operation
    params: dict[str, Any]
    response: dict[str, Any]
    seconds: float


@dataclass
class Step:
    """One step of one order's path: its calls by function and operation and, when kept,
    each call, each invocation (function, handler seconds, event), the histories of the
    escalation executions it ran, and the bytes its functions logged."""

    calls: Counter[tuple[str, str]]
    kept: list[Call] = field(default_factory=list)
    invocations: list[tuple[str, float, dict]] = field(default_factory=list)
    executions: list[list[dict]] = field(default_factory=list)
    logged_bytes: int = 0


class CallCounter:
    """Counts (and with `keep`, records) the calls each function makes, at botocore's events.
    Which function is running is kept per thread, so a threaded local stack can be watched."""

    def __init__(self, keep: bool = False) -> None:
        self.keep = keep
        self.local = threading.local()
        self.calls: Counter[tuple[str, str]] = Counter()
        self.kept: list[Call] = []
        self.events: list[tuple[str, dict]] = []

    @property
    def inside(self) -> str | None:
        return getattr(self.local, "function", None)

    def enter(self, function: str | None, event: dict | None) -> None:
        self.local.function = function
        if function is not None and self.keep:
            self.events.append((function, event or {}))

    def hooks(self) -> dict[str, Callable]:
        return {"before-parameter-build": self._params, "before-call": self._count, "after-call": self._answered}

    def _params(self, params, context, **_):
        context["bench"] = (dict(params), time.perf_counter())

    def _count(self, model, **_):
        if self.inside is not None:
            self.calls[(self.inside, f"{model.service_model.service_name}:{model.name}")] += 1

    def _answered(self, parsed, model, context, **_):
        if self.keep and self.inside is not None:
            params, started = context.get("bench", ({}, time.perf_counter()))
            body = params.get("Body")
            if hasattr(body, "getvalue"):  # a file-like S3 body: keep its bytes
                params = {**params, "Body": body.getvalue()}
            self.kept.append(Call(self.inside, f"{model.service_model.service_name}:{model.name}", params, parsed,
                                  time.perf_counter() - started))

    def take(self, timed: list[tuple[str, float]] = ()) -> Step:
        """What was counted since the last take; `timed` are the runtime's (function, seconds)
        for the same invocations, in order."""
        step = Step(self.calls, self.kept, [(f, s, e) for (f, s), (_, e) in zip(timed, self.events)])
        self.calls, self.kept, self.events = Counter(), [], []
        return step


def instrument(counter: CallCounter) -> Callable[[], None]:
    """Count the calls of every client created from now on, by the function making them; returns the undo."""
    from bench.fault_harness import _hook_clients

    return _hook_clients(counter.hooks(), counter.enter)


def _logged_bytes(runtime) -> int:
    return sum(path.stat().st_size for path in runtime.log_dir.glob("*.log"))


def run(orders: int, keep: bool = False) -> dict[str, list[Step]]:
    from bench.stack import local_stack, override, post, rejection
    from meshline.dal.aws import client
    from meshline.dal.escalations import EscalationStore
    from meshline.dal.exports import ExportStore
    from meshline_local.samples import routable_body, shopify_headers
    from meshline_local.seed import seed_tenant

    counter = CallCounter(keep)
    with local_stack() as (runtime, cleanup):
        cleanup.callback(instrument(counter))
        seed_tenant(runtime)
        counter.take()
        exports = ExportStore(runtime.functions["DecideFunction"].environment["EXPORTS_TABLE"])
        tasks = EscalationStore(runtime.functions["TrackEscalationsFunction"].environment["EXPORTS_TABLE"])
        sfn = client("stepfunctions")
        machine = runtime.functions["PublishFunction"].environment["ESCALATION_STATE_MACHINE_ARN"]
        paths: dict[str, list[Step]] = {path: [] for path in PATHS}
        invoked, logged = len(runtime.invoker.invocations), _logged_bytes(runtime)

        def finished(path: str) -> Step:
            nonlocal invoked, logged
            runtime.settle()
            step = counter.take(runtime.invoker.invocations[invoked:])
            step.logged_bytes = _logged_bytes(runtime) - logged
            invoked, logged = len(runtime.invoker.invocations), _logged_bytes(runtime)
            paths[path].append(step)
            return step

        def reject(order_id: str, ack_id: str) -> None:
            post(runtime, "/local/acknowledgements", rejection(exports.latest(tenant_id="acme", order_id=order_id), ack_id))

        for index in range(orders):
            number = 9000 + index
            order_id = f"shopify-{number}"
            body = routable_body(number, "2026-11-25T09:30:00-05:00", [("TEE-BLK-M", 1)])
            runtime.handle_http("POST", "/local/webhooks/shopify/acme", shopify_headers(body, event_id=f"evt-{number}"), body)
            finished("happy")
            first = exports.latest(tenant_id="acme", order_id=order_id)
            reject(order_id, f"rej-{number}")
            finished("reroute")
            reject(order_id, f"rej2-{number}")
            runtime.run_until(lambda: tasks.tasks("acme", order_id), timeout=30, what="the escalation's first task")
            finished("escalate")
            held = exports.latest(tenant_id="acme", order_id=order_id)
            post(runtime, f"/local/tenants/acme/orders/{order_id}/overrides",
                 override(held, first.lines[0].warehouse_id, "Restocked: send it back to the first warehouse."))
            arn = f"{machine.replace(':stateMachine:', ':execution:')}:{held.export_id.replace(':', '-')}"
            runtime.run_until(lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING", timeout=30,
                              what="the escalation's end")
            step = finished("override")
            if keep:
                step.executions.append(sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"])
        return paths


def burst(orders: int, keep: bool = False) -> tuple[Step, Counter[str]]:
    """The happy path under load: one order first (it fills the per-process caches), then
    `orders` webhooks arrive before any is decided, as in a flash sale, and the stack then
    works through them. What batches, batches: decide takes up to 10 inbox messages per
    invocation and publish a batch of stream records, as the template configures them.
    Returns the burst's calls (with `keep`, each call and invocation, and the bytes logged)
    and its invocations by function."""
    from bench.stack import local_stack
    from meshline_local.samples import routable_body, shopify_headers
    from meshline_local.seed import seed_tenant

    counter = CallCounter(keep)
    with local_stack() as (runtime, cleanup):
        cleanup.callback(instrument(counter))
        seed_tenant(runtime)
        numbers = range(9500, 9501 + orders)
        for number in numbers:
            body = routable_body(number, "2026-11-25T09:30:00-05:00", [("TEE-BLK-M", 1)])
            runtime.handle_http("POST", "/local/webhooks/shopify/acme", shopify_headers(body, event_id=f"evt-{number}"), body)
            if number == numbers[0]:
                runtime.settle()
                counter.take()
                invoked, logged = len(runtime.invoker.invocations), _logged_bytes(runtime)
        runtime.settle()
        timed = runtime.invoker.invocations[invoked:]
        step = counter.take(timed)
        step.logged_bytes = _logged_bytes(runtime) - logged
        return step, Counter(function for function, _ in timed)


def steady_state(steps: list[Step]) -> list[Step]:
    """All but the first order, which also fills per-process caches (the webhook secret, the policy version)."""
    return steps[1:] or steps


def main(quick: bool = False) -> int:
    orders = 3 if quick else 10
    print(f"AWS calls per order: {orders} orders through the local stack, counted at botocore's before-call;\n"
          f"baseline = the floor of {FLOOR} (one durable write, one delivery)\n")
    paths = run(orders)
    for path, steps in paths.items():
        steady = [step.calls for step in steady_state(steps)]
        totals = [sum(counts.values()) for counts in steady]
        mean = sum(totals) / len(totals)
        print(f"{path}: {mean:.1f} calls per order (first order: {sum(steps[0].calls.values())}), {mean / FLOOR:.1f}x the floor")
        merged: Counter[tuple[str, str]] = Counter()
        for counts in steady:
            merged.update(counts)
        for (function, operation), count in sorted(merged.items()):
            print(f"    {function:<28} {operation:<38} {count / len(steady):.1f}")
    happy = [sum(step.calls.values()) for step in steady_state(paths["happy"])]
    mean = sum(happy) / len(happy)
    size = 20 if quick else BURST
    loaded, invocations = burst(size)
    per_order = sum(loaded.calls.values()) / size
    print(f"\nhappy path under load: a burst of {size} webhooks, decided and published in batches; "
          f"{per_order:.2f} calls per order")
    print("    invocations: " + ", ".join(f"{function} {count}" for function, count in sorted(invocations.items())))
    for (function, operation), count in sorted(loaded.calls.items()):
        print(f"    {function:<28} {operation:<38} {count / size:.2f}")
    print(f"\nhappy path: {mean:.1f} billed calls per order one order at a time "
          f"({_verdict(mean)}); {per_order:.2f} in a burst of {size} ({_verdict(per_order)})")
    return 0


def _verdict(calls: float) -> str:
    return f"goal <= {GOAL}: met" if calls <= GOAL else f"goal <= {GOAL}: MISSED by {calls / GOAL:.2f}x"
