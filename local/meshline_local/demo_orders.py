"""Demo orders for the operators' console: a few days of history to report on, today's open
work, and one planted escalation that has the earliest deadline of all.

Everything goes through the local stack as in production: signed Shopify webhooks to the
ingest API, warehouse answers to `POST /acknowledgements` with each warehouse's own
credential. History is made by deciding and answering each order at its own past moment
(freezegun, in this process only: the handlers run here; moto's server keeps its own
clock), so the reports have on-time and late shipments, rejections and a refused late
answer on real past days.

What is left open, and so on the needs-attention list (seeded at `now`):
- `PLANTED_ORDER`: placed now, rejected by its warehouse for an incorrect address, so its
  version 2 holds the line for a person and escalates along the policy's
  `rejected:incorrect_address` ladder (merchant:acme, 120 minutes): deadline now + 2 h;
- a few orders accepted and not yet shipped: their ship-by is the cutoff of the next
  business day after a handling day, so at least about 24 h ahead, after the planted one.
Every historical order is shipped (late or not), so none of them is open: an open one
would carry a deadline in the past and come first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from meshline.dal.escalations import EscalationStore
from meshline.dal.exports import ExportStore
from meshline.domain.types import format_utc
from meshline_local.runtime import LocalRuntime
from meshline_local.samples import routable_body, shopify_headers
from meshline_local.seed import (
    OTHER_TENANT_OPERATORS,
    OTHER_TENANT_POLICY,
    bearer,
    environment,
    seed_credentials,
    seed_tenant,
)

PLANTED_ORDER = "shopify-2001"
OTHER_TENANT_ORDER = "shopify-8001"
HISTORY_DAYS = 5
NEW_YORK = ZoneInfo("America/New_York")
TORONTO = {"city": "Toronto", "province_code": "ON", "country_code": "CA", "latitude": 43.65, "longitude": -79.38}
TEE, HAT = "TEE-BLK-M", "706405908216"  # the hat is stocked in the west only; Toronto is served by the east only


@dataclass(frozen=True)
class HistoricalOrder:
    """One past order: what it is, and how its warehouse answered (minutes after the decision;
    shipped relative to its ship-by, negative = early)."""

    lines: list[tuple[str, int]]
    ship_to: dict | None
    first_answer_minutes: int
    shipped_vs_ship_by_minutes: int
    rejected_first: str | None = None  # a reason code: the first warehouse rejects, the order is re-routed
    late_answer_to_superseded: bool = False


# Two orders a day: one for each warehouse, some on time, some late, some re-routed.
HISTORY = [
    HistoricalOrder([(TEE, 1)], TORONTO, 12, -180),
    HistoricalOrder([(HAT, 1)], None, 35, -60),
    HistoricalOrder([(TEE, 2)], None, 20, -240, rejected_first="out_of_stock", late_answer_to_superseded=True),
    HistoricalOrder([(HAT, 1)], None, 90, 150),
    HistoricalOrder([(TEE, 1)], TORONTO, 8, 45),
    HistoricalOrder([(HAT, 2)], None, 25, -30),
    HistoricalOrder([(TEE, 1)], TORONTO, 40, -120),
    HistoricalOrder([(TEE, 1)], None, 15, -90, rejected_first="capacity"),
    HistoricalOrder([(TEE, 3)], TORONTO, 60, 300),
    HistoricalOrder([(HAT, 1)], None, 5, -200),
]


@dataclass
class DemoOrders:
    planted_order: str
    other_tenant_order: str
    history: list[str] = field(default_factory=list)
    open_orders: list[str] = field(default_factory=list)


class _Driver:
    def __init__(self, runtime: LocalRuntime, tokens: dict[str, str], tenant_id: str = "acme"):
        self.runtime = runtime
        self.tokens = tokens
        self.tenant_id = tenant_id
        self.exports = ExportStore(environment(runtime, "DecideFunction")["EXPORTS_TABLE"])

    def place(self, number: int, placed_at: datetime, lines: list[tuple[str, int]], ship_to: dict | None = None) -> dict:
        body = routable_body(number, placed_at.astimezone(NEW_YORK).isoformat(), lines, ship_to=ship_to)
        status, _, answer = self.runtime.handle_http("POST", f"/local/webhooks/shopify/{self.tenant_id}",
                                                     shopify_headers(body, event_id=f"evt-demo-{self.tenant_id}-{number}"), body)
        if status not in (200, 202):
            raise RuntimeError(f"demo order {number}: the webhook was answered {status}: {answer!r}")
        self.runtime.settle()
        return self.latest(f"shopify-{number}")

    def latest(self, order_id: str) -> dict:
        return max(self.exports.history(self.tenant_id, order_id), key=lambda document: document["version"])

    def answer(self, export: dict, warehouse_id: str, kind: str, ack_id: str, at: datetime, **fields: str) -> int:
        body = {"ack_id": ack_id, "export_id": export["export_id"], "warehouse_id": warehouse_id, "kind": kind,
                "at": format_utc(at), **fields}
        status, _, answer = self.runtime.handle_http("POST", "/local/acknowledgements", bearer(self.tokens[warehouse_id]),
                                                     json.dumps(body).encode())
        if status not in (200, 409):
            raise RuntimeError(f"demo answer {ack_id}: {status} {answer!r}")
        self.runtime.settle()
        return status


def _at(moment: datetime):
    """The handlers' clock at `moment`. The local gateway keeps real time: its per-credential
    token buckets refill with time.monotonic, which would otherwise jump back and forth."""
    from meshline_local.freezing import freeze_time

    return freeze_time(moment, ignore=["meshline_local.gateway"])


def _ship_by(export: dict) -> datetime:
    return datetime.fromisoformat(export["shipments"][0]["ship_by"])


def _created(export: dict) -> datetime:
    return datetime.fromisoformat(export["created_at"])


def seed_history(driver: _Driver, now: datetime, days: int = HISTORY_DAYS) -> list[str]:
    """Orders placed at 09:30 New York on each of the last `days` days, all shipped by now."""
    for function in driver.runtime.functions.values():
        function.entry_point()  # imported before freezing: pydantic cannot build models under freezegun's datetime
    orders = []
    latest_allowed = now - timedelta(minutes=5)
    for day in range(days, 0, -1):
        local_day = (now - timedelta(days=day)).astimezone(NEW_YORK).date()
        placed = datetime.combine(local_day, datetime.min.time().replace(hour=9, minute=30), NEW_YORK).astimezone(UTC)
        for slot in range(2):
            plan = HISTORY[((days - day) * 2 + slot) % len(HISTORY)]
            number = 1000 + (days - day) * 2 + slot + 100
            decided = placed + timedelta(minutes=1 + slot)
            with _at(decided):
                export = driver.place(number, placed + timedelta(minutes=slot), plan.lines, plan.ship_to)
            warehouse = export["lines"][0]["warehouse_id"]
            answered = min(_created(export) + timedelta(minutes=plan.first_answer_minutes), latest_allowed)
            if plan.rejected_first:
                with _at(answered):
                    driver.answer(export, warehouse, "rejected", f"demo-{number}-rej", answered, reason_code=plan.rejected_first)
                superseded, export = export, driver.latest(export["order_id"])
                warehouse = export["lines"][0]["warehouse_id"]
                answered = min(answered + timedelta(minutes=plan.first_answer_minutes), latest_allowed)
                if plan.late_answer_to_superseded:  # refused (409) and kept as a record: a "refused answer" exception
                    late = answered + timedelta(minutes=1)
                    with _at(late):
                        driver.answer(superseded, superseded["lines"][0]["warehouse_id"], "accepted", f"demo-{number}-late", late)
            with _at(answered):
                driver.answer(export, warehouse, "accepted", f"demo-{number}-acc", answered)
            shipped = max(min(_ship_by(export) + timedelta(minutes=plan.shipped_vs_ship_by_minutes), latest_allowed),
                          answered + timedelta(minutes=1))
            with _at(shipped):
                driver.answer(export, warehouse, "shipped", f"demo-{number}-shp", shipped, carrier="UPS",
                              tracking_number=f"1Z999AA1{number:010d}")
            orders.append(export["order_id"])
    return orders


def seed_open_work(driver: _Driver, now: datetime) -> tuple[str, list[str]]:
    """Accepted, unshipped orders, and the planted escalation (see the module's docstring)."""
    open_orders = []
    for number, lines, ship_to in ((2002, [(TEE, 1)], TORONTO), (2003, [(HAT, 1)], None), (2004, [(TEE, 2)], None)):
        export = driver.place(number, now, lines, ship_to)
        driver.answer(export, export["lines"][0]["warehouse_id"], "accepted", f"demo-{number}-acc", now)
        open_orders.append(export["order_id"])
    planted = driver.place(int(PLANTED_ORDER.split("-")[1]), now, [(TEE, 1)], TORONTO)
    driver.answer(planted, planted["lines"][0]["warehouse_id"], "rejected", "demo-2001-rej", now,
                  reason_code="incorrect_address", note="No such street in Toronto: the customer must confirm it.")
    held = driver.latest(PLANTED_ORDER)
    if held["intended_action"] != "hold_for_review":
        raise RuntimeError(f"the planted escalation did not hold the order: {held['explanation']['summary']}")
    tasks = EscalationStore(driver.exports.table)
    driver.runtime.run_until(lambda: tasks.tasks(driver.tenant_id, PLANTED_ORDER), timeout=30,
                             what="the planted escalation's first task")
    return PLANTED_ORDER, open_orders


def seed_other_tenant(runtime: LocalRuntime, now: datetime) -> tuple[dict[str, str], str]:
    """globex, the same agency's other merchant, run by agency:carol, with one open order of its own."""
    seed_tenant(runtime, OTHER_TENANT_POLICY, operators=OTHER_TENANT_OPERATORS)
    tokens = seed_credentials(runtime, OTHER_TENANT_POLICY, OTHER_TENANT_OPERATORS)
    driver = _Driver(runtime, tokens, tenant_id=OTHER_TENANT_POLICY.tenant_id)
    export = driver.place(int(OTHER_TENANT_ORDER.split("-")[1]), now, [(TEE, 1)], TORONTO)
    driver.answer(export, export["lines"][0]["warehouse_id"], "accepted", "demo-8001-acc", now)
    return tokens, OTHER_TENANT_ORDER


def seed_demo_orders(runtime: LocalRuntime, tokens: dict[str, str], now: datetime | None = None) -> DemoOrders:
    """History, open work and the planted escalation for acme; globex's own order. Returns
    what was planted; `tokens` gains the globex credentials, as `globex:<party>`."""
    now = now or datetime.now(UTC).replace(microsecond=0)
    driver = _Driver(runtime, tokens)
    if driver.exports.history(driver.tenant_id, PLANTED_ORDER):
        # A stack reattached to a moto server seeded earlier: seeding again would replay
        # the same webhooks with other dates (refused as forged duplicates).
        other_tokens = seed_credentials(runtime, OTHER_TENANT_POLICY, OTHER_TENANT_OPERATORS)
        tokens.update({f"globex:{who}": token for who, token in other_tokens.items()})
        return DemoOrders(planted_order=PLANTED_ORDER, other_tenant_order=OTHER_TENANT_ORDER)
    history = seed_history(driver, now)
    planted, open_orders = seed_open_work(driver, now)
    other_tokens, other_order = seed_other_tenant(runtime, now)
    tokens.update({f"globex:{who}": token for who, token in other_tokens.items()})
    return DemoOrders(planted_order=planted, other_tenant_order=other_order, history=history, open_orders=open_orders)
