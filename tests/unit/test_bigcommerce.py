"""BigCommerce: Standard Webhooks signatures, the API base allow-list, the store API client,
and the documented order normalized (tests/fixtures/bigcommerce)."""

import copy
import json
import socket
import urllib.error
from datetime import UTC, datetime
from pathlib import Path

import pytest

from meshline.dal.bigcommerce_store import HttpStoreApi, StoreApiError, check_api_base, documented_store, public_address
from meshline.domain.errors import InvalidOrder
from meshline.domain.orders import OrderStatus, ServiceLevel
from meshline.platforms import bigcommerce
from tests.payloads import DEMO_BIGCOMMERCE_SECRET, bigcommerce_body, bigcommerce_headers

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bigcommerce"
SENT_AT = 1795617000  # 2026-11-25T12:30:00Z
NOW = datetime.fromtimestamp(SENT_AT, UTC)


def headers(body: bytes = bigcommerce_body(), **options) -> dict[str, str]:
    """As the ingest handler sees them: names lower-cased."""
    return {name.lower(): value for name, value in bigcommerce_headers(body, timestamp=SENT_AT, **options).items()}


def verdict(sent: dict[str, str], body: bytes = bigcommerce_body(), secrets=(DEMO_BIGCOMMERCE_SECRET,), now=NOW):
    """What ingest answers: the 401 message, or None when the delivery is authentic."""
    problem = bigcommerce.header_problem(sent, now)
    if problem:
        return problem
    return None if bigcommerce.signature_matches(sent, body, secrets) else "forged"


# --- signatures ---------------------------------------------------------------------------


def test_the_signature_is_the_standard_webhooks_scheme():
    # The reference vector the Standard Webhooks (Svix) libraries test against.
    assert bigcommerce.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}',
                            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_delivery_signed_with_the_tenants_secret_is_authentic():
    assert verdict(headers()) is None
    assert verdict(headers(), secrets=["the-old-secret", DEMO_BIGCOMMERCE_SECRET]) is None  # during a rotation


@pytest.mark.parametrize("forgery", ["another secret", "another body", "another webhook-id", "another timestamp"])
def test_a_forged_delivery_is_refused(forgery):
    sent, body = headers(), bigcommerce_body()
    if forgery == "another secret":
        sent = headers(secret="not-the-secret")
    elif forgery == "another body":
        body = body.replace(b'"id": 250', b'"id": 251')
    elif forgery == "another webhook-id":
        sent["webhook-id"] = "msg_someone_else"  # the id is signed: a replayed body under a new id fails
    else:
        sent["webhook-timestamp"] = str(SENT_AT + 1)
    assert verdict(sent, body) == "forged"


def test_several_signatures_pass_when_one_of_them_is_ours():
    sent = headers()
    ours = sent["webhook-signature"]
    sent["webhook-signature"] = f"v1,bm90IG91cnM= v1a,c29tZSBhc3ltbWV0cmljIG9uZQ== {ours}"
    assert verdict(sent) is None
    sent["webhook-signature"] = "v1,bm90IG91cnM= v1a," + ours.removeprefix("v1,")  # our value under another scheme
    assert verdict(sent) == "forged"


@pytest.mark.parametrize(("age", "message"), [
    (301, "webhook-timestamp 1795616699 is 301 s old; a delivery more than 300 s from Meshline's clock is refused as a possible replay"),
    (-301, "webhook-timestamp 1795617301 is 301 s in the future; a delivery more than 300 s from Meshline's clock is refused as a possible replay"),
    (3600 * 24, "webhook-timestamp 1795530600 is 86400 s old"),
])
def test_a_stale_delivery_is_refused_even_when_its_signature_is_right(age, message):
    sent = {name.lower(): value for name, value in bigcommerce_headers(bigcommerce_body(), timestamp=SENT_AT - age).items()}
    assert verdict(sent).startswith(message)


def test_the_tolerance_is_five_minutes_each_way():
    for age in (300, -300, 0):
        sent = {name.lower(): value for name, value in bigcommerce_headers(bigcommerce_body(), timestamp=SENT_AT - age).items()}
        assert verdict(sent) is None


@pytest.mark.parametrize(("missing", "message"), [
    (["webhook-id"], "missing webhook-id header: BigCommerce signs each delivery (Standard Webhooks)"),
    (["webhook-timestamp"], "missing webhook-timestamp header: BigCommerce signs each delivery (Standard Webhooks)"),
    (["webhook-signature"], "missing webhook-signature header: BigCommerce signs each delivery (Standard Webhooks)"),
    (["webhook-id", "webhook-timestamp", "webhook-signature"],
     "missing webhook-id, webhook-timestamp, webhook-signature headers: BigCommerce signs each delivery (Standard Webhooks)"),
])
def test_missing_headers_are_named(missing, message):
    sent = {name: value for name, value in headers().items() if name not in missing}
    assert verdict(sent) == message


@pytest.mark.parametrize("timestamp", ["yesterday", "1795617000.5", "-1795617000", "１７９５６１７０００"])
def test_a_timestamp_that_is_not_unix_seconds_is_refused(timestamp):
    sent = {**headers(), "webhook-timestamp": timestamp}
    assert verdict(sent) == f"webhook-timestamp is not a Unix time in seconds: {timestamp!r}"


# --- the callback -------------------------------------------------------------------------


def test_the_real_callback_names_order_250_and_its_scope():
    callback = json.loads(bigcommerce_body())
    assert (bigcommerce.scope(callback), bigcommerce.order_id(callback)) == ("store/order/created", 250)
    assert bigcommerce.new_status_id(callback) is None
    assert bigcommerce.order_id({"scope": "store/product/updated", "data": {"type": "product", "id": 9}}) is None
    updated = {"scope": "store/order/statusUpdated", "data": {"type": "order", "id": 250,
                                                              "status": {"previous_status_id": 0, "new_status_id": 11}}}
    assert bigcommerce.new_status_id(updated) == 11


@pytest.mark.parametrize("value", ["250", 0, -3, True, None, 2.5])
def test_a_callback_without_a_usable_order_id_names_the_field(value):
    with pytest.raises(InvalidOrder, match=r"^data\.id must be a positive integer order id, got "):
        bigcommerce.order_id({"data": {"type": "order", "id": value}})


# --- the allow-list -----------------------------------------------------------------------


@pytest.mark.parametrize(("api_base", "origin"), [
    ("https://api.bigcommerce.com", "https://api.bigcommerce.com"),
    ("https://api.bigcommerce.com/", "https://api.bigcommerce.com"),
    ("https://API.BigCommerce.com.:443", "https://api.bigcommerce.com"),
])
def test_the_bigcommerce_api_is_allowed(api_base, origin):
    assert check_api_base(api_base) == origin


def test_a_host_the_deployment_names_is_allowed_and_only_then():
    assert check_api_base("https://bc-egress.acme.example", ["bc-egress.acme.example"]) == "https://bc-egress.acme.example"
    with pytest.raises(StoreApiError, match="its host is not allowed"):
        check_api_base("https://bc-egress.acme.example")


@pytest.mark.parametrize(("api_base", "reason"), [
    ("http://api.bigcommerce.com", "it must use https"),
    ("ftp://api.bigcommerce.com", "it must use https"),
    ("https://169.254.169.254", "an IP address may not be called"),  # the instance metadata service
    ("https://169.254.169.254/latest/meta-data/", "it must be an origin only"),
    ("https://2852039166", "an IP address may not be called"),  # 169.254.169.254 written as one number
    ("https://0xa9.0xfe.0xa9.0xfe", "an IP address may not be called"),  # ... and in hexadecimal
    ("https://127.0.0.1", "an IP address may not be called"),
    ("https://127.1", "an IP address may not be called"),
    ("https://[::1]", "an IP address may not be called"),
    ("https://[fd00::1]", "an IP address may not be called"),
    ("https://10.0.0.5", "an IP address may not be called"),
    ("https://192.168.1.10", "an IP address may not be called"),
    ("https://172.16.0.1", "an IP address may not be called"),
    ("https://localhost", "localhost may not be called"),
    ("https://api.localhost", "localhost may not be called"),
    ("https://api.bigcommerce.com@169.254.169.254", "it must not carry credentials"),
    ("https://api.bigcommerce.com:8443", "it must not name a port other than 443"),
    ("https://api.bigcommerce.com/stores/abcde", "it must be an origin only"),
    ("https://api.bigcommerce.com?x=1", "it must be an origin only"),
    ("https://metadata.google.internal", "its host is not allowed (allowed: api.bigcommerce.com;"),
    ("https://api.bigcommerce.com.evil.example", "its host is not allowed"),
    ("https://", "it names no host"),
    ("https://api.bigcommerce.com:99999", "is not a URL"),
])
def test_anything_else_is_refused(api_base, reason):
    with pytest.raises(StoreApiError) as refused:
        check_api_base(api_base)
    assert reason in str(refused.value) and repr(api_base) in str(refused.value)


@pytest.mark.parametrize("configured", ["localhost", "169.254.169.254", "10.0.0.5"])
def test_an_ip_or_localhost_stays_refused_even_when_configured(configured):
    with pytest.raises(StoreApiError, match="may not be called"):
        check_api_base(f"https://{configured}", [configured])


def resolver(*addresses):
    def resolve(host, port, type=0):
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]
    return resolve


@pytest.mark.parametrize("address", ["10.1.2.3", "172.20.0.9", "192.168.0.4", "127.0.0.1", "169.254.169.254",
                                     "100.64.0.1", "0.0.0.0", "fd00::1", "::1", "fe80::1", "224.0.0.1"])
def test_an_allowed_name_that_resolves_to_a_private_address_is_not_called(address):
    with pytest.raises(StoreApiError, match=f"resolves to {address}, which is not a public address"):
        public_address("bc-egress.acme.example", resolver("23.227.38.65", address))


def test_a_name_that_resolves_to_public_addresses_only_is_called_at_the_first():
    assert public_address("api.bigcommerce.com", resolver("23.227.38.65", "2620:0:2d0:200::7")) == "23.227.38.65"


# --- the store API over HTTPS (with a stand-in transport) -----------------------------------


class Transport:
    def __init__(self, answers):
        self.answers = list(answers)
        self.requests = []

    def __call__(self, request, timeout):
        self.requests.append((request.full_url, dict(request.header_items()), timeout))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def api(transport, clock=lambda: 0.0):
    return HttpStoreApi("https://api.bigcommerce.com", "abcde", "t0ken", transport=transport, clock=clock)


def documented():
    store = documented_store(str(FIXTURES))
    return store.order(250), store.order_products(250), store.order_shipping_addresses(250)


def test_the_order_is_read_from_the_three_documented_resources_with_the_token():
    order, products, addresses = documented()
    transport = Transport([(200, json.dumps({**order, "id": 250}).encode()), (200, json.dumps(products).encode()),
                           (204, b"")])
    store = api(transport)
    assert store.order(250)["date_created"] == "Tue, 05 Mar 2019 21:40:11 +0000"
    assert store.order_products(250) == products
    assert store.order_shipping_addresses(250) == []  # the v2 API answers an empty list with 204
    base = "https://api.bigcommerce.com/stores/abcde/v2/orders/250"
    assert [url for url, _, _ in transport.requests] == [
        base, f"{base}/products?limit=250&page=1", f"{base}/shipping_addresses?limit=250&page=1"]
    assert all(sent["X-auth-token"] == "t0ken" and sent["Accept"] == "application/json" for _, sent, _ in transport.requests)
    assert all(timeout == 2.0 for _, _, timeout in transport.requests)


def test_a_long_list_is_read_page_by_page():
    page = [{"id": n} for n in range(250)]
    transport = Transport([(200, json.dumps(page).encode()), (200, json.dumps([{"id": 250}]).encode())])
    assert len(api(transport).order_products(7)) == 251
    assert transport.requests[1][0].endswith("/orders/7/products?limit=250&page=2")


@pytest.mark.parametrize(("answer", "message"), [
    (urllib.error.HTTPError("u", 500, "Internal Server Error", {}, None), "GET /orders/250: HTTP 500"),
    (urllib.error.HTTPError("u", 302, "Found", {}, None), "GET /orders/250: HTTP 302"),  # redirects are not followed
    (urllib.error.HTTPError("u", 401, "Unauthorized", {}, None), "GET /orders/250: HTTP 401"),
    (TimeoutError("timed out"), "GET /orders/250: timed out"),
    (urllib.error.URLError(ConnectionResetError("reset")), "GET /orders/250: <urlopen error reset>"),
    ((200, b"<html>"), "GET /orders/250: the answer is not JSON"),
    ((200, b"[]"), "order 250: the store answered list, not an order"),
    ((200, b'{"id": 251}'), "asked for order 250, the store answered order 251"),
])
def test_a_store_that_does_not_answer_with_the_order_is_an_error_to_retry(answer, message):
    with pytest.raises(StoreApiError) as failed:
        api(Transport([answer])).order(250)
    assert str(failed.value) == message


def test_the_three_requests_share_one_time_budget():
    now = [0.0]
    transport = Transport([(200, b'{"id": 250}'), (200, b"[]")])
    store = api(transport, clock=lambda: now[0])
    store.order(250)
    now[0] = 1.9
    store.order_products(250)
    assert transport.requests[1][2] == pytest.approx(0.6)  # what is left of 2.5 s
    now[0] = 2.5
    with pytest.raises(StoreApiError, match=r"out of time \(2.5 s for the whole order\)"):
        store.order_shipping_addresses(250)


def test_without_a_transport_the_host_is_checked_before_anything_is_sent():
    store = HttpStoreApi("https://bc-egress.acme.example", "abcde", "t0ken", allowed_hosts=["bc-egress.acme.example"],
                         resolve=resolver("169.254.169.254"))
    with pytest.raises(StoreApiError, match="resolves to 169.254.169.254, which is not a public address: not called"):
        store.order(250)


def test_the_recorded_store_answers_the_webhooks_order_with_the_documented_responses():
    order, products, addresses = documented()
    assert (order["id"], products[0]["order_id"], addresses[0]["order_id"]) == (218, 149, 229)  # as documented
    with pytest.raises(StoreApiError, match=r"GET /orders/251: HTTP 404 \(no recording of order 251\)"):
        documented_store(str(FIXTURES)).order(251)


# --- normalization --------------------------------------------------------------------------


def normalize(order=None, products=None, addresses=None):
    documented_order, documented_products, documented_addresses = copy.deepcopy(documented())
    return bigcommerce.normalize_order(
        250, documented_order if order is None else order, documented_products if products is None else products,
        documented_addresses if addresses is None else addresses, "acme")


def test_the_documented_order_becomes_a_canonical_order():
    order = normalize()
    assert (order.order_id, order.platform_order_id, order.order_name) == ("bigcommerce-250", "250", "#250")
    assert order.placed_at == datetime(2019, 3, 5, 21, 40, 11, tzinfo=UTC)  # RFC 2822 date_created
    assert order.status is OrderStatus.OPEN and order.service_level is ServiceLevel.STANDARD  # shipping_method "None"
    # Of the two documented addresses only the first holds items (items_total 2 and 0).
    destination = order.destination
    assert (destination.name, destination.line1, destination.city, destination.region_code, destination.postal_code,
            destination.country_code) == ("Trishy Smith", "666 Sussex St", "San Antonio", "TX", "78251", "US")
    # The brewing system is bundled into the towel (parent_order_product_id 65): one kit.
    assert [(line.line_id, line.sku, line.quantity, line.kit_id, line.requires_shipping) for line in order.lines] == [
        ("65", "S-ORAN", 1, "bundle-65", True), ("66", "ABS", 1, "bundle-65", True)]


def test_a_cancelled_order_carries_when():
    order, _, _ = documented()
    cancelled = normalize(order={**order, "status_id": 5, "status": "Cancelled"})
    assert cancelled.status is OrderStatus.CANCELLED
    assert cancelled.cancelled_at == datetime(2019, 3, 11, 15, 17, 25, tzinfo=UTC)  # date_modified


def test_a_product_without_a_sku_is_stood_in_for_by_its_catalog_ids_and_digital_goods_do_not_ship():
    _, products, _ = documented()
    changed = [{**products[0], "sku": "", "variant_id": 477}, {**products[1], "type": "digital"}]
    lines = normalize(products=changed).lines
    assert [(line.sku, line.requires_shipping) for line in lines] == [("product-77-variant-477", True), ("ABS", False)]


def test_an_order_without_shipping_addresses_has_no_destination():
    assert normalize(addresses=[]).destination is None


@pytest.mark.parametrize(("change", "message"), [
    (lambda o, p, a: p[0].update(sku="", product_id=0), "products[0].sku is required (or a catalog product_id to stand for it)"),
    (lambda o, p, a: p[1].update(quantity=0), "products[1].quantity must be a positive integer, got 0"),
    (lambda o, p, a: p[0].pop("id"), "products[0].id is required"),
    (lambda o, p, a: p.clear(), "products must be a non-empty list"),
    (lambda o, p, a: a[0].update(country_iso2=""), "shipping_addresses[0].country_iso2 is required"),
    (lambda o, p, a: a[0].update(street_1=None), "shipping_addresses[0].street_1 is required"),
    (lambda o, p, a: a[1].update(items_total=1), "shipping_addresses: the order ships to 2 addresses (132, 133); "
                                                "Meshline routes an order to one destination"),
    (lambda o, p, a: o.update(date_created="05/03/2019"), "date_created is not an RFC 2822 date: '05/03/2019'"),
    (lambda o, p, a: o.pop("date_created"), "date_created is required"),
    (lambda o, p, a: a[0].update(country_iso2="USA"), "shipping_addresses[0].country_iso2 must be an ISO 3166-1 alpha-2 code, got 'USA'"),
])
def test_a_bad_order_is_refused_naming_the_field(change, message):
    order, products, addresses = copy.deepcopy(documented())
    change(order, products, addresses)
    with pytest.raises(InvalidOrder) as refused:
        bigcommerce.normalize_order(250, order, products, addresses, "acme")
    assert str(refused.value).startswith(message)


@pytest.mark.parametrize(("country", "state", "code"), [
    ("US", "Texas", "TX"), ("US", "new york", "NY"), ("US", "TX", "TX"), ("CA", "Québec", "QC"),
    ("CA", "Ontario", "ON"), ("DE", "Bavaria", None), ("US", "Atlantis", None), ("US", "", None),
])
def test_state_names_become_region_codes_where_known(country, state, code):
    _, _, addresses = documented()
    address = {**addresses[0], "country_iso2": country, "state": state}
    assert normalize(addresses=[address]).destination.region_code == code
