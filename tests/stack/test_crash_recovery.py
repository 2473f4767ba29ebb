"""Kill the process between the export's write and its publication, or after publication before
its checkpoint: it is still published, once, on every queue."""

import json
import signal
import subprocess
import sys

from meshline.dal.aws import client
from tests.payloads import routable_body, shopify_headers

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def probe(stack, mode: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.stack.crash_probe", stack.endpoint_url, str(stack.state_dir), mode],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )


def _accept_one_order(stack):
    body = routable_body(1001, "2026-11-25T09:30:00-05:00", [("TEE-BLK-M", 2)])
    assert stack.post_webhook(body, shopify_headers(body, event_id="evt-1001"))[0] == 202


def _archive_versions(stack):
    bucket = stack.env["PublishFunction"]["ARCHIVE_BUCKET"]
    return client("s3").list_object_versions(Bucket=bucket).get("Versions", [])


def test_killed_after_the_write_the_restart_publishes_exactly_once(stack):
    _accept_one_order(stack)
    crashing = probe(stack, "after-write")
    assert crashing.stdout.readline().strip() == "WRITTEN"
    crashing.send_signal(signal.SIGKILL)
    crashing.wait(timeout=10)
    assert crashing.returncode == -signal.SIGKILL
    assert len(stack.exports.history("acme", "shopify-1001")) == 1
    assert _archive_versions(stack) == []  # stored, not yet published

    restarted = probe(stack, "resume")
    assert restarted.communicate(timeout=60)[0].strip() == "SETTLED"

    [message] = stack.drain(stack.warehouse_queue("east"))
    assert json.loads(message["Body"])["export_id"] == "acme:shopify-1001:v1"
    assert [json.loads(m["Body"])["detail"]["export"]["export_id"] for m in stack.drain(stack.tap_url)] == ["acme:shopify-1001:v1"]
    assert len(_archive_versions(stack)) == 1


def test_killed_after_publication_before_its_checkpoint_the_warehouse_still_gets_it_once(stack):
    _accept_one_order(stack)
    crashing = probe(stack, "after-send")
    crashing.wait(timeout=60)
    assert crashing.returncode == -signal.SIGKILL

    restarted = probe(stack, "resume")
    assert restarted.communicate(timeout=60)[0].strip() == "SETTLED"

    # The stream redelivered the record; the FIFO queue deduplicated on the export's hash
    # and the archive's If-None-Match refused a second object.
    assert len(stack.drain(stack.warehouse_queue("east"))) == 1
    assert len(_archive_versions(stack)) == 1
    # EventBridge has no deduplication: consumers deduplicate on the export id it carries.
    announced = {json.loads(m["Body"])["detail"]["export"]["export_id"] for m in stack.drain(stack.tap_url)}
    assert announced == {"acme:shopify-1001:v1"}


def test_killed_after_a_backorder_is_queued_the_restart_queues_it_once(stack):
    """The backorders queue deduplicates on the export too: the redelivered record queues nothing new."""
    body = routable_body(1003, "2026-11-25T09:30:00-05:00", [("JERSEY-LTD", 3)])  # no warehouse holds three
    assert stack.post_webhook(body, shopify_headers(body, event_id="evt-1003"))[0] == 202
    crashing = probe(stack, "after-send")
    crashing.wait(timeout=60)
    assert crashing.returncode == -signal.SIGKILL

    restarted = probe(stack, "resume")
    assert restarted.communicate(timeout=60)[0].strip() == "SETTLED"

    [queued] = stack.drain(stack.env["PublishFunction"]["BACKORDERS_QUEUE_URL"])
    assert json.loads(queued["Body"])["export_id"] == "acme:shopify-1003:v1"
    # The customer notification is an event: consumers deduplicate on the export id it names.
    notified = {json.loads(m["Body"])["detail"]["export_id"] for m in stack.drain(stack.tap_url)
                if json.loads(m["Body"])["detail-type"] == "CustomerNotificationRequested"}
    assert notified == {"acme:shopify-1003:v1"}
