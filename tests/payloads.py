"""Test payloads: the real Shopify sample (tests/fixtures) and signed variants of it."""

from meshline_local.samples import (  # noqa: F401 - re-exported for the tests
    DEMO_BIGCOMMERCE_SECRET,
    DEMO_SECRET,
    DEMO_TENANT,
    DEMO_WOO_SECRET,
    bigcommerce_body,
    bigcommerce_headers,
    cancelled_body,
    generic_body,
    generic_headers,
    routable_body,
    sample_body,
    shopify_headers,
    shopify_webhook_event,
    woocommerce_body,
    woocommerce_headers,
)

SAMPLE_BODY = sample_body()
