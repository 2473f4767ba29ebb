"""The local stack, as the demo runs it: moto server in its own process, template.yaml
deployed into it, handlers dispatched in-process by the local runtime."""

import json
import os

import pytest

from meshline.dal.aws import client
from meshline.dal.exports import ExportStore, stored_document
from meshline.dal.tenants import TenantStore
from meshline.flows.replay import Replayer
from meshline_local.seed import add_bus_tap, bearer, seed_credentials, seed_tenant
from meshline_local.stack import MotoServer, start_runtime
from tests.conftest import REPLAY_TOTALS


@pytest.fixture(scope="session")
def moto_server():
    server = MotoServer().start()
    yield server
    server.stop()


class Stack:
    def __init__(self, runtime, state_dir, endpoint_url):
        self.runtime = runtime
        self.state_dir = state_dir
        self.endpoint_url = endpoint_url
        self.warehouse_queues = seed_tenant(runtime)
        self.tokens = seed_credentials(runtime)
        self.tap_url = add_bus_tap(runtime)
        self.env = {name: fn.environment for name, fn in runtime.functions.items()}
        self.exports = ExportStore(self.env["DecideFunction"]["EXPORTS_TABLE"])
        self.tenants = TenantStore(self.env["DecideFunction"]["TENANTS_TABLE"])

    def post_webhook(self, body: bytes, headers: dict, tenant_id: str = "acme"):
        status, _, payload = self.runtime.handle_http("POST", f"/local/webhooks/shopify/{tenant_id}", headers, body)
        return status, json.loads(payload or b"{}")

    def call(self, method: str, path: str, body=None, as_: str = "agency:alice", raw: bytes | None = None):
        """The operators' API, as one of the seeded credentials (`agency:alice`, `east`, ...)."""
        payload = raw if raw is not None else json.dumps(body).encode() if body is not None else b""
        status, _, answer = self.runtime.handle_http(method, f"/local{path}", bearer(self.tokens[as_]), payload)
        return status, json.loads(answer or b"{}")

    def drain(self, url: str) -> list[dict]:
        sqs, messages = client("sqs"), []
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], AttributeNames=["All"]).get("Messages"):
            messages.extend(batch)
            for message in batch:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return messages

    def warehouse_queue(self, warehouse_id: str) -> str:
        return next(url for url in self.warehouse_queues if url.endswith(f"-wh-acme-{warehouse_id}.fifo"))

    def archived(self) -> dict[str, bytes]:
        s3, bucket = client("s3"), self.env["PublishFunction"]["ARCHIVE_BUCKET"]
        keys = [obj["Key"] for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
        return {key: s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}

    def all_exports(self) -> list[dict]:
        table = self.env["DecideFunction"]["EXPORTS_TABLE"]
        items = client("dynamodb").scan(TableName=table)["Items"]
        return [stored_document(item) for item in items if item["sk"]["S"].startswith("V#")]


@pytest.fixture
def stack(moto_server, tmp_path):
    """A fresh deployment per test: moto's state is reset, the template deployed again."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_server.endpoint_url}/moto-api/reset", method="POST"))
    saved = dict(os.environ)
    # Escalation ladders in minutes run at 0.02 s per minute here (a 60-minute rung: 2 s), and
    # the functions read the feature flags again every second.
    runtime = start_runtime(moto_server.endpoint_url, stage="local", state_dir=tmp_path / "state",
                            parameters={"EscalationSecondsPerMinute": ESCALATION_SECONDS_PER_MINUTE,
                                        "FeatureFlagsMaxAgeSeconds": FEATURE_FLAGS_MAX_AGE_SECONDS})
    deployed = Stack(runtime, tmp_path / "state", moto_server.endpoint_url)
    yield deployed
    stop_running_executions()
    # Every export any stack test produced must replay to exactly itself.
    results = list(Replayer(deployed.exports, deployed.tenants).replay_all())
    REPLAY_TOTALS[0] += len(results)
    REPLAY_TOTALS[1] += sum(result.reproduced for result in results)
    os.environ.clear()
    os.environ.update(saved)
    failures = [f"{r.export_id}: {r.problem or '; '.join(map(str, r.differences))}" for r in results if not r.reproduced]
    assert not failures, "replay did not reproduce:\n" + "\n".join(failures)


ESCALATION_SECONDS_PER_MINUTE = "0.02"
FEATURE_FLAGS_MAX_AGE_SECONDS = "1"


def stop_running_executions() -> None:
    """An escalation still waiting for a person would outlive the test inside moto."""
    sfn = client("stepfunctions")
    for machine in sfn.list_state_machines()["stateMachines"]:
        for execution in sfn.list_executions(stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING")["executions"]:
            sfn.stop_execution(executionArn=execution["executionArn"])
