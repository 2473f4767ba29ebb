"""Webhook signatures: base64(HMAC-SHA256(key, content)), compared in constant time.

Shopify, WooCommerce and the generic source sign the raw body with the secret; BigCommerce
signs "<id>.<timestamp>.<body>" (Standard Webhooks, see meshline.platforms.bigcommerce).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable


def hmac_sha256_base64(key: bytes, content: bytes) -> str:
    return base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode("ascii")


def sign(body: bytes, secret: str) -> str:
    return hmac_sha256_base64(secret.encode("utf-8"), body)


def any_matches(expected: Iterable[str], presented: Iterable[str]) -> bool:
    """Whether any presented signature equals any expected one (one per currently valid
    secret: several during a rotation). Every pair is compared, in constant time and
    without an early exit, so the time taken does not reveal which secret, if any, matched."""
    offered = [signature.encode("ascii", errors="replace") for signature in presented]
    matched = False
    for candidate in expected:
        wanted = candidate.encode("ascii")
        for signature in offered:
            matched |= hmac.compare_digest(wanted, signature)
    return matched


def signature_matches(body: bytes, signature: str | None, secrets: Iterable[str]) -> bool:
    """The raw-body scheme: `signature` against each currently valid secret."""
    if not signature:
        return False
    return any_matches((sign(body, secret) for secret in secrets), [signature.strip()])
