"""Tenant policies (versioned, immutable), stock levels and dispatch bookings.

Items of one tenant (pk `TENANT#<tenant>`):
- `POLICY#<version, 6 digits>`: one immutable policy version, never overwritten; versions
  are numbered in the order they are stored, active or not (a version stored without
  being activated is a candidate, which the `policy_canary` flag can give some orders);
- `POLICY#ACTIVE`: a copy of the active version's document, so that a decision reads the
  policy and the stock of the order's SKUs in one BatchGetItem;
- `SKU#<sku>`: units available per warehouse (`levels`, a map; `revision` counts changes);
- `WATCH#<sku>#<order id>`: an order whose current version ships or backorders the SKU,
  so an inventory change finds the orders it may affect (stale entries are skipped when
  read, and expire through `expires_at`, the table's TTL attribute);
- `DISPATCHES#<warehouse>#<local date>`: dispatches booked on that ship day, counted by
  the decide flow in the same transaction as the export that books them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from botocore.exceptions import ClientError

from meshline.dal.aws import client
from meshline.dal.batch_reads import Keys, batch_get
from meshline.dal.scope import SYSTEM, Scope
from meshline.domain.exports import Export, LineAction
from meshline.domain.inventory import StockSnapshot
from meshline.domain.orders import Order
from meshline.domain.policy import CapacityLeft, PolicyDraft, PolicyVersionSummary, TenantPolicy
from meshline.domain.rollout import pick_policy
from meshline.domain.routing import booking_changes
from meshline.domain.sla import ship_day
from meshline.domain.types import format_utc

ACTIVE = "POLICY#ACTIVE"
WATCH_LIFETIME = timedelta(days=45)  # an order still open after this long is a person's business


class UnknownTenant(LookupError):
    def __init__(self, tenant_id: str):
        self.tenant_id = tenant_id
        super().__init__(f"unknown tenant '{tenant_id}': it has no active policy")


class UnknownPolicyVersion(LookupError):
    def __init__(self, tenant_id: str, version: int):
        super().__init__(f"tenant '{tenant_id}' has no policy version {version}")


class FirstPolicyNotActivated(ValueError):
    def __init__(self, tenant_id: str):
        super().__init__(f"tenant '{tenant_id}' has no active policy: its first version must be activated (activate: true)")


class StalePolicyVersion(RuntimeError):
    """The caller's expected active version is not the active one: someone changed it first."""

    def __init__(self, tenant_id: str, expected: int | None, active: int | None):
        self.active = active
        super().__init__(
            f"tenant '{tenant_id}': expected active policy version {expected if expected is not None else '(none)'}, "
            f"but the active version is {active if active is not None else '(none)'}; read it and submit again"
        )


class VersionNumberTaken(StalePolicyVersion):
    """Concurrent puts kept taking the next version number (the active one was as expected)."""

    def __init__(self, tenant_id: str):
        RuntimeError.__init__(self, f"tenant '{tenant_id}': policy versions kept being added meanwhile; submit again")
        self.active = None


def tenant_key(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


def version_key(version: int) -> str:
    return f"POLICY#{version:06d}"


def dispatches_key(warehouse_id: str, day: date) -> str:
    return f"DISPATCHES#{warehouse_id}#{day.isoformat()}"


# Versions are immutable, so a parsed policy can be kept for the life of the execution
# environment, keyed by (tenant key, version); the hash guards against a table rebuilt
# under the same names (a local stack reset, a restored backup).
_parsed: dict[tuple[str, int], TenantPolicy] = {}


def _policy_from_item(item: Mapping) -> TenantPolicy:
    key = (item["pk"]["S"], int(item["version"]["N"]))
    policy = _parsed.get(key)
    if policy is None or policy.policy_hash != item["policy_hash"]["S"]:
        policy = _parsed[key] = TenantPolicy.model_validate_json(item["document"]["S"])
    return policy


_active_seen: dict[str, TenantPolicy] = {}  # per tenant, the active version this process last read

Canary = Callable[[str, str], "int | None"]
"""(tenant, order) -> the candidate policy version the `policy_canary` flag gives the order, or None."""


def _dispatch_days(policy: TenantPolicy, order: Order) -> dict[str, date]:
    """The ship day each capacity-limited warehouse would dispatch the order on, when the
    policy counts capacity at all."""
    counts_capacity = any(isinstance(f, CapacityLeft) for rule in policy.routing for f in rule.filters)
    limited = [warehouse for warehouse in policy.warehouses if warehouse.daily_capacity is not None]
    if not counts_capacity or not limited:
        return {}
    terms = policy.terms(order.service_level)
    return {warehouse.warehouse_id: ship_day(warehouse, order.placed_at, terms) for warehouse in limited}


@dataclass(frozen=True)
class _Reading:
    """What one order's decision reads from its tenant's partition."""

    tenant_id: str
    order: Order
    pk: str
    wanted: int | None
    candidate_key: str | None
    sort_keys: list[str]


class TenantStore:
    def __init__(self, table: str, scope: Scope = SYSTEM, canary: Canary | None = None):
        """`canary`: how a flow that decides orders learns which candidate version (if any)
        decides an order; without it, the active version decides every order."""
        self.table = table
        self.scope = scope
        self.canary = canary

    def _tenant_pk(self, tenant_id: str) -> str:
        """Every tenant-keyed read and write goes through here: a tenant out of scope is unknown."""
        self.scope.require_tenant(tenant_id, lambda: UnknownTenant(tenant_id))
        return tenant_key(tenant_id)

    # --- what a decision reads ---

    def load(self, tenant_id: str, order: Order) -> tuple[TenantPolicy, StockSnapshot]:
        """The policy that decides `order` and the stock of its SKUs, in one BatchGetItem, plus
        the dispatches booked on each candidate ship day when the policy counts capacity.
        Which days those are depends on the policy: when this process already knows the
        version, they are read in the same batch; otherwise (a cold start, a new version) in
        a second one. The policy is the active version, or the candidate the canary flag
        gives this order (read in the same batch, beside the active one)."""
        policy, stock, _ = self.load_with(tenant_id, order, {})
        return policy, stock

    def load_with(self, tenant_id: str, order: Order, beside: Keys) -> tuple[TenantPolicy, StockSnapshot, dict[str, list[dict]]]:
        """`load`, with the keys `beside` (of other tables: their owners scoped them) read in
        its first BatchGetItem; their items come back by table (an UnknownTenant still wins)."""
        [loaded], found = self.load_many([(tenant_id, order)], beside)
        return *loaded, found

    def load_many(self, orders: Sequence[tuple[str, Order]],
                  beside: Keys) -> tuple[list[tuple[TenantPolicy, StockSnapshot]], dict[str, list[dict]]]:
        """`load_with` for several orders (of one tenant or several) in one BatchGetItem (as
        many as its 100 keys take), a key wanted by two of them read once. Each order's
        stock shows the dispatches booked when they were read: a caller deciding them one
        after the other adds what the earlier ones book (`StockSnapshot.with_bookings`)."""
        if self.table in beside:
            raise ValueError(f"{self.table}: this store reads its own keys, through its scope")
        readings = [self._reading(tenant_id, order) for tenant_id, order in orders]
        asked = {(reading.pk, sk) for reading in readings for sk in reading.sort_keys}
        found = batch_get({self.table: [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in sorted(asked)], **beside})
        by_key = {(item["pk"]["S"], item["sk"]["S"]): item for item in found.pop(self.table)}
        policies = [self._deciding(r.tenant_id, r.order.order_id, by_key.get((r.pk, ACTIVE)),
                                   by_key.get((r.pk, r.candidate_key)) if r.candidate_key else None, r.wanted)
                    for r in readings]
        days = [_dispatch_days(policy, reading.order) for policy, reading in zip(policies, readings)]
        # Which days to count depends on the policy: unless this process knew the version
        # (guessed_days), they are read now, in a second batch.
        unread = sorted({(r.pk, dispatches_key(wid, day)) for r, order_days in zip(readings, days)
                         for wid, day in order_days.items()} - asked)
        if unread:
            more = batch_get({self.table: [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in unread]})[self.table]
            by_key.update({(item["pk"]["S"], item["sk"]["S"]): item for item in more})
        loaded = []
        for reading, policy, order_days in zip(readings, policies, days):
            levels = {}
            for sku in sorted({line.sku for line in reading.order.lines}):
                item = by_key.get((reading.pk, f"SKU#{sku}"))
                if item is not None:
                    levels[sku] = {wh: int(units["N"]) for wh, units in item["levels"]["M"].items()}
            dispatches = {}
            for wid, day in order_days.items():
                item = by_key.get((reading.pk, dispatches_key(wid, day)))
                dispatches[wid] = {day: int(item["booked"]["N"]) if item else 0}
            loaded.append((policy, StockSnapshot(levels=levels, dispatches=dispatches)))
        return loaded, found

    def _reading(self, tenant_id: str, order: Order) -> _Reading:
        pk = self._tenant_pk(tenant_id)
        wanted = self.canary(tenant_id, order.order_id) if self.canary else None
        known = _parsed.get((pk, wanted)) if wanted else None
        known = known or _active_seen.get(pk)
        guessed_days = _dispatch_days(known, order) if known else {}
        candidate_key = version_key(wanted) if wanted else None
        sort_keys = [ACTIVE, *([candidate_key] if candidate_key else []), *sorted({f"SKU#{line.sku}" for line in order.lines}),
                     *(dispatches_key(wid, day) for wid, day in guessed_days.items())]
        return _Reading(tenant_id, order, pk, wanted, candidate_key, sort_keys)

    def deciding_policy(self, tenant_id: str, order_id: str) -> TenantPolicy:
        """The policy that decides the order now (as `load` chooses it), without stock."""
        pk = self._tenant_pk(tenant_id)
        wanted = self.canary(tenant_id, order_id) if self.canary else None
        candidate = self._item(pk, version_key(wanted)) if wanted else None
        return self._deciding(tenant_id, order_id, self._item(pk, ACTIVE), candidate, wanted)

    def _item(self, pk: str, sk: str) -> dict | None:
        return client("dynamodb").get_item(TableName=self.table, Key={"pk": {"S": pk}, "sk": {"S": sk}},
                                           ConsistentRead=True).get("Item")

    def _deciding(self, tenant_id: str, order_id: str, active_item: Mapping | None, candidate_item: Mapping | None,
                  wanted: int | None) -> TenantPolicy:
        if active_item is None:
            raise UnknownTenant(tenant_id)
        active = _active_seen[tenant_key(tenant_id)] = _policy_from_item(active_item)
        candidate = _policy_from_item(candidate_item) if candidate_item else None
        policy, passed_over = pick_policy(active, candidate, wanted)
        if passed_over:
            from meshline.observability import logger  # not at the top: see meshline.dal.flags._unusable

            logger.warning("policy canary passed over: the active version decides", extra={
                "tenant_id": tenant_id, "order_id": order_id, "active_version": active.version, "why": passed_over})
        return policy

    def consequences(self, previous: Export | None, export: Export, policy: TenantPolicy) -> list[dict]:
        """What a new version changes here, for its own transaction: the dispatch counts."""
        return self.booking_updates(export.tenant_id, booking_changes(previous, export, policy))

    def watches(self, export: Export) -> list[tuple[str, dict]]:
        """The puts that note the order under each SKU it ships or backorders. Publication
        makes them (`meshline.dal.publication.send`), after the write and retried until they
        succeed, so a 250-SKU order does not blow the version's transaction past DynamoDB's
        100 items."""
        expires = str(int((export.created_at + WATCH_LIFETIME).timestamp()))
        skus = sorted({line.sku for line in export.lines if line.action in (LineAction.SHIP, LineAction.BACKORDER)})
        return [
            (self.table, {
                "pk": {"S": tenant_key(export.tenant_id)}, "sk": {"S": f"WATCH#{sku}#{export.order_id}"},
                "watched_version": {"N": str(export.version)}, "expires_at": {"N": expires},
            })
            for sku in skus
        ]

    def watchers(self, tenant_id: str, sku: str) -> list[str]:
        """Orders that shipped or backordered `sku` in some version (stale ones included)."""
        prefix = f"WATCH#{sku}#"
        response = client("dynamodb").query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": self._tenant_pk(tenant_id)}, ":prefix": {"S": prefix}},
            ConsistentRead=True,
        )
        return [item["sk"]["S"].removeprefix(prefix) for item in response.get("Items", [])]

    def set_stock_level(self, tenant_id: str, sku: str, warehouse_id: str, available: int) -> int | None:
        """Set one warehouse's level of a SKU; returns the previous level (None if unknown).
        Read, then put on the revision read, so concurrent changes of other warehouses'
        levels of the same SKU are never lost."""
        key = {"pk": {"S": self._tenant_pk(tenant_id)}, "sk": {"S": f"SKU#{sku}"}}
        for _attempt in range(5):
            item = client("dynamodb").get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
            levels = {wh: int(units["N"]) for wh, units in item["levels"]["M"].items()} if item else {}
            before = levels.get(warehouse_id)
            levels[warehouse_id] = available
            condition: dict = {"ConditionExpression": "attribute_not_exists(pk)"}
            revision = 0
            if item is not None and "revision" in item:
                revision = int(item["revision"]["N"])
                condition = {"ConditionExpression": "revision = :revision",
                             "ExpressionAttributeValues": {":revision": {"N": str(revision)}}}
            elif item is not None:
                condition = {"ConditionExpression": "attribute_not_exists(revision)"}
            try:
                client("dynamodb").put_item(
                    TableName=self.table,
                    Item={**key, "levels": {"M": {wh: {"N": str(units)} for wh, units in levels.items()}},
                          "revision": {"N": str(revision + 1)}},
                    **condition,
                )
                return before
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
        raise RuntimeError(f"stock of {sku} kept changing; retry")

    def booking_updates(self, tenant_id: str, deltas: Mapping[tuple[str, date], int]) -> list[dict]:
        """TransactWriteItems entries that move dispatch counts by `deltas`."""
        return [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"pk": {"S": self._tenant_pk(tenant_id)}, "sk": {"S": dispatches_key(wid, day)}},
                    "UpdateExpression": "ADD booked :delta",
                    "ExpressionAttributeValues": {":delta": {"N": str(delta)}},
                }
            }
            for (wid, day), delta in sorted(deltas.items())
            if delta
        ]

    # --- policy administration ---

    def active_policy(self, tenant_id: str) -> TenantPolicy | None:
        item = self._item(self._tenant_pk(tenant_id), ACTIVE)
        return _policy_from_item(item) if item else None

    def policy_version(self, tenant_id: str, version: int) -> TenantPolicy:
        item = self._item(self._tenant_pk(tenant_id), version_key(version))
        if item is None:
            raise UnknownPolicyVersion(tenant_id, version)
        return _policy_from_item(item)

    def policy_versions(self, tenant_id: str) -> list[PolicyVersionSummary]:
        request = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": self._tenant_pk(tenant_id)}, ":prefix": {"S": "POLICY#0"}},
            "ProjectionExpression": "version, policy_hash, created_at, created_by, policy_name",
        }
        summaries = []
        while True:
            response = client("dynamodb").query(**request)
            for item in response.get("Items", []):
                summaries.append(
                    PolicyVersionSummary(
                        version=int(item["version"]["N"]),
                        policy_hash=item["policy_hash"]["S"],
                        created_at=item["created_at"]["S"],
                        created_by=item["created_by"]["S"],
                        name=item.get("policy_name", {}).get("S", ""),
                    )
                )
            if "LastEvaluatedKey" not in response:
                return summaries
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def put_policy(
        self, tenant_id: str, draft: PolicyDraft, expected_version: int | None, actor: str, now: datetime | None = None,
        activate: bool = True,
    ) -> TenantPolicy:
        """Store `draft` as the next version, if `expected_version` is still the active one
        (None: the tenant has no policy yet), and make it active; with `activate=False`, store
        it only (a candidate). The version and the active copy are written in one transaction."""
        if expected_version is None and not activate:
            raise FirstPolicyNotActivated(tenant_id)
        pk = self._tenant_pk(tenant_id)
        if expected_version is None:
            condition: dict = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {"ConditionExpression": "version = :expected",
                         "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}}}
        for _attempt in range(3):
            # A tenant's first version is 1; later ones follow the highest stored, active or not.
            version = 1 if expected_version is None else self.next_version(tenant_id)
            policy = TenantPolicy.from_draft(draft, tenant_id, version)
            attributes = {
                "pk": {"S": pk},
                "version": {"N": str(version)},
                "policy_hash": {"S": policy.policy_hash},
                "created_at": {"S": format_utc(now or datetime.now().astimezone())},
                "created_by": {"S": actor},
                "policy_name": {"S": policy.name},
                "document": {"S": policy.model_dump_json()},
            }
            if activate:
                active = {"Put": {"TableName": self.table, "Item": {**attributes, "sk": {"S": ACTIVE}}, **condition}}
            else:  # a candidate: the active version stays, but must still be the one expected
                active = {"ConditionCheck": {"TableName": self.table, "Key": {"pk": {"S": pk}, "sk": {"S": ACTIVE}},
                                             **condition}}
            try:
                client("dynamodb").transact_write_items(
                    TransactItems=[
                        {"Put": {"TableName": self.table, "Item": {**attributes, "sk": {"S": version_key(version)}},
                                 "ConditionExpression": "attribute_not_exists(pk)"}},
                        active,
                    ]
                )
                return policy
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                current = self.active_policy(tenant_id)
                if expected_version is None or current is None or current.version != expected_version:
                    raise StalePolicyVersion(tenant_id, expected_version, current.version if current else None) from error
                # The active version is as expected: another version took this number meanwhile.
        raise VersionNumberTaken(tenant_id)

    def next_version(self, tenant_id: str) -> int:
        """The number the next stored version gets: one more than the highest, active or not."""
        response = client("dynamodb").query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": self._tenant_pk(tenant_id)}, ":prefix": {"S": "POLICY#0"}},
            ProjectionExpression="version",
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = response.get("Items", [])
        return (int(items[0]["version"]["N"]) if items else 0) + 1

    def activate(self, tenant_id: str, version: int, expected_version: int) -> TenantPolicy:
        """Make a stored version the active one (a candidate promoted, or an earlier version
        back), if `expected_version` is still the active one."""
        item = self._item(self._tenant_pk(tenant_id), version_key(version))
        if item is None:
            raise UnknownPolicyVersion(tenant_id, version)
        try:
            client("dynamodb").put_item(
                TableName=self.table,
                Item={**item, "sk": {"S": ACTIVE}},
                ConditionExpression="version = :expected",
                ExpressionAttributeValues={":expected": {"N": str(expected_version)}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            current = self.active_policy(tenant_id)
            raise StalePolicyVersion(tenant_id, expected_version, current.version if current else None) from error
        return _policy_from_item(item)

    def put_stock(self, tenant_id: str, sku: str, levels: dict[str, int]) -> None:
        client("dynamodb").put_item(
            TableName=self.table,
            Item={
                "pk": {"S": self._tenant_pk(tenant_id)},
                "sk": {"S": f"SKU#{sku}"},
                "levels": {"M": {wh: {"N": str(units)} for wh, units in levels.items()}},
            },
        )
