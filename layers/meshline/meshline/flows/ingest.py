"""Flow 1, ingest: verify a platform webhook, normalize it, remember the delivery, enqueue it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from meshline.dal.aws import client
from meshline.dal.payloads import ORDERS, put_payload
from meshline.dal.receipts import Delivery, WebhookReceipts
from meshline.dal.secrets import SecretNotFound, webhook_secrets
from meshline.domain.errors import MeshlineError
from meshline.domain.events import OrderReceived, OrderReceivedByReference
from meshline.domain.exports import Trigger, TriggerKind
from meshline.domain.orders import Order, OrderStatus, Platform
from meshline.domain.payloads import SQS_BODY_BUDGET, utf8_size
from meshline.domain.types import format_utc
from meshline.observability import MetricUnit, logger, metrics
from meshline.platforms import bigcommerce, generic, shopify, woocommerce
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
    order_id: str | None  # None: an ignored delivery about something else than an order
    delivery_id: str
    first_received_at: str


@dataclass(frozen=True)
class WebhookSource:
    """How one platform signs, names and identifies its order webhooks: as Shopify,
    WooCommerce and the generic source do, a signature of the raw body in a header and the
    order itself as the body. BigCommerce overrides the steps it does otherwise."""

    platform: Platform
    name: str  # as people write it, for messages
    signature_header: str  # display case; headers are looked up lower-cased
    topic_header: str
    delivery_headers: tuple[str, ...]  # the first present identifies the delivery
    topics: Mapping[str, TriggerKind | None]  # None: an update, acted on only when it cancels the order
    normalize: Callable[[Mapping[str, Any], str], Order] | None
    recorded_headers: Mapping[str, str] = field(default_factory=dict)  # delivery_ids key -> header
    ignores_other_topics: bool = False  # False: an unknown topic is refused (400)

    def authenticate(self, headers: Mapping[str, str], body: bytes, secrets: list[str], now: datetime) -> None:
        signature = headers.get(self.signature_header.lower())
        if not signature:
            raise IngestRefused(401, f"missing {self.signature_header} header")
        if not signature_matches(body, signature, secrets):
            raise _forged(f"{self.signature_header} does not match the body signed with this tenant's secret")

    def topic(self, headers: Mapping[str, str], body: bytes) -> str:
        return headers.get(self.topic_header.lower(), "")

    def ignored(self, topic: str, body: bytes) -> IgnoredDelivery | None:
        """A well-formed delivery that cannot change what Meshline decided, known before the order is read."""
        return None

    def read_order(self, settings: IngestSettings, tenant_id: str, body: bytes) -> Order:
        try:
            return self.normalize(parse_body(body), tenant_id)
        except MeshlineError as error:
            raise IngestRefused(400, f"cannot read the order: {error}") from None


@dataclass(frozen=True)
class IgnoredDelivery:
    order_id: str | None


def _forged(message: str) -> IngestRefused:
    metrics.add_metric(name="WebhooksForged", unit=MetricUnit.Count, value=1)
    return IngestRefused(401, message)


@dataclass(frozen=True)
class BigCommerceSource(WebhookSource):
    """BigCommerce (meshline.platforms.bigcommerce): Standard Webhooks signatures, the event
    named in the body (`scope`), and a thin body, so the order is read from the store's API."""

    def authenticate(self, headers: Mapping[str, str], body: bytes, secrets: list[str], now: datetime) -> None:
        problem = bigcommerce.header_problem(headers, now)
        if problem:
            raise IngestRefused(401, problem)
        if not bigcommerce.signature_matches(headers, body, secrets):
            raise _forged(f"{bigcommerce.SIGNATURE_HEADER} does not match the delivery signed with this tenant's secret")

    def topic(self, headers: Mapping[str, str], body: bytes) -> str:
        return bigcommerce.scope(self._callback(body))

    def ignored(self, topic: str, body: bytes) -> IgnoredDelivery | None:
        callback = self._callback(body)
        order_id = self._order_id(callback)
        named = f"{self.platform}-{order_id}" if order_id else None
        if topic not in self.topics or order_id is None:
            # BigCommerce retries anything but a 2xx for two days and then deactivates the
            # webhook: events Meshline does not act on are answered 200 `ignored`, not 400.
            return IgnoredDelivery(named)
        status = bigcommerce.new_status_id(callback)
        if topic == bigcommerce.ORDER_STATUS_UPDATED and status is not None and status != bigcommerce.CANCELLED_STATUS_ID:
            return IgnoredDelivery(named)  # only a cancellation changes a decision; no need to ask the store
        return None

    def read_order(self, settings: IngestSettings, tenant_id: str, body: bytes) -> Order:
        from meshline.dal import bigcommerce_store  # its HTTP client, only for the platform that needs it

        order_id = self._order_id(self._callback(body))
        # A failed fetch answers 503 before anything is stored, as every failure of ingest
        # does: no receipt is written and nothing is enqueued, so BigCommerce's retry (after
        # 1, 3, 5, 10... minutes, for 48 hours) arrives as a first delivery and is read then.
        # Parking the webhook on a queue of our own instead would need its own worker and
        # DLQ; BigCommerce's retry schedule already is one. BigCommerceFetchesFailed has an
        # alarm, so a store that stays unreachable is seen before BigCommerce gives up and
        # deactivates the webhook.
        try:
            store = bigcommerce_store.open_store(settings.tenant_parameter_prefix, tenant_id,
                                                 settings.bigcommerce_extra_hosts, settings.bigcommerce_recordings or None)
            order = store.order(order_id)
            products = store.order_products(order_id)
            addresses = store.order_shipping_addresses(order_id)
        except bigcommerce_store.StoreApiError as error:
            metrics.add_metric(name="BigCommerceFetchesFailed", unit=MetricUnit.Count, value=1)
            logger.warning("BigCommerce order not fetched", extra={"reason": str(error)})
            raise IngestRefused(503, f"order {order_id} could not be read from the store, so this delivery was not "
                                     f"accepted (send it again): {error}") from None
        try:
            return bigcommerce.normalize_order(order_id, order, products, addresses, tenant_id)
        except MeshlineError as error:
            raise IngestRefused(400, f"cannot read the order: {error}") from None

    @staticmethod
    def _callback(body: bytes) -> Mapping[str, Any]:
        try:
            return parse_body(body)
        except MeshlineError as error:
            raise IngestRefused(400, f"cannot read the callback: {error}") from None

    @staticmethod
    def _order_id(callback: Mapping[str, Any]) -> int | None:
        try:
            return bigcommerce.order_id(callback)
        except MeshlineError as error:
            raise IngestRefused(400, f"cannot read the callback: {error}") from None


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
BIGCOMMERCE = BigCommerceSource(
    platform=Platform.BIGCOMMERCE,
    name="BigCommerce",
    signature_header="webhook-signature",
    topic_header="scope",  # a field of the body, not a header
    delivery_headers=(bigcommerce.ID_HEADER,),
    topics={bigcommerce.ORDER_CREATED: TriggerKind.ORDER_CREATED, bigcommerce.ORDER_STATUS_UPDATED: None},
    normalize=None,
    recorded_headers={"webhook_id": bigcommerce.ID_HEADER},
    ignores_other_topics=True,
)
SOURCES = {source.platform.value: source for source in (SHOPIFY, WOOCOMMERCE, GENERIC, BIGCOMMERCE)}


def _inbox_message(settings: IngestSettings, trigger: Trigger, order: Order) -> str:
    """The order for the decide step; by reference to S3 when it is too large for a message."""
    body = OrderReceived(trigger=trigger, order=order).model_dump_json()
    if utf8_size(body) <= SQS_BODY_BUDGET:
        return body
    reference = put_payload(settings.payloads_bucket, ORDERS, order.tenant_id, order.model_dump_json().encode("utf-8"))
    metrics.add_metric(name="OrdersByReference", unit=MetricUnit.Count, value=1)
    return OrderReceivedByReference(trigger=trigger, tenant_id=order.tenant_id, order_id=order.order_id,
                                    order=reference).model_dump_json()


def ingest_order(
    settings: IngestSettings, source: WebhookSource, tenant_id: str, headers: dict[str, str], body: bytes, now: datetime
) -> IngestResult:
    """`headers` must have lower-case names. Raises IngestRefused with the status to answer."""
    if len(body) > settings.max_body_bytes:
        raise IngestRefused(413, f"body is {len(body)} bytes; the limit is {settings.max_body_bytes}")
    platform = source.platform.value
    try:
        secrets = webhook_secrets(settings.tenant_parameter_prefix, tenant_id, platform, now)
    except SecretNotFound:
        raise IngestRefused(404, f"unknown tenant '{tenant_id}' (no {source.name} webhook secret is configured)") from None
    source.authenticate(headers, body, secrets, now)

    topic = source.topic(headers, body)
    if topic not in source.topics and not source.ignores_other_topics:
        raise IngestRefused(400, f"unsupported {source.topic_header} {topic!r}; supported: {sorted(source.topics)}")
    delivery_id = next((headers[name] for name in source.delivery_headers if headers.get(name)), None)
    if not delivery_id:
        names = " (and ".join(header.title() for header in source.delivery_headers) + ")" * (len(source.delivery_headers) - 1)
        raise IngestRefused(400, f"missing {names}: cannot deduplicate")
    ignored = source.ignored(topic, body)
    if ignored:
        return IngestResult(Outcome.IGNORED, ignored.order_id, delivery_id, format_utc(now))

    order = source.read_order(settings, tenant_id, body)
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
        created_at=order.placed_at if kind is TriggerKind.ORDER_CREATED else None,
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
    client("sqs").send_message(
        QueueUrl=settings.order_inbox_queue_url,
        MessageBody=_inbox_message(settings, trigger, order),
        MessageGroupId=f"{tenant_id}:{order.order_id}",
        MessageDeduplicationId=hashlib.sha256(f"{tenant_id}#{platform}#{delivery_id}".encode()).hexdigest(),
    )
    if outcome.delivery is Delivery.DUPLICATE:
        metrics.add_metric(name="WebhooksDuplicate", unit=MetricUnit.Count, value=1)
        logger.info("duplicate delivery", extra={"delivery_id": delivery_id, "order_id": order.order_id})
        return IngestResult(Outcome.DUPLICATE, order.order_id, delivery_id, outcome.first_received_at)
    metrics.add_metric(name="OrdersAccepted", unit=MetricUnit.Count, value=1)
    return IngestResult(Outcome.ACCEPTED, order.order_id, delivery_id, outcome.first_received_at)
