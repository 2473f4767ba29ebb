"""Flow 1, ingest: verify a platform webhook, normalize it, remember the delivery, enqueue it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from meshline.dal.aws import client
from meshline.dal.receipts import Delivery, WebhookReceipts
from meshline.dal.secrets import SecretNotFound, webhook_secrets
from meshline.domain.errors import MeshlineError
from meshline.domain.events import OrderReceived
from meshline.domain.exports import Trigger, TriggerKind
from meshline.domain.orders import OrderStatus
from meshline.observability import MetricUnit, logger, metrics
from meshline.platforms import shopify
from meshline.settings import IngestSettings


class IngestRefused(MeshlineError):
    """A webhook refused before anything was stored; `status` is the HTTP answer."""

    def __init__(self, status: int, message: str):
        self.status = status
        super().__init__(message)


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class IngestResult:
    outcome: Outcome
    order_id: str
    delivery_id: str
    first_received_at: str


def ingest_shopify_order(
    settings: IngestSettings, tenant_id: str, headers: dict[str, str], body: bytes, now: datetime
) -> IngestResult:
    """`headers` must have lower-case names. Raises IngestRefused with the status to answer."""
    if len(body) > settings.max_body_bytes:
        raise IngestRefused(413, f"body is {len(body)} bytes; the limit is {settings.max_body_bytes}")
    try:
        secrets = webhook_secrets(settings.tenant_parameter_prefix, tenant_id, "shopify")
    except SecretNotFound:
        raise IngestRefused(404, f"unknown tenant '{tenant_id}' (no Shopify webhook secret is configured)") from None
    signature = headers.get(shopify.HMAC_HEADER)
    if not signature:
        raise IngestRefused(401, "missing X-Shopify-Hmac-Sha256 header")
    if not shopify.signature_matches(body, signature, secrets):
        metrics.add_metric(name="WebhooksForged", unit=MetricUnit.Count, value=1)
        raise IngestRefused(401, "X-Shopify-Hmac-Sha256 does not match the body signed with this tenant's secret")

    topic = headers.get(shopify.TOPIC_HEADER, "")
    if topic not in shopify.SUPPORTED_TOPICS:
        raise IngestRefused(400, f"unsupported X-Shopify-Topic {topic!r}; supported: {sorted(shopify.SUPPORTED_TOPICS)}")
    delivery_id = headers.get(shopify.EVENT_ID_HEADER) or headers.get(shopify.WEBHOOK_ID_HEADER)
    if not delivery_id:
        raise IngestRefused(400, "missing X-Shopify-Event-Id (and X-Shopify-Webhook-Id): cannot deduplicate")

    try:
        order = shopify.normalize_order(shopify.parse_body(body), tenant_id)
    except MeshlineError as error:
        raise IngestRefused(400, f"cannot read the order: {error}") from None

    receipts = WebhookReceipts(settings.receipts_table, timedelta(days=settings.dedup_days))
    outcome = receipts.record(
        tenant_id=tenant_id,
        platform="shopify",
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

    if topic == "orders/cancelled" and order.status is not OrderStatus.CANCELLED:
        raise IngestRefused(400, "an orders/cancelled webhook must carry cancelled_at")
    kind = TriggerKind.ORDER_CANCELLED if topic == "orders/cancelled" else TriggerKind.ORDER_CREATED
    trigger = Trigger(
        kind=kind,
        trigger_id=f"{kind}:{order.order_id}",
        source=f"shopify:{topic}",
        received_at=now,
        delivery_ids={
            key: value
            for key, value in {
                "event_id": headers.get(shopify.EVENT_ID_HEADER),
                "webhook_id": headers.get(shopify.WEBHOOK_ID_HEADER),
                "shop_domain": headers.get(shopify.SHOP_DOMAIN_HEADER),
            }.items()
            if value
        },
    )
    # A duplicate is enqueued again: the first attempt may have crashed between the receipt
    # and the send, and the decide step ignores a trigger it has already applied.
    message = OrderReceived(trigger=trigger, order=order)
    client("sqs").send_message(
        QueueUrl=settings.order_inbox_queue_url,
        MessageBody=message.model_dump_json(),
        MessageGroupId=f"{tenant_id}:{order.order_id}",
        MessageDeduplicationId=hashlib.sha256(f"{tenant_id}#shopify#{delivery_id}".encode()).hexdigest(),
    )
    if outcome.delivery is Delivery.DUPLICATE:
        metrics.add_metric(name="WebhooksDuplicate", unit=MetricUnit.Count, value=1)
        logger.info("duplicate delivery", extra={"delivery_id": delivery_id, "order_id": order.order_id})
        return IngestResult(Outcome.DUPLICATE, order.order_id, delivery_id, outcome.first_received_at)
    metrics.add_metric(name="OrdersAccepted", unit=MetricUnit.Count, value=1)
    return IngestResult(Outcome.ACCEPTED, order.order_id, delivery_id, outcome.first_received_at)
