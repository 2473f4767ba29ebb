"""Flow 1, ingest: verify a platform webhook, normalize it, remember the delivery, enqueue it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from meshline.dal.aws import client
from meshline.dal.receipts import Delivery, WebhookReceipts
from meshline.dal.secrets import SecretNotFound, webhook_secrets
from meshline.domain.errors import MeshlineError
from meshline.domain.events import OrderReceived
from meshline.domain.exports import Trigger, TriggerKind
from meshline.domain.orders import Order, OrderStatus, Platform
from meshline.domain.types import format_utc
from meshline.observability import MetricUnit, logger, metrics
from meshline.platforms import generic, shopify, woocommerce
from meshline.platforms.common import parse_body
from meshline.platforms.signing import signature_matches
from meshline.settings import IngestSettings


class IngestRefused(MeshlineError):
    """A webhook refused before anything was stored; `status` is the HTTP answer."""

    def __init__(self, status: int, message: str):
        self.status = status
        super().__init__(message)


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"  # a well-formed update that changes nothing Meshline decided


@dataclass(frozen=True)
class IngestResult:
    outcome: Outcome
    order_id: str
    delivery_id: str
    first_received_at: str


@dataclass(frozen=True)
class WebhookSource:
    """How one platform signs, names and identifies its order webhooks."""

    platform: Platform
    name: str  # as people write it, for messages
    signature_header: str  # display case; headers are looked up lower-cased
    topic_header: str
    delivery_headers: tuple[str, ...]  # the first present identifies the delivery
    topics: Mapping[str, TriggerKind | None]  # None: an update, acted on only when it cancels the order
    normalize: Callable[[Mapping[str, Any], str], Order]
    recorded_headers: Mapping[str, str] = field(default_factory=dict)  # delivery_ids key -> header


SHOPIFY = WebhookSource(
    platform=Platform.SHOPIFY,
    name="Shopify",
    signature_header="X-Shopify-Hmac-Sha256",
    topic_header="X-Shopify-Topic",
    delivery_headers=(shopify.EVENT_ID_HEADER, shopify.WEBHOOK_ID_HEADER),
    topics={"orders/create": TriggerKind.ORDER_CREATED, "orders/cancelled": TriggerKind.ORDER_CANCELLED},
    normalize=shopify.normalize_order,
    recorded_headers={"event_id": shopify.EVENT_ID_HEADER, "webhook_id": shopify.WEBHOOK_ID_HEADER,
                      "shop_domain": shopify.SHOP_DOMAIN_HEADER},
)
WOOCOMMERCE = WebhookSource(
    platform=Platform.WOOCOMMERCE,
    name="WooCommerce",
    signature_header="X-WC-Webhook-Signature",
    topic_header="X-WC-Webhook-Topic",
    delivery_headers=(woocommerce.DELIVERY_ID_HEADER,),
    topics={"order.created": TriggerKind.ORDER_CREATED, "order.updated": None},
    normalize=woocommerce.normalize_order,
    recorded_headers={"delivery_id": woocommerce.DELIVERY_ID_HEADER, "webhook_id": woocommerce.WEBHOOK_ID_HEADER,
                      "source": woocommerce.SOURCE_HEADER},
)
GENERIC = WebhookSource(
    platform=Platform.GENERIC,
    name="generic",
    signature_header="X-Meshline-Signature",
    topic_header="X-Meshline-Topic",
    delivery_headers=(generic.DELIVERY_ID_HEADER,),
    topics={"order.created": TriggerKind.ORDER_CREATED, "order.cancelled": TriggerKind.ORDER_CANCELLED},
    normalize=generic.normalize_order,
    recorded_headers={"delivery_id": generic.DELIVERY_ID_HEADER},
)
SOURCES = {source.platform.value: source for source in (SHOPIFY, WOOCOMMERCE, GENERIC)}


def ingest_order(
    settings: IngestSettings, source: WebhookSource, tenant_id: str, headers: dict[str, str], body: bytes, now: datetime
) -> IngestResult:
    """`headers` must have lower-case names. Raises IngestRefused with the status to answer."""
    if len(body) > settings.max_body_bytes:
        raise IngestRefused(413, f"body is {len(body)} bytes; the limit is {settings.max_body_bytes}")
    platform = source.platform.value
    try:
        secrets = webhook_secrets(settings.tenant_parameter_prefix, tenant_id, platform)
    except SecretNotFound:
        raise IngestRefused(404, f"unknown tenant '{tenant_id}' (no {source.name} webhook secret is configured)") from None
    signature = headers.get(source.signature_header.lower())
    if not signature:
        raise IngestRefused(401, f"missing {source.signature_header} header")
    if not signature_matches(body, signature, secrets):
        metrics.add_metric(name="WebhooksForged", unit=MetricUnit.Count, value=1)
        raise IngestRefused(401, f"{source.signature_header} does not match the body signed with this tenant's secret")

    topic = headers.get(source.topic_header.lower(), "")
    if topic not in source.topics:
        raise IngestRefused(400, f"unsupported {source.topic_header} {topic!r}; supported: {sorted(source.topics)}")
    delivery_id = next((headers[name] for name in source.delivery_headers if headers.get(name)), None)
    if not delivery_id:
        names = " (and ".join(header.title() for header in source.delivery_headers) + ")" * (len(source.delivery_headers) - 1)
        raise IngestRefused(400, f"missing {names}: cannot deduplicate")

    try:
        order = source.normalize(parse_body(body), tenant_id)
    except MeshlineError as error:
        raise IngestRefused(400, f"cannot read the order: {error}") from None
    kind = source.topics[topic]
    if kind is None:  # an update: only a cancellation changes what Meshline decided
        if order.status is not OrderStatus.CANCELLED:
            return IngestResult(Outcome.IGNORED, order.order_id, delivery_id, format_utc(now))
        kind = TriggerKind.ORDER_CANCELLED
    if kind is TriggerKind.ORDER_CANCELLED and order.status is not OrderStatus.CANCELLED:
        raise IngestRefused(400, f"a {topic} webhook must carry a cancelled order")

    receipts = WebhookReceipts(settings.receipts_table, timedelta(days=settings.dedup_days))
    outcome = receipts.record(
        tenant_id=tenant_id,
        platform=platform,
        delivery_id=delivery_id,
        body_sha256=hashlib.sha256(body).hexdigest(),
        order_id=order.order_id,
        topic=topic,
        now=now,
    )
    if outcome.delivery is Delivery.CONFLICT:
        metrics.add_metric(name="WebhooksConflicting", unit=MetricUnit.Count, value=1)
        raise IngestRefused(
            409,
            f"delivery {delivery_id} was first received at {outcome.first_received_at} with a different body; "
            "this one was refused and recorded",
        )

    trigger = Trigger(
        kind=kind,
        trigger_id=f"{kind}:{order.order_id}",
        source=f"{platform}:{topic}",
        received_at=now,
        delivery_ids={key: headers[name] for key, name in source.recorded_headers.items() if headers.get(name)},
    )
    # A duplicate is enqueued again: the first attempt may have crashed between the receipt
    # and the send, and the decide step ignores a trigger it has already applied.
    message = OrderReceived(trigger=trigger, order=order)
    client("sqs").send_message(
        QueueUrl=settings.order_inbox_queue_url,
        MessageBody=message.model_dump_json(),
        MessageGroupId=f"{tenant_id}:{order.order_id}",
        MessageDeduplicationId=hashlib.sha256(f"{tenant_id}#{platform}#{delivery_id}".encode()).hexdigest(),
    )
    if outcome.delivery is Delivery.DUPLICATE:
        metrics.add_metric(name="WebhooksDuplicate", unit=MetricUnit.Count, value=1)
        logger.info("duplicate delivery", extra={"delivery_id": delivery_id, "order_id": order.order_id})
        return IngestResult(Outcome.DUPLICATE, order.order_id, delivery_id, outcome.first_received_at)
    metrics.add_metric(name="OrdersAccepted", unit=MetricUnit.Count, value=1)
    return IngestResult(Outcome.ACCEPTED, order.order_id, delivery_id, outcome.first_received_at)
