"""Signed sample webhooks: the real Shopify order, and routable orders derived from it.

The demo, the checked-in events/ and the tests all build their payloads here, so what
the README shows is what the tests assert.
"""

from __future__ import annotations

import copy
import json
import uuid
from functools import cache
from pathlib import Path
from typing import Any

from meshline.platforms import shopify

ROOT = Path(__file__).resolve().parents[2]
SHOPIFY_SAMPLE = ROOT / "tests" / "fixtures" / "shopify" / "orders-create.json"
DEMO_TENANT = "acme"
DEMO_SHOP_DOMAIN = "acme-outfitters.myshopify.com"
# Not a secret: it signs the demo's webhooks on a laptop and in tests only.
DEMO_SECRET = "meshline-demo-shopify-secret"


@cache
def sample_body() -> bytes:
    """The real Shopify orders/create body, byte for byte."""
    return SHOPIFY_SAMPLE.read_bytes()


def routable_body(
    order_id: int,
    placed_at: str,
    lines: list[tuple[str, int]],
    shipping_title: str = "Generic Shipping",
    name: str | None = None,
) -> bytes:
    """An open, paid order shaped exactly like the real sample, with its own id, time and lines."""
    document: dict[str, Any] = json.loads(sample_body())
    template_line = document["line_items"][0]
    document.update(
        id=order_id,
        name=name or f"#{order_id}",
        order_number=order_id,
        created_at=placed_at,
        updated_at=placed_at,
        cancelled_at=None,
        cancel_reason=None,
        financial_status="paid",
        test=False,
    )
    document["line_items"] = [
        {**copy.deepcopy(template_line), "id": order_id * 100 + index, "sku": sku, "quantity": quantity,
         "fulfillable_quantity": quantity, "title": f"Item {sku}", "name": f"Item {sku}"}
        for index, (sku, quantity) in enumerate(lines, start=1)
    ]
    document["shipping_lines"][0]["title"] = shipping_title
    return json.dumps(document, indent=4).encode("utf-8")


def shopify_headers(
    body: bytes,
    secret: str = DEMO_SECRET,
    event_id: str | None = None,
    topic: str = "orders/create",
    shop_domain: str = DEMO_SHOP_DOMAIN,
    triggered_at: str = "2026-11-25T12:00:00.000Z",
) -> dict[str, str]:
    """The headers Shopify sends with a webhook, signed with `secret`."""
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": shopify.sign(body, secret),
        "X-Shopify-Shop-Domain": shop_domain,
        "X-Shopify-API-Version": "2025-10",
        "X-Shopify-Webhook-Id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"webhook:{event_id}")),
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": triggered_at,
    }


def api_gateway_event(method: str, path: str, resource: str, path_parameters: dict[str, str], headers: dict[str, str],
                      body: bytes, stage: str = "local", request_id: str | None = None) -> dict[str, Any]:
    """A REST API (v1) Lambda proxy event, as API Gateway builds it."""
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        import base64

        text, encoded = base64.b64encode(body).decode("ascii"), True
    request_id = request_id or str(uuid.uuid4())
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method.upper(),
        "headers": dict(headers),
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method.upper(),
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": request_id,
            "identity": {"sourceIp": "127.0.0.1", "userAgent": headers.get("User-Agent", "")},
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def shopify_webhook_event(body: bytes, tenant_id: str = DEMO_TENANT, **header_options: Any) -> dict[str, Any]:
    headers = shopify_headers(body, **header_options)
    return api_gateway_event(
        "POST", f"/webhooks/shopify/{tenant_id}", "/webhooks/shopify/{tenant_id}", {"tenant_id": tenant_id}, headers, body
    )


def sample_events() -> dict[str, dict[str, Any]]:
    """One sample event per function, built from the real Shopify sample (events/)."""
    from datetime import UTC, datetime

    from meshline.domain.events import OrderReceived
    from meshline.domain.exports import Trigger, TriggerKind
    from meshline.domain.routing import decide
    from meshline.domain.inventory import StockSnapshot
    from meshline.platforms.shopify import normalize_order, parse_body
    from meshline_local.seed import DEMO_POLICY, DEMO_STOCK

    received_at = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)
    body = sample_body()
    api = shopify_webhook_event(body, event_id="e8e0d7c5-5f2b-4a52-9b0d-6a6f5d0e2c11")
    api["requestContext"]["requestId"] = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    api["headers"]["X-Shopify-Webhook-Id"] = api["multiValueHeaders"]["X-Shopify-Webhook-Id"][0]
    order = normalize_order(parse_body(body), DEMO_TENANT)
    trigger = Trigger(kind=TriggerKind.ORDER_CREATED, trigger_id=f"order_created:{order.order_id}",
                      source="shopify:orders/create", received_at=received_at,
                      delivery_ids={"event_id": "e8e0d7c5-5f2b-4a52-9b0d-6a6f5d0e2c11"})
    message = OrderReceived(trigger=trigger, order=order).model_dump_json()
    sqs = {"Records": [{
        "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d", "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
        "body": message,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795617000000", "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                       "ApproximateFirstReceiveTimestamp": "1795617000001", "SequenceNumber": "18849496460467696128",
                       "MessageGroupId": f"{DEMO_TENANT}:{order.order_id}", "MessageDeduplicationId": "3f2c1e"},
        "messageAttributes": {}, "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:meshline-dev-order-inbox.fifo", "awsRegion": "us-east-1"}]}
    export = decide(order, DEMO_POLICY, StockSnapshot(levels=DEMO_STOCK), trigger, None, received_at)
    pk = f"ORDER#{DEMO_TENANT}#{order.order_id}"
    stream = {"Records": [{
        "eventID": "c4ca4238a0b923820dcc509a6f75849b", "eventName": "INSERT", "eventVersion": "1.1",
        "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1795617001, "Keys": {"pk": {"S": pk}, "sk": {"S": "V#0000000001"}},
            "NewImage": {"pk": {"S": pk}, "sk": {"S": "V#0000000001"}, "item_type": {"S": "export"},
                         "export_id": {"S": export.export_id}, "tenant_id": {"S": DEMO_TENANT},
                         "order_id": {"S": order.order_id}, "version": {"N": "1"},
                         "content_hash": {"S": export.content_hash}, "created_at": {"S": "2026-11-25T14:30:00Z"},
                         "document": {"S": export.canonical_json()}},
            "SequenceNumber": "111", "SizeBytes": 2048, "StreamViewType": "NEW_IMAGE"},
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/meshline-dev-exports/stream/2026-11-25T00:00:00.000"}]}
    return {
        "ingest-shopify-orders-create.json": api,
        "decide-order-received.json": sqs,
        "publish-export-inserted.json": stream,
    }


def write_events() -> list[str]:
    written = []
    for name, event in sample_events().items():
        path = ROOT / "events" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(event, indent=2) + "\n")
        written.append(f"events/{name}")
    return written


if __name__ == "__main__":
    print("\n".join(f"wrote {name}" for name in write_events()))
