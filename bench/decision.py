"""Decision latency: the routing engine against a naive first-fit baseline, same inputs, same run.

For orders of 1, 10 and 50 lines across 5, 20 and 50 warehouses, it times `decide()` (the
whole decision: filters, sorts, allocation, ship-by per shipment, explanation, inputs
hash, sealing) and a naive baseline that only finds the first warehouse, by priority,
holding every line (no explanation, no SLA, no hash). Every timed call gets a different
order (its own placed-at minute and quantities), so no per-input cache flatters it.

Goal (issue 3): p99 <= 2 ms at 50 lines x 50 warehouses, and cost per (line x warehouse)
no worse than linear: the last column stays flat or falls as the grid grows.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from meshline.domain.exports import Trigger, TriggerKind
from meshline.domain.inventory import StockSnapshot
from meshline.domain.orders import Address, GeoPoint, Order, OrderLine, Platform, ServiceLevel
from meshline.domain.policy import TenantPolicy
from meshline.domain.routing import decide

LINES = (1, 10, 50)
WAREHOUSES = (5, 20, 50)
GOAL_P99_MS = 2.0
ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "Europe/Berlin"]
STATES = [("US", "KY"), ("US", "NY"), ("US", "CA"), ("US", "TX"), ("CA", "ON")]


def make_policy(warehouses: int, rng: random.Random) -> TenantPolicy:
    return TenantPolicy.model_validate({
        "tenant_id": "bench",
        "version": 1,
        "warehouses": [
            {"warehouse_id": f"w{i:02d}", "operator": f"3pl:op{i}", "priority": i, "time_zone": ZONES[i % len(ZONES)],
             "cutoff_local": rng.choice(["14:00", "15:00", "16:30"]), "daily_capacity": 500,
             "cost_per_shipment_cents": rng.randrange(400, 900), "serves": rng.choice([[], ["US"], ["US", "CA"]]),
             "location": {"latitude": rng.uniform(26, 48), "longitude": rng.uniform(-122, -71)},
             "calendar": {"holidays": ["2026-11-26", "2026-12-25"]}}
            for i in range(warehouses)
        ],
        "routing": [
            {"name": "in-region", "filters": [{"kind": "serves_destination"}, {"kind": "safety_stock", "units": 1},
                                              {"kind": "capacity_left"}],
             "sorts": ["makes_cutoff", "distance", "priority"]},
            {"name": "anywhere", "sorts": ["priority"]},
        ],
        "split": {"mode": "minimize_shipments"},
        "backorder": {"mode": "ship_available"},
        "service_levels": {"standard": {"handling_days": 1}},
        "instructions": [{"kind": "promotional_insert", "text": "Winter catalogue", "promotions": ["WINTER26"]}],
    })


def make_stock(policy: TenantPolicy, skus: list[str], rng: random.Random) -> StockSnapshot:
    # Each SKU is held by about 40% of the warehouses, as a merchant's long tail usually is.
    return StockSnapshot(levels={
        sku: {w.warehouse_id: rng.randrange(1, 60) for w in policy.warehouses if rng.random() < 0.4} for sku in skus
    })


def make_order(index: int, skus: list[str], rng: random.Random) -> Order:
    country, region = rng.choice(STATES)
    placed = datetime(2026, 11, 23, 13, 0, tzinfo=UTC) + timedelta(minutes=index * 7)
    return Order(
        tenant_id="bench", order_id=f"shopify-{index}", platform=Platform.SHOPIFY, platform_order_id=str(index),
        placed_at=placed, service_level=rng.choice(list(ServiceLevel)),
        destination=Address(line1="1 Main St", city="Town", country_code=country, region_code=region,
                            location=GeoPoint(latitude=rng.uniform(26, 48), longitude=rng.uniform(-122, -71))),
        lines=[OrderLine(line_id=str(n), sku=sku, quantity=rng.randint(1, 3)) for n, sku in enumerate(skus, 1)],
        promotions=["WINTER26"] if index % 5 == 0 else [],
    )


def first_fit(order: Order, policy: TenantPolicy, stock: StockSnapshot) -> str | None:
    """The naive baseline: first warehouse by priority that holds every line; nothing else."""
    for warehouse in sorted(policy.warehouses, key=lambda w: w.priority):
        if all(stock.available(line.sku, warehouse.warehouse_id) >= line.quantity for line in order.lines):
            return warehouse.warehouse_id
    return None


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(lines: int, warehouses: int, samples: int, seed: int = 11) -> dict[str, float]:
    rng = random.Random(seed * 1000 + lines * 100 + warehouses)
    policy = make_policy(warehouses, rng)
    skus = [f"SKU-{n:03d}" for n in range(lines)]
    stock = make_stock(policy, skus, rng)
    orders = [make_order(i, skus, rng) for i in range(samples)]
    triggers = [Trigger(kind=TriggerKind.ORDER_CREATED, trigger_id=f"t{i}", source="bench", received_at=o.placed_at)
                for i, o in enumerate(orders)]
    for warmup in range(min(20, samples)):
        decide(orders[warmup], policy, stock, triggers[warmup], None, orders[warmup].placed_at)
    gc.collect()
    engine, naive = [], []
    clock = time.perf_counter_ns
    for order, trigger in zip(orders, triggers, strict=True):
        now = order.placed_at + timedelta(minutes=1)
        started = clock()
        decide(order, policy, stock, trigger, None, now)
        engine.append((clock() - started) / 1e6)
        started = clock()
        first_fit(order, policy, stock)
        naive.append((clock() - started) / 1e6)
    return {
        "p50": statistics.median(engine), "p99": percentile(engine, 0.99), "mean": statistics.fmean(engine),
        "naive_p50": statistics.median(naive), "per_second": 1000 / statistics.fmean(engine),
        "us_per_pair": statistics.median(engine) * 1000 / (lines * warehouses),
    }


def main(quick: bool = False) -> int:
    samples = 200 if quick else 1000
    print(f"decision latency: {samples} decisions per cell, each a different order; baseline = naive first-fit\n")
    print(f"{'lines':>5} {'whs':>4} {'decisions/s':>12} {'p50 ms':>8} {'p99 ms':>8} {'first-fit p50 ms':>17} "
          f"{'x first-fit':>11} {'us/(line x wh)':>15}")
    results = {}
    for lines in LINES:
        for warehouses in WAREHOUSES:
            r = results[(lines, warehouses)] = measure(lines, warehouses, samples)
            print(f"{lines:>5} {warehouses:>4} {r['per_second']:>12,.0f} {r['p50']:>8.3f} {r['p99']:>8.3f} "
                  f"{r['naive_p50']:>17.4f} {r['p50'] / r['naive_p50']:>11.1f} {r['us_per_pair']:>15.2f}", flush=True)
    worst = results[(max(LINES), max(WAREHOUSES))]
    growth = worst["us_per_pair"] / results[(10, 20)]["us_per_pair"]
    verdict = "met" if worst["p99"] <= GOAL_P99_MS else f"MISSED by {worst['p99'] / GOAL_P99_MS:.2f}x"
    print(f"\np99 at {max(LINES)} lines x {max(WAREHOUSES)} warehouses: {worst['p99']:.3f} ms "
          f"(goal <= {GOAL_P99_MS} ms: {verdict})")
    print(f"cost per (line x warehouse) at 50x50 vs 10x20: {growth:.2f}x (<= 1.0 means no worse than linear)")
    return 0
