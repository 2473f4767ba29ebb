"""Shopify adapter: signatures and normalization of the real sample order."""

import json
from datetime import UTC, datetime

import pytest

from meshline.domain.errors import InvalidOrder
from meshline.domain.orders import OrderStatus, Platform, ServiceLevel
from meshline.platforms import shopify
from tests.payloads import SAMPLE_BODY, routable_body


def test_signature_is_base64_hmac_sha256_of_the_raw_body():
    # Known-answer: HMAC-SHA256 of b"{}" with key "secret", base64 (computed independently with openssl).
    assert shopify.sign(b"{}", "secret") == "dzJZAsrKgS3CWXM6rNBGtzgXNyx3e42VtAJkdHRRbhM="


def test_signature_matches_any_current_secret_and_nothing_else():
    signature = shopify.sign(SAMPLE_BODY, "new-secret")
    assert shopify.signature_matches(SAMPLE_BODY, signature, ["old-secret", "new-secret"])
    assert not shopify.signature_matches(SAMPLE_BODY, signature, ["old-secret"])
    assert not shopify.signature_matches(SAMPLE_BODY + b" ", signature, ["new-secret"])
    assert not shopify.signature_matches(SAMPLE_BODY, None, ["new-secret"])
    assert not shopify.signature_matches(SAMPLE_BODY, "", ["new-secret"])


def test_the_real_sample_is_an_order_that_arrived_cancelled():
    order = shopify.normalize_order(shopify.parse_body(SAMPLE_BODY), "acme")
    assert order.order_id == "shopify-820982911946154508"
    assert order.platform is Platform.SHOPIFY
    assert order.status is OrderStatus.CANCELLED
    assert order.cancel_reason == "customer"
    assert order.test is True
    assert order.placed_at == datetime(2017, 7, 17, 17, 44, 9, tzinfo=UTC)  # 13:44:09-04:00
    assert order.service_level is ServiceLevel.STANDARD  # "Generic Shipping"
    assert [(line.sku, line.quantity) for line in order.lines] == [("706405908216", 1), ("706405907431", 1)]
    assert order.destination is not None and order.destination.country_code == "US"
    assert order.destination.region_code == "KY"


def test_a_routable_variant_is_open():
    body = routable_body(order_id=1001, placed_at="2026-11-25T09:00:00-05:00", lines=[("SKU-A", 2)])
    order = shopify.normalize_order(shopify.parse_body(body), "acme")
    assert order.status is OrderStatus.OPEN and order.cancelled_at is None
    assert order.placed_at == datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    assert [(line.sku, line.quantity) for line in order.lines] == [("SKU-A", 2)]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("line_items"), "line_items must be a non-empty list"),
        (lambda d: d.update(line_items=[]), "line_items must be a non-empty list"),
        (lambda d: d["line_items"][1].update(quantity=0), "line_items[1].quantity must be a positive integer, got 0"),
        (lambda d: d["line_items"][0].update(quantity="2"), "line_items[0].quantity must be a positive integer, got '2'"),
        (lambda d: d["line_items"][0].update(sku=None, variant_id=None), "line_items[0].sku is required"),
        (lambda d: d.update(created_at="18/05/2026"), "created_at is not ISO-8601: '18/05/2026'"),
        (lambda d: d.update(created_at="2026-05-18T10:00:00"), "created_at has no UTC offset"),
        (lambda d: d.pop("id"), "id is required"),
        (lambda d: d["shipping_address"].update(country_code=None), "shipping_address.country_code is required"),
    ],
)
def test_malformed_orders_are_refused_naming_the_field(mutate, message):
    document = json.loads(SAMPLE_BODY)
    mutate(document)
    with pytest.raises(InvalidOrder, match=message.replace("[", r"\[").replace("]", r"\]")):
        shopify.normalize_order(document, "acme")


@pytest.mark.parametrize(("body", "message"), [(b"{not json", "body is not valid JSON"), (b"[1, 2]", "must be a JSON object")])
def test_a_body_that_is_not_a_json_object_is_refused(body, message):
    with pytest.raises(InvalidOrder, match=message):
        shopify.parse_body(body)
