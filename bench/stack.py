"""The local stack as the benchmarks drive it, and the requests their scenarios make."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path


@contextmanager
def local_stack() -> Iterator[tuple]:
    """(runtime, cleanup): a moto server with template.yaml deployed into it and the local
    runtime driving it, in a fresh state directory. On exit, the callbacks pushed on
    `cleanup` (e.g. instrumentation's undo) run, then the server stops."""
    from meshline_local.stack import MotoServer, start_runtime

    server = MotoServer().start()
    with ExitStack() as cleanup:
        cleanup.callback(server.stop)
        yield start_runtime(server.endpoint_url, stage="local", state_dir=Path(tempfile.mkdtemp())), cleanup


def post(runtime, path: str, document: dict) -> None:
    """POST `document` to the operators' API as JSON, with the credential of whoever it is
    from (the answering warehouse, the signing operator); anything but a 2xx fails the benchmark."""
    from meshline_local.seed import bearer

    author = document.get("warehouse_id") or document["signed_by"]["operator"]
    status, _, answer = runtime.handle_http("POST", path, bearer(_credentials(runtime)[author]), json.dumps(document).encode())
    assert status < 300, f"{path}: {status} {answer[:500]!r}"


def get(runtime, path: str) -> dict:
    """GET from the operators' API as the demo tenant's operator; anything but a 200 fails."""
    from meshline_local.seed import bearer

    status, _, answer = runtime.handle_http("GET", path, bearer(_credentials(runtime)["agency:alice"]), b"")
    assert status == 200, f"{path}: {status} {answer[:500]!r}"
    return json.loads(answer)


def onboard(runtime, tenant_id: str) -> None:
    """Onboard a merchant like the demo one, as an administrator (SigV4)."""
    from meshline_local.samples import sigv4_headers
    from meshline_local.seed import DEMO_POLICY

    body = json.dumps({"tenant_id": tenant_id, "policy": DEMO_POLICY.draft().model_dump(mode="json"),
                       "platform_secrets": {"shopify": f"{tenant_id}-secret"}}).encode()
    status, _, answer = runtime.handle_http("POST", "/local/tenants", sigv4_headers("POST", "/local/tenants", body), body)
    assert status == 201, f"/tenants: {status} {answer[:500]!r}"


def _credentials(runtime) -> dict[str, str]:
    """The demo tenant's credentials, issued once per deployment (as onboarding would)."""
    if not hasattr(runtime, "bench_credentials"):
        from meshline_local.seed import seed_credentials

        runtime.bench_credentials = seed_credentials(runtime)
    return runtime.bench_credentials


def rejection(current, ack_id: str) -> dict:
    """The warehouse shipping `current`'s first line rejects all its lines (out of stock)."""
    warehouse = next(line.warehouse_id for line in current.lines if line.action == "ship")
    return {"ack_id": ack_id, "export_id": current.export_id, "warehouse_id": warehouse, "kind": "rejected",
            "reason_code": "out_of_stock", "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def override(held, warehouse_id: str, justification: str) -> dict:
    """An override that ships every line of `held` from `warehouse_id`, signed by agency:alice
    (with her own KMS key: the operator's call, not Meshline's)."""
    from meshline.dal.signatures import sign
    from meshline.domain.exports import LineChange
    from meshline.domain.overrides import signed_payload

    changes = [LineChange(line_id=line.line_id, action="ship", warehouse_id=warehouse_id) for line in held.lines]
    payload = signed_payload(held.tenant_id, held.order_id, held.version, "manual_reroute", justification, changes)
    return {"expected_version": held.version, "reason_code": "manual_reroute", "justification": justification,
            "changes": [change.model_dump(mode="json") for change in changes],
            "signed_by": sign("local", "agency:alice", payload).model_dump(mode="json")}


def drain(url: str) -> list[dict]:
    """Receive and delete every message on a queue (as its consumer would); returns them."""
    from meshline.dal.aws import client

    sqs, messages = client("sqs"), []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages"):
        messages += batch
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
    return messages
