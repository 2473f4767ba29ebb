"""BigCommerce's store API: where a thin webhook's order is read from.

`StoreApi` is what ingest needs: the order and its two sub-resources. `HttpStoreApi` asks
the store over HTTPS with the tenant's access token; `RecordedStoreApi` answers from
recorded responses (tests, and the local stack, which has no store to ask). `open_store`
picks one from the tenant's configuration; tests swap it.

Each tenant's store lives in SSM next to its webhook secret:
`<prefix>/<tenant_id>/bigcommerce-store` (String, JSON: `StoreConfig`) and
`<prefix>/<tenant_id>/bigcommerce-api-token` (SecureString: the API account's access token,
sent as X-Auth-Token; never logged).

The API base comes from configuration, so it is checked before any request (OWASP API7,
server-side request forgery): https on port 443, the host api.bigcommerce.com or one the
deployment names (template parameter BigCommerceApiHosts), never an IP literal or
localhost. The host name is then resolved once and every address must be public (not
loopback, link-local such as the instance metadata service at 169.254.169.254, private or
reserved); the connection goes to that checked address, so a second DNS answer cannot
redirect it (DNS rebinding). Redirects are not followed, proxies from the environment are
not used, and the three requests share one time budget inside the ingest function's timeout.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import json
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from pydantic import ValidationError

from meshline.dal.secrets import SecretNotFound, tenant_parameter
from meshline.platforms.bigcommerce import API_HOST, StoreConfig
from meshline.platforms.common import first_problem

STORE_PARAMETER = "bigcommerce-store"
TOKEN_PARAMETER = "bigcommerce-api-token"
# The ingest function has 4 s (template.yaml); this leaves room for the cold start, the
# receipt and the enqueue. Each request gets what is left, at most REQUEST_TIMEOUT_SECONDS.
FETCH_BUDGET_SECONDS = 2.5
REQUEST_TIMEOUT_SECONDS = 2.0
PAGE_SIZE = 250  # the v2 API's largest page
MAX_PAGES = 20
MAX_RESPONSE_BYTES = 4 * 1024 * 1024


class StoreApiError(Exception):
    """The store could not be asked, or did not answer with the order: the webhook is
    answered 503 and BigCommerce sends it again later."""


class StoreApi(Protocol):
    def order(self, order_id: int) -> Mapping[str, Any]: ...

    def order_products(self, order_id: int) -> list[Any]: ...

    def order_shipping_addresses(self, order_id: int) -> list[Any]: ...


# --- the allow-list -----------------------------------------------------------------------


def check_api_base(api_base: str, extra_hosts: Iterable[str] = ()) -> str:
    """The origin to call ('https://api.bigcommerce.com'), or StoreApiError saying why
    `api_base` may not be called."""
    allowed = {API_HOST, *(host.strip().lower().rstrip(".") for host in extra_hosts if host.strip())}
    try:
        parts = urlsplit(api_base)
        port = parts.port
    except ValueError as error:
        raise StoreApiError(f"BigCommerce API base {api_base!r} is not a URL: {error}") from None
    host = (parts.hostname or "").rstrip(".")
    checks = (
        (parts.scheme != "https", "it must use https"),
        (parts.username is not None or parts.password is not None, "it must not carry credentials"),
        (port not in (None, 443), "it must not name a port other than 443"),
        (parts.path not in ("", "/") or bool(parts.query) or bool(parts.fragment),
         "it must be an origin only (no path, query or fragment)"),
        (not host, "it names no host"),
        (_is_ip_literal(host), "an IP address may not be called, only an allowed host name"),
        (host == "localhost" or host.endswith(".localhost"), "localhost may not be called"),
        (host not in allowed,
         f"its host is not allowed (allowed: {', '.join(sorted(allowed))}; others need the BigCommerceApiHosts parameter)"),
    )
    refusal = next((reason for refused, reason in checks if refused), None)
    if refusal:
        raise StoreApiError(f"BigCommerce API base {api_base!r} refused: {refusal}")
    return f"https://{host}"


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        pass
    try:  # what a resolver would also read as IPv4: '2852039166', '0xa9.0xfe.0xa9.0xfe', '127.1'
        socket.inet_aton(host)
        return True
    except OSError:
        return False


def public_address(host: str, resolve: Callable[..., list] = socket.getaddrinfo) -> str:
    """One address of `host`, provided every address it resolves to is public."""
    try:
        answers = resolve(host, 443, type=socket.SOCK_STREAM)
    except OSError as error:
        raise StoreApiError(f"cannot resolve {host}: {error}") from None
    addresses = [ipaddress.ip_address(answer[4][0]) for answer in answers]
    if not addresses:
        raise StoreApiError(f"{host} resolves to no address")
    for address in addresses:
        if not address.is_global or address.is_multicast:
            raise StoreApiError(f"{host} resolves to {address}, which is not a public address: not called")
    return str(addresses[0])


# --- over HTTPS ---------------------------------------------------------------------------


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to the address that was checked, and verifies TLS for the host name."""

    def __init__(self, host: str, *, address: str, **kwargs: Any):
        super().__init__(host, **kwargs)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout, self.source_address)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, address: str):
        super().__init__(context=ssl.create_default_context())
        self._address = address

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_PinnedHTTPSConnection, address=self._address), req,
                            context=self._context)


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any) -> None:
        return None  # urllib then raises the 3xx as an HTTPError


Transport = Callable[[urllib.request.Request, float], tuple[int, bytes]]


def _pinned_transport(address: str) -> Transport:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _PinnedHTTPSHandler(address), _RefuseRedirects())

    def send(request: urllib.request.Request, timeout: float) -> tuple[int, bytes]:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read(MAX_RESPONSE_BYTES + 1)

    return send


class HttpStoreApi:
    """GET {api_base}/stores/{store_hash}/v2/orders/{id}[/products|/shipping_addresses]."""

    def __init__(self, api_base: str, store_hash: str, token: str, *, allowed_hosts: Iterable[str] = (),
                 budget_seconds: float = FETCH_BUDGET_SECONDS, transport: Transport | None = None,
                 resolve: Callable[..., list] = socket.getaddrinfo, clock: Callable[[], float] = time.monotonic):
        self._base = f"{check_api_base(api_base, allowed_hosts)}/stores/{store_hash}/v2"
        self._token = token
        self._transport = transport
        self._resolve = resolve
        self._clock = clock
        self._deadline = clock() + budget_seconds

    def order(self, order_id: int) -> Mapping[str, Any]:
        document = self._get(f"/orders/{order_id}")
        if not isinstance(document, dict):
            raise StoreApiError(f"order {order_id}: the store answered {type(document).__name__}, not an order")
        if document.get("id") != order_id:
            raise StoreApiError(f"asked for order {order_id}, the store answered order {document.get('id')!r}")
        return document

    def order_products(self, order_id: int) -> list[Any]:
        return self._pages(f"/orders/{order_id}/products")

    def order_shipping_addresses(self, order_id: int) -> list[Any]:
        return self._pages(f"/orders/{order_id}/shipping_addresses")

    def _pages(self, path: str) -> list[Any]:
        items: list[Any] = []
        for page in range(1, MAX_PAGES + 1):
            batch = self._get(f"{path}?limit={PAGE_SIZE}&page={page}")
            batch = [] if batch is None else batch  # the v2 API answers an empty list with 204
            if not isinstance(batch, list):
                raise StoreApiError(f"{path}: the store answered {type(batch).__name__}, not a list")
            items.extend(batch)
            if len(batch) < PAGE_SIZE:
                return items
        raise StoreApiError(f"{path}: more than {MAX_PAGES * PAGE_SIZE} entries; not read")

    def _get(self, path: str) -> Any:
        left = self._deadline - self._clock()
        if left <= 0:
            raise StoreApiError(f"GET {path}: out of time ({FETCH_BUDGET_SECONDS} s for the whole order)")
        if self._transport is None:
            self._transport = _pinned_transport(public_address(urlsplit(self._base).hostname, self._resolve))
        request = urllib.request.Request(f"{self._base}{path}", headers={
            "X-Auth-Token": self._token, "Accept": "application/json", "User-Agent": "Meshline"})
        try:
            status, payload = self._transport(request, min(left, REQUEST_TIMEOUT_SECONDS))
        except urllib.error.HTTPError as error:
            raise StoreApiError(f"GET {path}: HTTP {error.code}") from None
        except (OSError, http.client.HTTPException) as error:  # URLError, timeouts, TLS, resets
            raise StoreApiError(f"GET {path}: {error}") from None
        if status == 204:
            return None
        if len(payload) > MAX_RESPONSE_BYTES:
            raise StoreApiError(f"GET {path}: the answer is over {MAX_RESPONSE_BYTES} bytes")
        try:
            return json.loads(payload)
        except ValueError:
            raise StoreApiError(f"GET {path}: the answer is not JSON") from None


# --- recorded -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Recording:
    order: Mapping[str, Any]
    products: list[Any]
    shipping_addresses: list[Any]


class RecordedStoreApi:
    """Answers the orders it holds a recording for, by order id; any other id as the API
    answers an unknown order (HTTP 404)."""

    def __init__(self, recordings: Mapping[int, Recording]):
        self._recordings = dict(recordings)

    def order(self, order_id: int) -> Mapping[str, Any]:
        return self._recording(order_id).order

    def order_products(self, order_id: int) -> list[Any]:
        return self._recording(order_id).products

    def order_shipping_addresses(self, order_id: int) -> list[Any]:
        return self._recording(order_id).shipping_addresses

    def _recording(self, order_id: int) -> Recording:
        try:
            return self._recordings[order_id]
        except KeyError:
            raise StoreApiError(f"GET /orders/{order_id}: HTTP 404 (no recording of order {order_id})") from None


@cache
def documented_store(directory: str) -> RecordedStoreApi:
    """BigCommerce's own documented example responses (tests/fixtures/bigcommerce), answering
    for the order its documented `store/order/created` callback names.

    The callback names order 250, but BigCommerce documents GET /v2/orders/{id} with order
    218, its products with order 149 and its shipping addresses with order 229: no one order
    is documented whole. So a request for order 250 is answered with those three documents,
    unchanged (the ids inside them stay 218, 149 and 229): the real webhook meets the real
    responses. Any other order id is answered 404."""
    import yaml  # a development dependency: only tests and the local stack read recordings

    folder = Path(directory)

    def example(name: str) -> Any:
        (documented,) = yaml.safe_load((folder / name).read_text()).values()  # {'Response': {'value': ...}}
        return documented["value"]

    callback = json.loads((folder / "store-order-created.json").read_text())
    return RecordedStoreApi({callback["data"]["id"]: Recording(
        order=example("get-order-v2-response.yaml"),
        products=example("get-order-products-v2-response.yaml"),
        shipping_addresses=example("get-order-shipping-addresses-v2-response.yaml"),
    )})


# --- choosing one -------------------------------------------------------------------------


def open_store(prefix: str, tenant_id: str, allowed_hosts: Iterable[str], recordings: str | None) -> StoreApi:
    """The store API of this tenant, as configured. StoreApiError when it is not (or not
    acceptably) configured: that, too, is answered 503, so nothing is lost while it is fixed."""
    try:
        config = StoreConfig.model_validate_json(tenant_parameter(prefix, tenant_id, STORE_PARAMETER))
    except SecretNotFound as missing:
        raise StoreApiError(f"tenant {tenant_id!r} has no BigCommerce store configured ({missing})") from None
    except ValidationError as error:
        raise StoreApiError(f"tenant {tenant_id!r}: {STORE_PARAMETER} is not a valid store configuration: "
                            f"{first_problem(error)}") from None
    check_api_base(config.api_base, allowed_hosts)  # recorded ones too: the seeded configuration is checked alike
    if config.recorded:
        if not recordings:
            raise StoreApiError(f"tenant {tenant_id!r} is configured to answer from recorded responses, which only "
                                "the local stack has (its BigCommerceRecordings parameter)")
        return documented_store(recordings)
    try:
        token = tenant_parameter(prefix, tenant_id, TOKEN_PARAMETER)
    except SecretNotFound as missing:
        raise StoreApiError(f"tenant {tenant_id!r} has no BigCommerce API token ({missing})") from None
    return HttpStoreApi(config.api_base, config.store_hash, token, allowed_hosts=allowed_hosts)
