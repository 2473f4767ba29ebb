"""Tenant profiles and stock levels, read together in one BatchGetItem per decision."""

from __future__ import annotations

import time
from collections.abc import Iterable

from meshline.dal.aws import client
from meshline.domain.tenants import StockSnapshot, TenantProfile

PROFILE = "PROFILE"
BATCH_LIMIT = 100


class UnknownTenant(LookupError):
    def __init__(self, tenant_id: str):
        self.tenant_id = tenant_id
        super().__init__(f"unknown tenant '{tenant_id}'")


def _tenant_key(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


class TenantStore:
    def __init__(self, table: str):
        self.table = table

    def load(self, tenant_id: str, skus: Iterable[str]) -> tuple[TenantProfile, StockSnapshot]:
        pk = _tenant_key(tenant_id)
        sort_keys = [PROFILE, *sorted({f"SKU#{sku}" for sku in skus})]
        items = self._batch_get([{"pk": {"S": pk}, "sk": {"S": sk}} for sk in sort_keys])
        profile_item = next((item for item in items if item["sk"]["S"] == PROFILE), None)
        if profile_item is None:
            raise UnknownTenant(tenant_id)
        profile = TenantProfile.model_validate_json(profile_item["document"]["S"])
        levels = {
            item["sk"]["S"].removeprefix("SKU#"): {wh: int(units["N"]) for wh, units in item["levels"]["M"].items()}
            for item in items
            if item["sk"]["S"].startswith("SKU#")
        }
        return profile, StockSnapshot(levels=levels)

    def _batch_get(self, keys: list[dict]) -> list[dict]:
        dynamodb = client("dynamodb")
        items: list[dict] = []
        for start in range(0, len(keys), BATCH_LIMIT):
            request = {self.table: {"Keys": keys[start : start + BATCH_LIMIT], "ConsistentRead": True}}
            for attempt in range(8):
                response = dynamodb.batch_get_item(RequestItems=request)
                items.extend(response["Responses"].get(self.table, []))
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(0.05 * 2**attempt)  # unprocessed keys mean throttling: back off
            else:
                raise RuntimeError(f"{self.table}: keys still unprocessed after 8 attempts")
        return items

    def put_profile(self, profile: TenantProfile) -> None:
        client("dynamodb").put_item(
            TableName=self.table,
            Item={
                "pk": {"S": _tenant_key(profile.tenant_id)},
                "sk": {"S": PROFILE},
                "document": {"S": profile.model_dump_json()},
                "policy_version": {"S": profile.policy_version},
            },
        )

    def put_stock(self, tenant_id: str, sku: str, levels: dict[str, int]) -> None:
        client("dynamodb").put_item(
            TableName=self.table,
            Item={
                "pk": {"S": _tenant_key(tenant_id)},
                "sk": {"S": f"SKU#{sku}"},
                "levels": {"M": {wh: {"N": str(units)} for wh, units in levels.items()}},
            },
        )
