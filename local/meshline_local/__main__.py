"""Meshline locally: `python -m meshline_local demo | stack`.

demo   starts moto, deploys template.yaml into it, seeds a demo merchant, sends the real
       Shopify sample and a handful of demo orders as signed webhooks over HTTP, and shows
       each resulting export and where it went (warehouse queue, event bus, S3 archive);
       then a warehouse rejects one order, Meshline re-routes it, and the other warehouse
       accepts and ships it.
stack  the same stack in the foreground, for poking with the AWS CLI (--endpoint-url), with
       the operators' console at /<stage>/console and demo orders for it.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from meshline.dal.aws import client
from meshline.dal.exports import ExportStore
from meshline.domain.audit import verify_chain
from meshline_local.demo_orders import seed_demo_orders
from meshline_local.runtime import LocalRuntime, print_line
from meshline_local.samples import (
    DEMO_SECRET,
    DEMO_TENANT,
    bigcommerce_body,
    bigcommerce_headers,
    routable_body,
    sample_body,
    shopify_headers,
    woocommerce_body,
    woocommerce_headers,
)
from meshline_local.seed import add_bus_tap, bearer, seed_credentials, seed_tenant
from meshline_local.stack import DEFAULT_STATE_DIR, MotoServer, free_port, start_runtime


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def demo_deliveries() -> list[tuple[str, bytes, dict[str, str]]]:
    """(what it is, body, headers): the real sample first, then demo orders and bad inputs."""
    today = "2026-11-25T09:30:00-05:00"  # a Wednesday morning in New York
    tee = routable_body(1001, today, [("TEE-BLK-M", 2)])
    mixed = routable_body(1002, today, [("TEE-BLK-M", 1), ("MUG-CLASSIC", 5)])
    scarce = routable_body(1003, today, [("JERSEY-LTD", 3)], shipping_title="Express Shipping")
    hats = routable_body(1004, "2026-11-25T16:45:00-05:00", [("706405908216", 1), ("706405907431", 1)])
    malformed = routable_body(1005, today, [("TEE-BLK-M", 1)]).replace(b'"quantity": 1', b'"quantity": 0', 1)
    return [
        ("the real Shopify sample (orders/create, arrived cancelled)", sample_body(), shopify_headers(sample_body(), event_id="evt-sample-0001")),
        ("#1001: 2 tees", tee, shopify_headers(tee, event_id="evt-1001")),
        ("#1002: a tee and 5 mugs", mixed, shopify_headers(mixed, event_id="evt-1002")),
        ("#1003: 3 limited jerseys, express", scarce, shopify_headers(scarce, event_id="evt-1003")),
        ("#1004: the sample's two hats, after the east cutoff", hats, shopify_headers(hats, event_id="evt-1004")),
        ("#1001 again: Shopify retries the same event", tee, shopify_headers(tee, event_id="evt-1001")),
        ("a forged webhook (signed with the wrong secret)", tee, shopify_headers(tee, secret="not-the-secret", event_id="evt-forged")),
        ("a malformed order (quantity 0)", malformed, shopify_headers(malformed, event_id="evt-1005")),
    ]


def _queue_messages(url: str) -> list[dict]:
    sqs = client("sqs")
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                   MessageAttributeNames=["All"]).get("Messages", [])
    return messages


def show_exports(runtime: LocalRuntime, order_ids: list[str], warehouse_queues: list[str], tap_url: str) -> None:
    env = runtime.functions["PublishFunction"].environment
    store = ExportStore(env["EXPORTS_TABLE"])
    bucket = env["ARCHIVE_BUCKET"]
    delivered: dict[str, list[str]] = {}
    for url in warehouse_queues:
        for message in _queue_messages(url):
            delivered.setdefault(message["MessageAttributes"]["export_id"]["StringValue"], []).append(url.rsplit("/", 1)[1])
    announced: dict[str, list[str]] = {}
    for message in _queue_messages(tap_url):
        event = json.loads(message["Body"])
        detail = event["detail"]
        export_id = detail["export"]["export_id"] if "export" in detail else detail.get("export_id") or detail.get("escalation_id")
        announced.setdefault(export_id, []).append(event["detail-type"])
    archived = {obj["Key"] for obj in client("s3").list_objects_v2(Bucket=bucket).get("Contents", [])}

    print("\nExports")
    print("=======")
    for order_id in order_ids:
        documents = store.history(DEMO_TENANT, order_id)
        answers = store.acknowledgement_documents(DEMO_TENANT, order_id)
        chain = verify_chain(documents, answers)
        for document in documents:
            lines = ", ".join(
                f"{line['sku']}×{line['quantity']}→{line['warehouse_id'] or line['action']}" for line in document["lines"]
            )
            ship_by = document["sla"].get("ship_by") or "—"
            key = f"exports/{DEMO_TENANT}/{order_id}/v{document['version']:010d}.json"
            print(f"\n{document['export_id']}  [{document['intended_action']}]  chain {'verified' if chain.verified else 'BROKEN'}")
            print(f"  owner        {document['owning_party']}   watchers: {', '.join(document['watchers'])}")
            print(f"  lines        {lines}")
            print(f"  ship by      {ship_by}   valid until {document['valid_until']}")
            path = document["exception_path"]
            print(f"  exception    on {path['on']}: {path['kind']}, retry budget {path['retry_budget']}, "
                  f"then {path['fallback']}" + (f", escalate to {' → '.join(path['contacts'])}" if path["contacts"] else ""))
            for instruction in document["instructions"]:
                print(f"  instruction  line {instruction['line_id']}: {instruction['kind']}: {instruction['text']}")
            explanation = document["explanation"]
            print(f"  why          {explanation['summary']}  (policy v{document['decision_version']['policy_version']})")
            for candidate in explanation["candidates"]:
                verdict = (f"#{candidate['rank']} {candidate['score']}" if candidate["kept"]
                           else f"eliminated by {candidate['eliminated_by']}")
                print(f"               - {candidate['warehouse_id']}: {verdict}: {candidate['detail']}")
            print(f"  warehouse    {', '.join(delivered.get(document['export_id'], [])) or 'none (nothing to ship)'}")
            print(f"  event bus    {', '.join(announced.get(document['export_id'], ['not announced']))}")
            print(f"  archive      s3://{bucket}/{key}" + ("" if key in archived else "  (MISSING)"))
            for answer in answers:
                if answer["export_version"] == document["version"]:
                    request = answer["request"]
                    said = request["kind"] + (f" ({request['reason_code']})" if request.get("reason_code") else "")
                    print(f"  answer {answer['sequence']}     {request['warehouse_id']}: {said}, chained to {answer['previous_hash'][:12]}…")


def answer_as_warehouses(runtime: LocalRuntime, api_url: str, order_id: str, tokens: dict[str, str]) -> None:
    """The warehouse sent the order rejects it on the results queue (as a WMS would); the
    one it is re-routed to accepts and ships it through the API."""
    store = ExportStore(runtime.functions["AcknowledgeApiFunction"].environment["EXPORTS_TABLE"])
    results_queue = runtime.deployed.physical["ResultsQueue"]
    print("\nWarehouse answers")
    print("=================")

    def answer(export: dict, warehouse_id: str, kind: str, ack_id: str, **fields: str) -> dict:
        return {"ack_id": ack_id, "export_id": export["export_id"], "warehouse_id": warehouse_id, "kind": kind,
                "at": export["created_at"], **fields}

    first = store.history(DEMO_TENANT, order_id)[-1]
    rejecting = first["lines"][0]["warehouse_id"]
    rejection = answer(first, rejecting, "rejected", f"{rejecting}-0001", reason_code="out_of_stock", note="shelf empty")
    client("sqs").send_message(QueueUrl=results_queue, MessageBody=json.dumps(rejection))
    runtime.settle()
    second = store.history(DEMO_TENANT, order_id)[-1]
    print(f"  results queue  {rejecting} rejects {first['export_id']} (out_of_stock)")
    print(f"                 → {second['export_id']}: {second['explanation']['summary']}")
    taker = second["lines"][0]["warehouse_id"]
    late = answer(first, rejecting, "accepted", f"{rejecting}-0002")
    for label, body in (
        (f"{taker} accepts {second['export_id']}", answer(second, taker, "accepted", f"{taker}-0001", estimated_ship_date="2026-11-26")),
        (f"{taker} ships it", answer(second, taker, "shipped", f"{taker}-0002", carrier="UPS", tracking_number="1Z999AA10123456784")),
        (f"{rejecting} answers the superseded {first['export_id']}", late),
    ):
        status, receipt = post(api_url, json.dumps(body).encode(), bearer(tokens[body["warehouse_id"]]))
        print(f"  API {status}        {label}: {receipt.get('message')}")
    runtime.settle()


def run_demo(args: argparse.Namespace) -> int:
    server = MotoServer(args.moto_port).start()
    print(f"» moto server on {server.endpoint_url}")
    state_dir = Path(tempfile.mkdtemp(prefix="meshline-demo-"))
    try:
        runtime = start_runtime(server.endpoint_url, stage=args.stage, state_dir=state_dir,
                                log=print_line if args.verbose else None)
        print(f"» deployed template.yaml into moto: {len(runtime.deployed.physical)} resources, "
              f"{len(runtime.functions)} functions, {len(runtime.routes)} route(s), {len(runtime.sources)} event source(s)")
        warehouse_queues = seed_tenant(runtime)
        tokens = seed_credentials(runtime)
        tap_url = add_bus_tap(runtime)
        print(f"» seeded tenant '{DEMO_TENANT}' (2 warehouses, stock, webhook secrets and a recorded BigCommerce store "
              f"in SSM, credentials for {', '.join(tokens)}) and a bus tap queue")
        api = runtime.serve_http("127.0.0.1", args.api_port or free_port())
        base = f"http://127.0.0.1:{api.server_address[1]}/{args.stage}/webhooks/shopify/{DEMO_TENANT}"
        print(f"» local API on {base}\n")
        print("Webhooks")
        print("========")
        accepted: list[str] = []
        for label, body, headers in demo_deliveries():
            status, answer = post(base, body, headers)
            detail = answer.get("status") or answer.get("message", "")
            print(f"  {status}  {label}: {detail}")
            if status == 202:
                accepted.append(answer["order_id"])
        woo_body, bc_body = woocommerce_body(), bigcommerce_body()
        for source, label, body, headers in (
            ("woocommerce", "the real WooCommerce sample (order.created, #727)", woo_body,
             woocommerce_headers(woo_body, delivery_id="wc-delivery-727")),
            ("bigcommerce", "the real BigCommerce callback (store/order/created, order 250; read from the recorded store)",
             bc_body, bigcommerce_headers(bc_body, webhook_id="msg_bc_delivery_250")),
        ):
            status, answer = post(base.replace("/webhooks/shopify/", f"/webhooks/{source}/"), body, headers)
            print(f"  {status}  {label}: {answer.get('status') or answer.get('message', '')}")
            if status == 202:
                accepted.append(answer["order_id"])
        started = time.perf_counter()
        runtime.settle()
        print(f"\n» decide and publish ran for every accepted order in {time.perf_counter() - started:.2f} s")
        show_exports(runtime, accepted, warehouse_queues, tap_url)
        answer_as_warehouses(runtime, f"http://127.0.0.1:{api.server_address[1]}/{args.stage}/acknowledgements",
                             "shopify-1001", tokens)
        show_exports(runtime, ["shopify-1001"], warehouse_queues, tap_url)
        print("\nPoke it yourself: python3 dev.py stack  (then aws --endpoint-url http://127.0.0.1:5000 ...)")
        api.shutdown()
        return 0
    finally:
        server.stop()


def run_stack(args: argparse.Namespace) -> int:
    server = MotoServer(args.moto_port).start()
    runtime = start_runtime(server.endpoint_url, stage=args.stage, state_dir=Path(args.state_dir), log=print_line)
    tokens: dict[str, str] = {}
    if args.seed_demo:
        seed_tenant(runtime)
        tokens = seed_credentials(runtime)
        add_bus_tap(runtime)
        if args.demo_orders:
            print("» seeding demo orders for the console (a few days of history, open work, one escalation)...", flush=True)
            seed_demo_orders(runtime, tokens)
    api = runtime.serve_http("127.0.0.1", args.api_port)
    base = f"http://127.0.0.1:{api.server_address[1]}/{args.stage}"
    print(f"moto (AWS APIs): {server.endpoint_url}   e.g. aws --endpoint-url {server.endpoint_url} sqs list-queues")
    print(f"API:             {base}/webhooks/shopify/<tenant_id>")
    print(f"console:         {base}/console   (sign in with an operator credential below; docs: {base}/docs)")
    print(f"demo secret:     {DEMO_SECRET if args.seed_demo else '(not seeded)'}")
    for who, token in tokens.items():
        print(f"credential       {who}: Authorization: Bearer {token}")
    for name, function in runtime.functions.items():
        print(f"function         {name}: {function.code_dir.relative_to(Path.cwd()) if function.code_dir.is_relative_to(Path.cwd()) else function.code_dir}/{function.handler}")
    stop = threading.Event()
    # `kill` or a closing terminal: stop the moto server this command started, too.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        runtime.run_pollers(stop)
    except KeyboardInterrupt:
        stop.set()
    finally:
        api.shutdown()
        server.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="meshline_local", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the demo end to end and show the exports")
    demo.add_argument("--moto-port", type=int, default=None, help="default: a free port")
    demo.add_argument("--api-port", type=int, default=None, help="default: a free port")
    demo.add_argument("--stage", default="local")
    demo.add_argument("--verbose", action="store_true", help="log every invocation")
    stack = commands.add_parser("stack", help="run the local stack in the foreground")
    stack.add_argument("--moto-port", type=int, default=5000)
    stack.add_argument("--api-port", type=int, default=3000)
    stack.add_argument("--stage", default="local")
    stack.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR))
    stack.add_argument("--no-seed", dest="seed_demo", action="store_false", help="do not seed the demo tenant")
    stack.add_argument("--no-orders", dest="demo_orders", action="store_false",
                       help="seed the demo tenant and credentials, but no orders (the console's demo data)")
    from meshline_local import flags, operate, signing

    operate.add_commands(commands)
    flags.add_commands(commands)
    signing.add_commands(commands)
    args = parser.parse_args(argv)
    if args.command == "demo":
        return run_demo(args)
    if args.command == "stack":
        return run_stack(args)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
