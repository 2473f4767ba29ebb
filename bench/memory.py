"""Memory: peak RSS of every function in template.yaml under its largest realistic event, a
250-line order, each invocation in a fresh interpreter, beside a bare boto3 handler.

A 250-line order (built from the real Shopify sample by `routable_body`, every line a SKU
both warehouses stock) goes through the local stack, and every invocation the runtime makes
runs in a new Python process with its function's environment, so each function is measured
on the events the order really produces:
ingest (the webhook) -> decide -> publish; a rejection of all its lines over the API
(acknowledge-api) re-routes them; a stock drop (reevaluate-inventory); the other
warehouse's rejection on the results queue (acknowledge-results) holds them and starts an
escalation (track-escalations keeps its task); a signed override of all 250 lines ships
them (override-exports) and resolves it; a replay of the order (administer-policies); the
console's page (serve-console); the sweep once the export's acknowledge_by has passed
(sweep-follow-ups, run under freezegun).

For each process: RSS after the handler's imports (VmRSS); then the high-water mark is reset
(/proc/self/clear_refs) and read again once the handler returned (VmHWM), so the handler's
own growth is the difference; the absolute peak is the larger of the import and handler
peaks. Not getrusage's ru_maxrss: Linux keeps it across execve, so a child started from
this process reports this process's peak (about 200 MB here) whatever it does. A function
invoked several times reports its largest peak. The baseline is a bare handler
that imports boto3 and lists queues once, run the same way (as cold_start.py's baseline).
Each peak is compared with the function's MemorySize in the template; over 50% is flagged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

RUNNER = textwrap.dedent("""
    import time
    real = {"clock": time.perf_counter}  # freezegun stops time.perf_counter, and every module-level name for it
    clock = lambda: real["clock"]()
    started = clock()
    import json, sys, types
    def status_kb(key):
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith(key + ":"))
    job = json.loads(open(sys.argv[1]).read())
    if job["frozen_at"]:
        from freezegun import freeze_time
        from meshline_local.freezing import build_models
    sys.path.insert(0, job["code_dir"])
    module, name = job["handler"].rsplit(".", 1)
    entry = getattr(__import__(module), name)
    imported = clock()
    after_import, import_peak = status_kb("VmRSS"), status_kb("VmHWM")
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # the high-water mark starts again from the RSS after imports
    context = types.SimpleNamespace(function_name=job["name"], memory_limit_in_mb=job["memory"], invoked_function_arn=job["arn"],
                                    aws_request_id="bench", function_version="$LATEST", log_group_name="", log_stream_name="bench",
                                    get_remaining_time_in_millis=lambda: 60000)
    if job["frozen_at"]:
        build_models(import_all=False)  # the handler's models only: pydantic cannot build them once frozen
        freeze_time(job["frozen_at"]).start()
    handling = clock()
    result = entry(job["event"], context)
    handled = clock()
    with open(sys.argv[2], "w") as out:
        json.dump({"result": result, "after_import_kb": after_import, "import_peak_kb": import_peak,
                   "handler_peak_kb": status_kb("VmHWM"), "import_seconds": imported - started,
                   "handler_seconds": handled - handling}, out)
""")

BARE = textwrap.dedent("""
    import boto3
    def lambda_handler(event, context):
        boto3.client("sqs").list_queues()
        return {}
""")
FLAG_SHARE = 0.5
LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024  # what one invocation's event may hold
FULL_BATCH = "PublishFunction (full batch)"


@dataclass
class Peak:
    """One invocation, in KB: its event, the RSS after imports, the high-water mark while the
    handler ran, and the process's peak."""

    event_kb: float
    after_import_kb: int
    handler_peak_kb: int
    peak_kb: int
    import_seconds: float = 0.0  # the handler module's import, in a fresh interpreter
    handler_seconds: float = 0.0  # its first (and only) event, against the local moto server
    records: int = 1

    @property
    def handler_growth_kb(self) -> int:
        return self.handler_peak_kb - self.after_import_kb


def _invoker_class():
    from meshline_local.runtime import FunctionError, Invoker

    class Measured(Invoker):
        """Runs every invocation in a fresh interpreter and keeps its Peak, by function."""

        def __init__(self) -> None:
            super().__init__()
            self.peaks: dict[str, list[Peak]] = {}
            self.frozen_at: str | None = None
            self.folder = Path(tempfile.mkdtemp())

        def invoke(self, function, event):
            job, out = self.folder / "job.json", self.folder / "out.json"
            event_json = json.dumps(event, default=lambda value: value.timestamp())  # stream times: epoch seconds, as Lambda sends them
            job.write_text(json.dumps({"code_dir": str(function.code_dir), "handler": function.handler, "name": function.name,
                                       "memory": function.memory, "arn": function.arn, "frozen_at": self.frozen_at})[:-1]
                           + f', "event": {event_json}}}')
            keep = ("PATH", "HOME", "LANG", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
            env = {**{k: v for k, v in os.environ.items() if k in keep}, **function.environment,
                   "AWS_LAMBDA_FUNCTION_NAME": function.name, "PYTHONDONTWRITEBYTECODE": "1"}
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", RUNNER, str(job), str(out)], env=env, capture_output=True, text=True)
            self.invocations.append((function.logical_id, time.perf_counter() - started))
            if done.returncode:
                raise FunctionError(f"{function.logical_id}: {done.stderr[-3000:]}")
            measured = json.loads(out.read_text())
            self.peaks.setdefault(function.logical_id, []).append(Peak(
                len(event_json) / 1024, measured["after_import_kb"], measured["handler_peak_kb"],
                max(measured["import_peak_kb"], measured["handler_peak_kb"]),
                measured["import_seconds"], measured["handler_seconds"]))
            return measured["result"]

    return Measured


def _publish_a_full_batch(runtime, skus: list[str], orders: int) -> Peak:
    """Publish's largest event: its stream held back while `orders` orders of `skus` are
    decided, then as many of their exports as one event can carry (the batch size, at most
    Lambda's 6 MB) handed to it at once."""
    from meshline_local.runtime import StreamSource
    from meshline_local.samples import routable_body, shopify_headers

    [publisher] = [s for s in runtime.sources if isinstance(s, StreamSource) and s.function.logical_id == "PublishFunction"]
    runtime.sources.remove(publisher)
    for number in range(7100, 7100 + orders):
        body = routable_body(number, "2026-11-25T09:30:00-05:00", [(sku, 1) for sku in skus])
        runtime.handle_http("POST", "/local/webhooks/shopify/acme", shopify_headers(body, event_id=f"evt-{number}"), body)
    runtime.settle(timeout=600)
    batch: list[dict] = []
    size = len('{"Records": []}')
    for shard_key, record in publisher.waiting():
        size += len(json.dumps(record, default=str)) + 2
        if len(batch) == publisher.batch_size or size > LAMBDA_PAYLOAD_LIMIT:
            break
        batch.append(record)
        last = (shard_key, record["dynamodb"]["SequenceNumber"])
    runtime.invoker.invoke(publisher.function, {"Records": batch})
    peak = runtime.invoker.peaks["PublishFunction"].pop()
    peak.records = len(batch)
    # As the event source mapping does after a batch that succeeded: on from its last record.
    publisher.checkpoints.set(*last)
    publisher.iterators.clear()
    runtime.sources.append(publisher)
    measured = len(runtime.invoker.peaks["PublishFunction"])
    runtime.settle(timeout=600)
    # The exports that did not fit are published now, in the runtime's own batches; they are
    # not the single order's publications the PublishFunction row is about.
    del runtime.invoker.peaks["PublishFunction"][measured:]
    return peak


def run(lines: int, batch_orders: int = 0) -> tuple[dict[str, list[Peak]], Peak, dict[str, int]]:
    """Per function, its invocations; the bare handler's; MemorySize (MB) per function. With
    `batch_orders`, publish is also measured under one full batch (FULL_BATCH)."""
    from datetime import UTC, datetime, timedelta

    from bench.stack import get, local_stack, onboard, override, post, rejection
    from meshline.dal.aws import client
    from meshline.dal.escalations import EscalationStore
    from meshline.dal.exports import ExportStore
    from meshline_local.runtime import Function
    from meshline_local.samples import routable_body, shopify_headers
    from meshline_local.seed import DEMO_STOCK, seed_tenant

    skus = [f"BENCH-{i:03d}" for i in range(lines)]
    with local_stack() as (runtime, _):
        seed_tenant(runtime, stock={**DEMO_STOCK, **{sku: {"east": 50, "west": 50} for sku in skus}})
        invoker = runtime.invoker = _invoker_class()()
        exports = ExportStore(runtime.functions["DecideFunction"].environment["EXPORTS_TABLE"])
        tasks = EscalationStore(exports.table)
        order_id = "shopify-7001"
        latest = lambda: exports.latest(tenant_id="acme", order_id=order_id)

        body = routable_body(7001, "2026-11-25T09:30:00-05:00", [(sku, 1) for sku in skus])
        runtime.handle_http("POST", "/local/webhooks/shopify/acme", shopify_headers(body, event_id="evt-7001"), body)
        runtime.settle(timeout=120)
        post(runtime, "/local/acknowledgements", rejection(latest(), "mem-rej-1"))
        runtime.settle(timeout=120)
        shipping = next(line.warehouse_id for line in latest().lines if line.action == "ship")
        detail = {"tenant_id": "acme", "sku": skus[0], "warehouse_id": shipping, "available": 0,
                  "changed_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        client("events").put_events(Entries=[{"EventBusName": runtime.functions["PublishFunction"].environment["EVENT_BUS_NAME"],
                                              "Source": "meshline.inventory", "DetailType": "InventoryLevelChanged",
                                              "Detail": json.dumps(detail)}])
        runtime.settle(timeout=120)
        results = next(s.queue_url for s in runtime.sources if s.function.logical_id == "AcknowledgeResultsFunction")
        client("sqs").send_message(QueueUrl=results, MessageBody=json.dumps(rejection(latest(), "mem-rej-2")))
        runtime.settle(timeout=120)
        runtime.run_until(lambda: tasks.tasks("acme", order_id), timeout=120, what="the escalation's first task")
        post(runtime, f"/local/tenants/acme/orders/{order_id}/overrides",
             override(latest(), "east", "Both warehouses restocked overnight: ship everything from east."))
        runtime.settle(timeout=120)
        for read in ("replay", "history"):
            get(runtime, f"/local/tenants/acme/orders/{order_id}/{read}")
        get(runtime, "/local/tenants/acme/exceptions")
        page_status = runtime.handle_http("GET", "/local/console", {}, b"")[0]  # the console's page needs no credential
        assert page_status == 200, f"/local/console: {page_status}"
        get(runtime, "/local/tenants/acme/reports/reconciliation?from=2026-11-01&to=2026-11-30")
        onboard(runtime, "initech")
        due = latest().sla.acknowledge_by
        invoker.frozen_at = (due + timedelta(minutes=1)).isoformat()
        runtime.fire_schedules()
        invoker.frozen_at = None
        runtime.settle(timeout=120)

        kinds = [document["trigger"]["kind"] for document in exports.history("acme", order_id)]
        assert kinds == ["order_created", "warehouse_rejected", "inventory_changed", "warehouse_rejected", "manual_override",
                         "sla_lapsing"], f"the order's versions are not the ones this benchmark means to cause: {kinds}"
        if batch_orders:
            invoker.peaks[FULL_BATCH] = [_publish_a_full_batch(runtime, skus, batch_orders)]
        folder = Path(tempfile.mkdtemp())
        (folder / "bare_handler.py").write_text(BARE)
        ingest = runtime.functions["IngestFunction"]
        bare = Function("BareBoto3Handler", ingest.name, ingest.arn, folder, "bare_handler.lambda_handler",
                        ingest.environment, ingest.timeout, 128)
        invoker.invoke(bare, {"body": body.decode()})
        invocations = dict(invoker.peaks)
        memory = {name: function.memory for name, function in runtime.functions.items()}
        if batch_orders:
            memory[FULL_BATCH] = memory["PublishFunction"]
        return invocations, invocations.pop("BareBoto3Handler")[0], memory


def main(quick: bool = False) -> int:
    lines = 25 if quick else 250
    print(f"memory: peak RSS of each handler under a {lines}-line order's events, each invocation in a fresh interpreter,\n"
          f"and of publish under a full batch of such exports; baseline = a bare boto3 handler run the same way;\n"
          f"flagged over {FLAG_SHARE:.0%} of the template's MemorySize\n")
    invocations, bare, memory = run(lines, batch_orders=10 if quick else 100)
    largest = {name: max(peaks, key=lambda peak: peak.peak_kb) for name, peaks in invocations.items()}
    print(f"{'function':<30} {'event KB':>8} {'imports MB':>10} {'handler +MB':>11} {'peak MB':>8} {'x bare':>6} "
          f"{'MemorySize':>10} {'share':>6}")
    rows = [("(bare boto3 handler)", bare, None), *((name, largest.get(name), memory[name]) for name in sorted(memory))]
    flagged = []
    for name, peak, size in rows:
        if peak is None:
            print(f"{name:<30} not invoked")
            flagged.append(f"{name} (not invoked)")
            continue
        share = peak.peak_kb / 1024 / size if size else None
        flag = "  OVER" if share and share > FLAG_SHARE else ""
        flagged += [name] if flag else []
        print(f"{name:<30} {peak.event_kb:>8.1f} {peak.after_import_kb / 1024:>10.1f} {peak.handler_growth_kb / 1024:>11.1f} "
              f"{peak.peak_kb / 1024:>8.1f} {peak.peak_kb / bare.peak_kb:>6.2f}"
              + (f" {size:>7} MB {share:>6.0%}{flag}" if size else ""))
    full = largest[FULL_BATCH]
    print(f"\n{FULL_BATCH}: {full.records} exports of {lines} lines, {full.event_kb / 1024:.1f} MB of event "
          f"(a batch holds at most {LAMBDA_PAYLOAD_LIMIT // 2**20} MB)")
    print(f"over {FLAG_SHARE:.0%} of MemorySize (or not measured): {', '.join(flagged) or 'none'}")
    return 0 if all("not invoked" not in name for name in flagged) else 1
