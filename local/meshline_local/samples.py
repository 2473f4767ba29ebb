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

from meshline.platforms import bigcommerce, shopify, signing

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
SHOPIFY_SAMPLE = FIXTURES / "shopify" / "orders-create.json"
DEMO_TENANT = "acme"
DEMO_SHOP_DOMAIN = "acme-outfitters.myshopify.com"
# Not a secret: it signs the demo's webhooks on a laptop and in tests only.
DEMO_SECRET = "meshline-demo-shopify-secret"
DEMO_WOO_SECRET = "meshline-demo-woocommerce-secret"
DEMO_GENERIC_SECRET = "meshline-demo-generic-secret"
DEMO_BIGCOMMERCE_SECRET = "meshline-demo-bigcommerce-client-secret"


@cache
def sample_body() -> bytes:
    """The real Shopify orders/create body, byte for byte."""
    return SHOPIFY_SAMPLE.read_bytes()


def cancelled_body(order_id: int, placed_at: str, lines: list[tuple[str, int]], cancelled_at: str,
                   reason: str = "customer") -> bytes:
    """What Shopify sends on orders/cancelled for an order built by `routable_body`."""
    document = json.loads(routable_body(order_id, placed_at, lines))
    document.update(cancelled_at=cancelled_at, cancel_reason=reason, updated_at=cancelled_at)
    return json.dumps(document).encode()


def routable_body(
    order_id: int,
    placed_at: str,
    lines: list[tuple[str, int]],
    shipping_title: str = "Generic Shipping",
    name: str | None = None,
    ship_to: dict[str, Any] | None = None,
    discount_codes: list[str] = (),
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
    if ship_to:
        document["shipping_address"] = {**document["shipping_address"], **ship_to}
    document["discount_codes"] = [{"code": code, "amount": "5.00", "type": "fixed_amount"} for code in discount_codes]
    return json.dumps(document, indent=4).encode("utf-8")


DESTINATIONS = [
    {"city": "Louisville", "province_code": "KY", "country_code": "US", "latitude": 38.25, "longitude": -85.76},
    {"city": "Brooklyn", "province_code": "NY", "country_code": "US", "latitude": 40.65, "longitude": -73.95},
    {"city": "Oakland", "province_code": "CA", "country_code": "US", "latitude": 37.80, "longitude": -122.27},
    {"city": "Portland", "province_code": "OR", "country_code": "US", "latitude": 45.52, "longitude": -122.68},
    {"city": "Toronto", "province_code": "ON", "country_code": "CA", "latitude": 43.65, "longitude": -79.38},
    {"city": "Austin", "province_code": "TX", "country_code": "US", "latitude": 30.27, "longitude": -97.74},
]
SHIPPING_TITLES = ["Generic Shipping", "Generic Shipping", "Express Shipping", "Overnight Delivery"]


def sample_orders(count: int, first_id: int = 5001, seed: int = 7) -> list[bytes]:
    """`count` varied, realistic webhook bodies: a seeded mix of the demo SKUs, destinations
    across the US and Canada, service levels, promotions, placed over the past two weeks."""
    import random
    from datetime import UTC, datetime, timedelta

    rng = random.Random(seed)
    skus = ["TEE-BLK-M", "MUG-CLASSIC", "JERSEY-LTD", "706405908216", "706405907431"]
    start = datetime(2026, 11, 11, 8, 0, tzinfo=UTC)
    bodies = []
    for index in range(count):
        placed = start + timedelta(minutes=rng.randrange(14 * 24 * 60))
        lines = [(sku, rng.choice([1, 1, 1, 2, 3])) for sku in rng.sample(skus, rng.choice([1, 1, 2, 3]))]
        bodies.append(
            routable_body(
                first_id + index,
                placed.isoformat().replace("+00:00", "Z"),
                lines,
                shipping_title=rng.choice(SHIPPING_TITLES),
                ship_to=rng.choice(DESTINATIONS),
                discount_codes=["WINTER26"] if rng.random() < 0.2 else [],
            )
        )
    return bodies


def woocommerce_body() -> bytes:
    """The real WooCommerce sample order (tests/fixtures/woocommerce/order-created.json), compact,
    as WooCommerce delivers it."""
    return json.dumps(json.loads((FIXTURES / "woocommerce" / "order-created.json").read_text()), separators=(",", ":")).encode()


def woocommerce_headers(body: bytes, secret: str = DEMO_WOO_SECRET, delivery_id: str = "d-1",
                        topic: str = "order.created") -> dict[str, str]:
    """The headers WooCommerce sends with a webhook, signed with `secret`."""
    return {
        "Content-Type": "application/json",
        "X-WC-Webhook-Source": "https://shop.acme-outfitters.example/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": "order",
        "X-WC-Webhook-Event": topic.split(".")[1],
        "X-WC-Webhook-Signature": signing.sign(body, secret),
        "X-WC-Webhook-ID": "7",
        "X-WC-Webhook-Delivery-ID": delivery_id,
    }


def bigcommerce_body() -> bytes:
    """The real BigCommerce store/order/created callback (tests/fixtures/bigcommerce), byte for byte."""
    return (FIXTURES / "bigcommerce" / "store-order-created.json").read_bytes()


def bigcommerce_headers(body: bytes, secret: str = DEMO_BIGCOMMERCE_SECRET, webhook_id: str = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
                        timestamp: int | None = None) -> dict[str, str]:
    """The headers BigCommerce sends with a callback, signed per Standard Webhooks with `secret`
    at `timestamp` (Unix seconds; now by default)."""
    import time

    sent_at = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": sent_at,
        "webhook-signature": bigcommerce.sign(webhook_id, sent_at, body, secret),
    }


def generic_body(order_id: str = "A-1042", lines: list[tuple[str, int]] = (("TEE-BLK-M", 1),), **fields: Any) -> bytes:
    """An order as a generic source sends it (docs/SOURCES.md)."""
    document = {
        "id": order_id, "order_name": f"#{order_id}", "placed_at": "2026-11-25T09:30:00-05:00",
        "service_level": "standard",
        "ship_to": {"name": "Ada Lovelace", "line1": "123 Shipping Street", "city": "Louisville", "region_code": "KY",
                    "postal_code": "40202", "country_code": "US"},
        "lines": [{"line_id": str(index), "sku": sku, "quantity": quantity} for index, (sku, quantity) in enumerate(lines, 1)],
        **fields,
    }
    return json.dumps(document).encode()


def generic_headers(body: bytes, secret: str = DEMO_GENERIC_SECRET, delivery_id: str = "g-1",
                    topic: str = "order.created") -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Meshline-Topic": topic,
        "X-Meshline-Signature": signing.sign(body, secret),
        "X-Meshline-Delivery-Id": delivery_id,
    }


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
                      body: bytes, stage: str = "local", request_id: str | None = None,
                      query: dict[str, str] | None = None, authorizer: dict[str, Any] | None = None,
                      user_arn: str | None = None) -> dict[str, Any]:
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
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {name: [value] for name, value in query.items()} if query else None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method.upper(),
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": request_id,
            "identity": {"sourceIp": "127.0.0.1", "userAgent": headers.get("User-Agent", ""), "userArn": user_arn},
            **({"authorizer": authorizer} if authorizer is not None else {}),
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


def sigv4_headers(method: str, path: str, body: bytes = b"", access_key: str = "AKIAADMINEXAMPLE") -> dict[str, str]:
    """Headers of a SigV4-signed call to the operators' API, as `awscurl` or an SDK sends
    them (the onboarding routes; the local gateway requires the header, AWS verifies it)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=f"https://api.example.com{path}", data=body,
                         headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(access_key, "local-secret"), "execute-api", "us-east-1").add_auth(request)
    return dict(request.headers.items())
