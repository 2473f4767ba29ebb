"""Interleaved A/B of decide(): two versions of the engine in one process, same inputs.

    .venv/bin/python -m bench.decision_ab BASE [OTHER] [--rounds 8] [--cell 50x50] [--cpu]

BASE and OTHER are git revisions; OTHER defaults to the working tree. Each is copied into
a temporary directory under its own package name (meshline_a, meshline_b), so both load
side by side. Both decide the same orders, in alternating batches of 50, so that the
machine's drift (other work on a shared host) falls on both alike; before timing, a
sample of their exports is compared byte for byte (a change that alters outputs is
reported, not timed). `--cpu` times with the thread's CPU clock instead of the wall
clock: steadier on a loaded machine, blind to preemption (which is what makes p99 on a
shared host). Judge a change by the p50 ratio; p99 moves with the host.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKTREE = "WORKTREE"
BATCH = 50


def materialize(revision: str, tag: str, into: Path):
    """The bench.decision module of `revision`, importing meshline_<tag> instead of meshline."""
    where = into / tag
    where.mkdir()
    if revision == WORKTREE:
        shutil.copytree(ROOT / "layers" / "meshline" / "meshline", where / f"meshline_{tag}")
        shutil.copytree(ROOT / "bench", where / f"bench_{tag}")
    else:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "layers/meshline/meshline", "bench"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(where)], input=archive, check=True)
        (where / "layers" / "meshline" / "meshline").rename(where / f"meshline_{tag}")
        (where / "bench").rename(where / f"bench_{tag}")
    for path in where.rglob("*.py"):
        text = path.read_text()
        for old, new in (("from meshline.", f"from meshline_{tag}."), ("import meshline.", f"import meshline_{tag}."),
                         ("from meshline ", f"from meshline_{tag} "), ("from bench.", f"from bench_{tag}."),
                         ("from bench ", f"from bench_{tag} ")):
            text = text.replace(old, new)
        path.write_text(text)
    sys.path.insert(0, str(where))
    return importlib.import_module(f"bench_{tag}.decision")


def inputs(decision, lines: int, warehouses: int, samples: int, seed: int = 11):
    """The same inputs bench.decision.measure() builds for a cell."""
    rng = random.Random(seed * 1000 + lines * 100 + warehouses)
    policy = decision.make_policy(warehouses, rng)
    skus = [f"SKU-{n:03d}" for n in range(lines)]
    stock = decision.make_stock(policy, skus, rng)
    orders = [decision.make_order(i, skus, rng) for i in range(samples)]
    triggers = [decision.Trigger(kind=decision.TriggerKind.ORDER_CREATED, trigger_id=f"t{i}", source="bench",
                                 received_at=order.placed_at) for i, order in enumerate(orders)]
    return policy, stock, orders, triggers


def timed(decision, data, start: int, stop: int, clock) -> list[float]:
    policy, stock, orders, triggers = data
    decide = decision.decide
    samples = []
    gc.collect()
    for order, trigger in zip(orders[start:stop], triggers[start:stop], strict=True):
        now = order.placed_at + timedelta(minutes=1)
        started = clock()
        decide(order, policy, stock, trigger, None, now)
        samples.append((clock() - started) / 1e6)
    return samples


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.decision_ab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base")
    parser.add_argument("other", nargs="?", default=WORKTREE)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--decisions", type=int, default=600, help="per round and version")
    parser.add_argument("--cell", default="50x50", help="LINESxWAREHOUSES")
    parser.add_argument("--cpu", action="store_true", help="time with the thread's CPU clock")
    args = parser.parse_args(argv)
    lines, warehouses = (int(part) for part in args.cell.split("x"))
    clock = time.thread_time_ns if args.cpu else time.perf_counter_ns

    with tempfile.TemporaryDirectory(prefix="decision-ab-") as scratch:
        try:
            return _compare(args, lines, warehouses, clock, Path(scratch))
        finally:  # a second run in this process must load its own copies
            sys.path[:] = [entry for entry in sys.path if not entry.startswith(scratch)]
            for name in [name for name in sys.modules if name.split(".")[0] in PACKAGES]:
                del sys.modules[name]


PACKAGES = ("meshline_a", "meshline_b", "bench_a", "bench_b")


def _compare(args: argparse.Namespace, lines: int, warehouses: int, clock, scratch: Path) -> int:
    a = materialize(args.base, "a", scratch)
    b = materialize(args.other, "b", scratch)
    data = {id(a): inputs(a, lines, warehouses, args.decisions), id(b): inputs(b, lines, warehouses, args.decisions)}
    for index in range(0, args.decisions, max(1, args.decisions // 16)):
        exports = []
        for version in (a, b):
            policy, stock, orders, triggers = data[id(version)]
            order = orders[index]
            exports.append(version.decide(order, policy, stock, triggers[index], None, order.placed_at + timedelta(minutes=1)))
        if exports[0].canonical_json() != exports[1].canonical_json():
            print(f"decision {index} differs between {args.base} and {args.other}: not timed")
            return 1
    for version in (a, b):
        timed(version, data[id(version)], 0, args.decisions, clock)  # warm-up

    pooled: dict[int, list[float]] = {id(a): [], id(b): []}
    ratios = []
    for round_ in range(args.rounds):
        this_round: dict[int, list[float]] = {id(a): [], id(b): []}
        for batch, start in enumerate(range(0, args.decisions, BATCH)):
            for version in (a, b) if (round_ + batch) % 2 == 0 else (b, a):
                this_round[id(version)] += timed(version, data[id(version)], start, start + BATCH, clock)
        ratios.append(statistics.median(this_round[id(b)]) / statistics.median(this_round[id(a)]))
        for key, samples in this_round.items():
            pooled[key] += samples
    print(f"{args.cell}, {args.rounds} x {args.decisions} decisions per version, {'CPU' if args.cpu else 'wall'} clock")
    for name, version in ((f"A {args.base}", a), (f"B {args.other}", b)):
        samples = pooled[id(version)]
        print(f"  {name:<20} p50 {statistics.median(samples):.3f} ms  p99 {percentile(samples, 0.99):.3f} ms")
    p50 = statistics.median(pooled[id(b)]) / statistics.median(pooled[id(a)])
    p99 = percentile(pooled[id(b)], 0.99) / percentile(pooled[id(a)], 0.99)
    print(f"  B/A p50 {p50:.3f}x, p99 {p99:.3f}x; p50 ratio per round: {min(ratios):.3f} to {max(ratios):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
