"""Cold start: import and initialise each function's handler in a fresh interpreter.

For every function in template.yaml, a new Python process imports the handler module
(its `Handler`'s module, from its `CodeUri`, with the environment the template gives it
and the one Lambda adds) and reports how long the import took. The baseline, measured in
the same run and the same way, is a bare handler that only imports boto3. The median of
several runs is reported for each, and the ratio against the baseline.

Goal (issue 7): every function at most 1.3x the bare boto3 handler.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_RATIO = 1.3

PROBE = textwrap.dedent("""
    import sys, time
    started = time.perf_counter()
    sys.path.insert(0, sys.argv[1])
    __import__(sys.argv[2])
    print(time.perf_counter() - started)
""")

BARE = textwrap.dedent("""
    import time
    started = time.perf_counter()
    import boto3  # noqa: F401
    def lambda_handler(event, context):
        return {}
    print(time.perf_counter() - started)
""")


def _functions() -> dict[str, dict]:
    from meshline_local.provision import sam_functions

    return sam_functions(ROOT / "template.yaml")


def _environment(properties: dict) -> dict[str, str]:
    variables = {
        key: value if isinstance(value, str) else "placeholder"
        for key, value in properties.get("Environment", {}).get("Variables", {}).items()
    }
    return {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
        **variables,
        "STAGE": "bench",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _seconds(arguments: list[str], env: dict[str, str]) -> float:
    done = subprocess.run([sys.executable, "-c", *arguments], capture_output=True, text=True, env=env, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def measure(runs: int, only: tuple[str, ...] = ()) -> tuple[float, dict[str, float]]:
    base_env = _environment({})
    bare = statistics.median(_seconds([BARE], base_env) for _ in range(runs))
    results = {}
    for name, properties in sorted(_functions().items()):
        if only and name not in only:
            continue
        module = properties["Handler"].rsplit(".", 1)[0]
        code_dir = str(ROOT / properties["CodeUri"])
        env = _environment(properties)
        results[name] = statistics.median(_seconds([PROBE, code_dir, module], env) for _ in range(runs))
    return bare, results


def main(quick: bool = False, only: tuple[str, ...] = ()) -> int:
    runs = 3 if quick else 7
    print(f"cold start: import of each handler in a fresh interpreter, median of {runs}; baseline = bare boto3 handler\n")
    bare, results = measure(runs, only)
    print(f"{'function':<34} {'import ms':>10} {'x bare':>7}")
    print(f"{'(bare boto3 handler)':<34} {bare * 1000:>10.1f} {1.0:>7.2f}")
    worst = 0.0
    for name, seconds in results.items():
        ratio = seconds / bare
        worst = max(worst, ratio)
        print(f"{name:<34} {seconds * 1000:>10.1f} {ratio:>7.2f}")
    verdict = "met" if worst <= GOAL_RATIO else f"MISSED by {worst / GOAL_RATIO:.2f}x"
    print(f"\nworst ratio: {worst:.2f}x the bare boto3 handler (goal <= {GOAL_RATIO}x: {verdict})")
    return 0
