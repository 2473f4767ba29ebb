"""Rolling a policy version out to some of a tenant's orders: the `policy_canary` flag.

The flags are a Powertools feature-flags document, deployed with AWS AppConfig (the
template's FeatureFlags* resources hold the first one, every flag off). `policy_canary` is
a non-boolean feature: for an order it evaluates to the candidate policy version that
decides it, or to 0 (no candidate: the active version decides). One rule per tenant:

    "acme: policy v2 for 50% of orders": {
        "when_match": 2,
        "conditions": [
            {"action": "EQUALS", "key": "tenant_id", "value": "acme"},
            {"action": "MODULO_RANGE", "key": "order_bucket", "value": {"BASE": 100, "START": 0, "END": 49}}]}

`order_bucket` is a stable number 0-99 from a hash of `<tenant>:<order>`, so an order
always lands on the same side, whichever function decides it and whenever; buckets
0..percent-1 are in the canary, so raising the percentage only ever adds orders to it.

Plain Python: the evaluation itself (Powertools FeatureFlags over an AppConfig store) is
in meshline.dal.flags.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from meshline.domain.policy import TenantPolicy

POLICY_CANARY = "policy_canary"
NO_CANDIDATE = 0
BUCKETS = 100

INITIAL_FLAGS: dict[str, Any] = {POLICY_CANARY: {"boolean_type": False, "default": NO_CANDIDATE}}
"""Every flag off: what template.yaml's FeatureFlagsConfiguration holds (a test keeps them equal)."""


def order_bucket(tenant_id: str, order_id: str) -> int:
    """0-99, the same for an order forever: the first 8 bytes of sha256('<tenant>:<order>'), mod 100."""
    digest = hashlib.sha256(f"{tenant_id}:{order_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def flag_context(tenant_id: str, order_id: str) -> dict[str, Any]:
    """What the flags' rules are evaluated against, for one order."""
    return {"tenant_id": tenant_id, "order_bucket": order_bucket(tenant_id, order_id)}


def canary_rule_name(tenant_id: str) -> str:
    return f"{tenant_id}: policy canary"


def with_policy_canary(flags: dict[str, Any], tenant_id: str, version: int, percent: int) -> dict[str, Any]:
    """A copy of the flags document in which `version` decides `percent`% of the tenant's
    orders (0: no canary for the tenant, its rule removed). Other tenants' rules are kept."""
    if not 0 <= percent <= BUCKETS:
        raise ValueError(f"percent must be 0-100, got {percent}")
    if version < 1:
        raise ValueError(f"a candidate policy version is 1 or more, got {version}")
    document = copy.deepcopy(flags)
    feature = document.setdefault(POLICY_CANARY, copy.deepcopy(INITIAL_FLAGS[POLICY_CANARY]))
    rules = {name: rule for name, rule in feature.get("rules", {}).items() if name != canary_rule_name(tenant_id)}
    if percent:
        rules[canary_rule_name(tenant_id)] = {
            "when_match": version,
            "conditions": [
                {"action": "EQUALS", "key": "tenant_id", "value": tenant_id},
                {"action": "MODULO_RANGE", "key": "order_bucket",
                 "value": {"BASE": BUCKETS, "START": 0, "END": percent - 1}},
            ],
        }
    if rules:
        feature["rules"] = rules
    else:  # Powertools warns about an empty `rules`; a feature without rules is simply off
        feature.pop("rules", None)
    return document


def pick_policy(active: TenantPolicy, candidate: TenantPolicy | None, wanted: int | None) -> tuple[TenantPolicy, str | None]:
    """The policy an order is decided under, and why a candidate the flag named was passed
    over (None when it was not). The candidate decides only if it is stored and newer than
    the active version: an older one is a flag left behind after a later version was
    activated, and deciding under it would quietly undo that activation."""
    if not wanted or wanted == active.version:
        return active, None
    if candidate is None:
        return active, f"candidate policy version {wanted} is not stored"
    if candidate.version < active.version:
        return active, f"candidate policy version {wanted} is older than the active version {active.version}"
    return candidate, None
