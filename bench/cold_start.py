"""Cold start: import and initialise each function's handler in a fresh interpreter.

For every function in template.yaml, a new Python process imports the handler module
(its `Handler`'s module, from its `CodeUri`, with the environment the template gives it
and the one Lambda adds) and reports how long the import took. The baseline, measured in
the same run and the same way, is a bare handler that only imports boto3. The median of
several runs is reported for each, and the ratio against the baseline.

Goal (issue 7): every function at most 1.3x the bare boto3 handler.

Two more views, because the import alone is not all a first request waits for:
- cold invocation: the import and then the first event, every invocation of a real
  order's path in a fresh interpreter against the local moto server (bench/memory.py's run);
- the layer as Lambda runs it: when this machine has the runtime's Python (3.13), the
  layer is built by its Makefile (for this machine's architecture) and each handler is
  imported from it with that Python, with the layer's bytecode and without it, beside
  boto3 imported the same way (as the runtime provides it, compiled).
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


LAMBDA_PYTHON = "3.13"


def runtime_python() -> str | None:
    """A working interpreter of the Lambda runtime's Python version, if this machine has one."""
    import shutil

    candidates = [shutil.which(f"python{LAMBDA_PYTHON}"), *sorted(Path.home().glob(f".pyenv/versions/{LAMBDA_PYTHON}*/bin/python{LAMBDA_PYTHON}"))]
    return next((str(python) for python in candidates
                 if python and subprocess.run([str(python), "-c", ""], capture_output=True).returncode == 0), None)


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


def built_layer_imports(python: str, runs: int, only: tuple[str, ...] = ()) -> tuple[float, dict[str, tuple[float, float]]]:
    """Import each handler with `python` from the layer its Makefile builds, with and without
    the bytecode it ships; boto3 installed beside it, compiled, as the runtime has it.
    Returns the bare boto3 import and, per function, (with bytecode, without) seconds."""
    import platform
    import shutil
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="meshline-layer-"))
    machine = "aarch64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
    subprocess.run(["make", "-s", "-C", str(ROOT / "layers" / "meshline"), "build-MeshlineLayer",
                    f"ARTIFACTS_DIR={work / 'layer'}", f"LAMBDA_PLATFORM=manylinux2014_{machine}",
                    f"BYTECODE_PYTHON={python}", f"LAMBDA_PYTHON={LAMBDA_PYTHON}"], check=True, capture_output=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target",
                    str(work / "runtime"), "boto3"], check=True, capture_output=True)
    subprocess.run([python, "-m", "compileall", "-q", "-j", "0", str(work / "runtime")], check=True, capture_output=True)
    shutil.copytree(work / "layer", work / "layer-source-only")
    for cache in list((work / "layer-source-only").rglob("__pycache__")):
        shutil.rmtree(cache)

    def seconds(layer: Path | None, code_dir: str, module: str, env: dict[str, str]) -> float:
        paths = [code_dir, *([str(layer / "python")] if layer else []), str(work / "runtime")]
        probe = f"import sys, time; sys.path[:0] = {paths!r}; started = time.perf_counter(); import {module}; print(time.perf_counter() - started)"
        return statistics.median(
            float(subprocess.run([python, "-c", probe], capture_output=True, text=True, env=env, check=True).stdout.split()[-1])
            for _ in range(runs))

    template = _template()
    bare = seconds(None, str(work), "boto3", _environment({}))
    results = {}
    for name, properties in sorted(_functions().items()):
        if only and name not in only:
            continue
        env, module = _environment(properties, template), properties["Handler"].rsplit(".", 1)[0]
        code_dir = str(ROOT / properties["CodeUri"])
        results[name] = (seconds(work / "layer", code_dir, module, env), seconds(work / "layer-source-only", code_dir, module, env))
    shutil.rmtree(work)
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

    python = runtime_python()
    print(f"\nthe layer as Lambda runs it: each handler imported with Python {LAMBDA_PYTHON} from the layer its Makefile builds,\n"
          f"with the bytecode it ships and without; median of {runs}; baseline = boto3 imported the same way")
    if python is None:
        print(f"not measured: no Python {LAMBDA_PYTHON} on this machine (python{LAMBDA_PYTHON} on PATH, or pyenv)")
        return 0
    print()
    bare_layer, layered = built_layer_imports(python, runs, only)
    print(f"{'function':<34} {'bytecode ms':>11} {'x bare':>7} {'source ms':>10} {'x bare':>7}")
    print(f"{'(bare boto3 handler)':<34} {bare_layer * 1000:>11.1f} {1.0:>7.2f}")
    for name, (compiled, source) in layered.items():
        print(f"{name:<34} {compiled * 1000:>11.1f} {compiled / bare_layer:>7.2f} {source * 1000:>10.1f} {source / bare_layer:>7.2f}")
    saved = statistics.median(source - compiled for compiled, source in layered.values())
    print(f"\nthe layer's bytecode saves {saved * 1000:.0f} ms of import per cold start (median over the functions); "
          f"worst with it: {max(c for c, _ in layered.values()) / bare_layer:.2f}x the bare handler")
    return 0
