"""WooCommerce: the real sample order normalized, and bad payloads refused naming the field."""

import json

import pytest

from meshline.domain.errors import InvalidOrder
from meshline.domain.orders import OrderStatus, ServiceLevel
from meshline.platforms import signing, woocommerce
from tests.payloads import woocommerce_body


def sample():
    return json.loads(woocommerce_body())


def test_the_real_sample_becomes_a_canonical_order():
    order = woocommerce.normalize_order(sample(), "acme")
    assert (order.order_id, order.platform_order_id, order.order_name) == ("woocommerce-727", "727", "#727")
    assert order.placed_at.isoformat() == "2017-03-22T19:28:02+00:00"  # date_created_gmt, not the site's local time
    assert order.status is OrderStatus.OPEN and order.service_level is ServiceLevel.STANDARD
    assert (order.destination.name, order.destination.region_code, order.destination.country_code) == ("John Doe", "CA", "US")
    assert [(line.line_id, line.sku, line.quantity) for line in order.lines] == [("315", "product-93", 2), ("316", "Bar3", 1)]


def test_a_cancelled_order_carries_when():
    document = {**sample(), "status": "cancelled", "date_modified_gmt": "2017-03-23T10:00:00"}
    order = woocommerce.normalize_order(document, "acme")
    assert order.status is OrderStatus.CANCELLED and order.cancelled_at.isoformat() == "2017-03-23T10:00:00+00:00"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("date_created_gmt"), "date_created_gmt is required"),
        (lambda d: d["line_items"][0].update(quantity=0), "line_items[0].quantity must be a positive integer, got 0"),
        (lambda d: d["line_items"][0].pop("product_id"), "product_id is required"),
        (lambda d: d.update(line_items=[]), "line_items must be a non-empty list"),
        (lambda d: d["shipping"].update(country=""), "shipping.country is required"),
    ],
)
def test_a_bad_order_is_refused_naming_the_field(change, message):
    document = sample()
    change(document)
    with pytest.raises(InvalidOrder, match=message.replace("[", r"\[").replace("]", r"\]")):
        woocommerce.normalize_order(document, "acme")


def test_the_signature_is_woocommerces_documented_scheme():
    body = woocommerce_body()
    assert signing.signature_matches(body, signing.sign(body, "s3cret"), ["s3cret"])
    assert not signing.signature_matches(body + b" ", signing.sign(body, "s3cret"), ["s3cret"])
