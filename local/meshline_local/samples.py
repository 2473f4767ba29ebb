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
