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


def _template() -> dict:
    from meshline_local.provision import _parsed

    return _parsed(ROOT / "template.yaml")


def _functions() -> dict[str, dict]:
    from meshline_local.provision import sam_functions

    return sam_functions(ROOT / "template.yaml")


def _environment(properties: dict, template: dict | None = None) -> dict[str, str]:
    """The function's environment as deployed with default parameters: the template's
    Globals under its own variables; a reference to anything but a parameter (a table, a
    queue) becomes a placeholder, which no handler reads at import."""
    template = template or {}
    defaults = {name: str(p.get("Default", "")) for name, p in template.get("Parameters", {}).items()}
    globals_ = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})

    def value(v: object) -> str:
        if isinstance(v, str):
            return v
        if isinstance(v, dict) and isinstance(v.get("Ref"), str) and v["Ref"] in defaults:
            return defaults[v["Ref"]]
        return "placeholder"

    variables = {**globals_, **properties.get("Environment", {}).get("Variables", {})}
    return {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
        **{key: value(v) for key, v in variables.items()},
        "STAGE": "bench",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _seconds(arguments: list[str], env: dict[str, str]) -> float:
    done = subprocess.run([sys.executable, "-c", *arguments], capture_output=True, text=True, env=env, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def compile_code() -> None:
    """Bytecode for the layer and the functions, as the layer's Makefile ships it (Lambda
    cannot write any: without it every cold start compiles the code again). Site-packages
    already have theirs from pip; this machine sets PYTHONDONTWRITEBYTECODE, so Meshline's
    own modules would otherwise be compiled in every measured import."""
    import compileall

    for folder in (ROOT / "layers" / "meshline" / "meshline", ROOT / "functions"):
        compileall.compile_dir(folder, quiet=1)


def measure(runs: int, only: tuple[str, ...] = ()) -> tuple[float, dict[str, float]]:
    compile_code()
    base_env = _environment({})
    bare = statistics.median(_seconds([BARE], base_env) for _ in range(runs))
    results = {}
    template = _template()
    for name, properties in sorted(_functions().items()):
        if only and name not in only:
            continue
        module = properties["Handler"].rsplit(".", 1)[0]
        code_dir = str(ROOT / properties["CodeUri"])
        env = _environment(properties, template)
        results[name] = statistics.median(_seconds([PROBE, code_dir, module], env) for _ in range(runs))
    return bare, results


def cold_invocations(lines: int, only: tuple[str, ...] = ()) -> tuple[float, dict[str, tuple[int, float, float]]]:
    """What a first request waits for: the import and then the first event, each invocation
    of a real order's path in a fresh interpreter (bench/memory.py's run: every function of
    the template on the events one order causes), against the local moto server. Per
    function: invocations, median import and median first-event seconds. Baseline: the bare
    handler importing boto3 and making one call."""
    from bench import memory

    invocations, bare, _ = memory.run(lines)
    results = {
        name: (len(runs), statistics.median(r.import_seconds for r in runs), statistics.median(r.handler_seconds for r in runs))
        for name, runs in sorted(invocations.items())
        if not only or name in only
    }
    return bare.import_seconds + bare.handler_seconds, results


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

    # The import alone flatters a function that imports boto3 when it first needs it (every
    # one here does): the first request pays for it then. So also the whole cold path.
    lines = 3
    print(f"\ncold invocation: import + first event, each invocation of a {lines}-line order's path in a fresh interpreter,\n"
          "against the local moto server (its calls included); baseline = bare handler: import boto3, one SQS call\n")
    bare_total, invoked = cold_invocations(lines, only)
    print(f"{'function':<34} {'runs':>4} {'import ms':>10} {'event ms':>9} {'total ms':>9} {'x bare':>7}")
    print(f"{'(bare boto3 handler)':<34} {1:>4} {'':>10} {'':>9} {bare_total * 1000:>9.1f} {1.0:>7.2f}")
    slowest = ("", 0.0)
    for name, (count, imported, handled) in invoked.items():
        ratio = (imported + handled) / bare_total
        slowest = max(slowest, (name, ratio), key=lambda item: item[1])
        print(f"{name:<34} {count:>4} {imported * 1000:>10.1f} {handled * 1000:>9.1f} {(imported + handled) * 1000:>9.1f} "
              f"{ratio:>7.2f}")
    print(f"\nslowest cold invocation: {slowest[0]} at {slowest[1]:.2f}x the bare handler's import and one call")
    return 0
