"""AWS calls per order: every billed API call Meshline's functions make, counted with
botocore's `before-call` event, through the local stack (moto), per path:

- happy: a signed webhook -> decide -> publish (warehouse queue, bus, archive);
- reroute: then the warehouse rejects it -> re-route -> publish the new version;
- override: then a person's signed override -> publish.

Calls made by the handlers are counted, by function and operation. Not counted: Lambda's
own polling of queues and streams (billed to the event source mapping, the same for any
design) and the harness's seeding and reading. The baseline is the floor the issue names:
one durable write and one delivery, 2 calls per order.

Goal (issue 7): at most 4 billed calls per order on the happy path.
"""

from __future__ import annotations

from collections.abc import Callable

import json
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

FLOOR = 2
GOAL = 4


class CallCounter:
    def __init__(self) -> None:
        self.inside: str | None = None
        self.calls: Counter[tuple[str, str]] = Counter()

    def hook(self, model, **_):  # botocore's before-call event
        if self.inside is not None:
            self.calls[(self.inside, f"{model.service_model.service_name}:{model.name}")] += 1

    def take(self) -> Counter[tuple[str, str]]:
        taken, self.calls = self.calls, Counter()
        return taken


def _instrument(counter: CallCounter) -> Callable[[], None]:
    """Count the calls of every client created from now on, by the function making them; returns the undo."""
    from bench.fault_harness import _hook_clients

    return _hook_clients("before-call", counter.hook, lambda function: setattr(counter, "inside", function))


def run(orders: int) -> dict[str, list[Counter[tuple[str, str]]]]:
    from meshline.dal.signatures import sign
    from meshline.domain.exports import LineChange
    from meshline.domain.overrides import signed_payload
    from meshline_local.samples import routable_body, shopify_headers
    from meshline_local.seed import bearer, seed_credentials, seed_tenant
    from meshline_local.stack import MotoServer, start_runtime

    counter = CallCounter()
    undo: Callable[[], None] = lambda: None
    server = MotoServer().start()
    try:
        runtime = start_runtime(server.endpoint_url, stage="local", state_dir=Path(tempfile.mkdtemp()))
        undo = _instrument(counter)
        seed_tenant(runtime)
        tokens = seed_credentials(runtime)
        from meshline.dal.exports import ExportStore

        exports = ExportStore(runtime.functions["DecideFunction"].environment["EXPORTS_TABLE"])
        paths: dict[str, list[Counter[tuple[str, str]]]] = {"happy": [], "reroute": [], "override": []}
        for index in range(orders):
            number = 9000 + index
            body = routable_body(number, "2026-11-25T09:30:00-05:00", [("TEE-BLK-M", 1)])
            runtime.handle_http("POST", "/local/webhooks/shopify/acme", shopify_headers(body, event_id=f"evt-{number}"), body)
            runtime.settle()
            paths["happy"].append(counter.take())
            first = exports.latest(tenant_id="acme", order_id=f"shopify-{number}")
            warehouse = first.lines[0].warehouse_id
            rejection = {"ack_id": f"rej-{number}", "export_id": first.export_id, "warehouse_id": warehouse,
                         "kind": "rejected", "reason_code": "out_of_stock",
                         "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
            runtime.handle_http("POST", "/local/acknowledgements", bearer(tokens[warehouse]), json.dumps(rejection).encode())
            runtime.settle()
            paths["reroute"].append(counter.take())
            second = exports.latest(tenant_id="acme", order_id=f"shopify-{number}")
            changes = [LineChange(line_id=second.lines[0].line_id, action="ship", warehouse_id=warehouse)]
            justification = "Restocked: send it back to the first warehouse."
            payload = signed_payload("acme", second.order_id, second.version, "manual_reroute", justification, changes)
            signature = sign("local", "agency:alice", payload)  # the operator's own call, not Meshline's
            body = {"expected_version": second.version, "reason_code": "manual_reroute", "justification": justification,
                    "changes": [c.model_dump(mode="json") for c in changes], "signed_by": signature.model_dump(mode="json")}
            runtime.handle_http("POST", f"/local/tenants/acme/orders/{second.order_id}/overrides",
                                bearer(tokens["agency:alice"]), json.dumps(body).encode())
            runtime.settle()
            paths["override"].append(counter.take())
        return paths
    finally:
        undo()
        server.stop()


def main(quick: bool = False) -> int:
    orders = 3 if quick else 10
    print(f"AWS calls per order: {orders} orders through the local stack, counted at botocore's before-call;\n"
          f"baseline = the floor of {FLOOR} (one durable write, one delivery)\n")
    paths = run(orders)
    for path, per_order in paths.items():
        steady = per_order[1:] or per_order  # the first order also fills per-process caches
        totals = [sum(counts.values()) for counts in steady]
        mean = sum(totals) / len(totals)
        print(f"{path}: {mean:.1f} calls per order (first order: {sum(per_order[0].values())}), {mean / FLOOR:.1f}x the floor")
        merged: Counter[tuple[str, str]] = Counter()
        for counts in steady:
            merged.update(counts)
        for (function, operation), count in sorted(merged.items()):
            print(f"    {function:<28} {operation:<38} {count / len(steady):.1f}")
    happy = [sum(c.values()) for c in (paths["happy"][1:] or paths["happy"])]
    mean = sum(happy) / len(happy)
    verdict = "met" if mean <= GOAL else f"MISSED by {mean / GOAL:.2f}x"
    print(f"\nhappy path: {mean:.1f} billed calls per order (goal <= {GOAL}: {verdict})")
    return 0
