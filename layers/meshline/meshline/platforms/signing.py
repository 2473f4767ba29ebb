"""The webhook signature Shopify and WooCommerce share: base64(HMAC-SHA256(secret, raw body))."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def signature_matches(body: bytes, signature: str | None, secrets: Iterable[str]) -> bool:
    """Constant-time comparison against each currently valid secret (several during a rotation)."""
    if not signature:
        return False
    presented = signature.strip().encode("ascii", errors="replace")
    matched = False
    for secret in secrets:
        # No early exit: the time taken does not reveal which secret, if any, matched.
        matched |= hmac.compare_digest(sign(body, secret).encode("ascii"), presented)
    return matched
