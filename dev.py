#!/usr/bin/env python3
"""Meshline's one entry point on a fresh machine: only Python 3.11+ and pip are needed.

    python3 dev.py demo        run Meshline locally on moto (no AWS account, no Docker)
    python3 dev.py test        run the whole test suite (what CI runs)
    python3 dev.py stack       run the local stack in the foreground, for poking with the AWS CLI
    python3 dev.py replay      decide stored exports again and compare (--all, or TENANT ORDER)
    python3 dev.py dry-run     what a draft policy would change: TENANT POLICY.json [--last N]
    python3 dev.py report      a report: KIND TENANT [--from --to --period day|week] [--csv]; KIND is sla,
                               exceptions, acknowledgement-times, overrides or reconciliation
    python3 dev.py redrive     dead letters with why they failed; --apply sends them back once fixed
    python3 dev.py flags       the local stack's feature flags: show, or canary TENANT VERSION PERCENT
    python3 dev.py sign        sign an override's payload as OPERATOR with their key in the local stack (the console shows it)
    python3 dev.py bench       the benchmarks under bench/ (decision, cold_start, aws_calls, cost, throughput, memory, fault_harness)
    python3 dev.py schemas     regenerate schemas/ from the pydantic models
    python3 dev.py build       sam build (Lambda artifacts for the template's runtime, no Docker)
    python3 dev.py validate    sam validate --lint
    python3 dev.py scan        checkov on template.yaml (every skipped check says why, in the template)

Every command first makes sure .venv exists and holds what pyproject.toml asks for; it
reinstalls only when pyproject.toml changed, so the second run starts at once.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
STAMP = VENV / ".meshline-installed"


def _wanted_stamp() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def ensure_environment() -> None:
    if not PYTHON.exists():
        print("» creating .venv", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    if STAMP.exists() and STAMP.read_text() == _wanted_stamp():
        return
    print("» installing Meshline and its tools into .venv (first run: about a minute)", flush=True)
    pip = [str(PYTHON), "-m", "pip", "--disable-pip-version-check", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(_wanted_stamp())


SCANNER_VENV = ROOT / ".venv-checkov"
CHECKOV = "checkov==3.2.533"


def ensure_scanner() -> Path:
    """checkov in a venv of its own: it pins boto3 far below what moto and SAM need."""
    scanner_bin = SCANNER_VENV / ("Scripts" if os.name == "nt" else "bin")
    stamp = SCANNER_VENV / ".meshline-installed"
    if not (stamp.exists() and stamp.read_text() == CHECKOV):
        print(f"» installing {CHECKOV} into .venv-checkov (first run: about 30 s)", flush=True)
        venv.EnvBuilder(with_pip=True).create(SCANNER_VENV)
        subprocess.run([str(scanner_bin / "python"), "-m", "pip", "--disable-pip-version-check", "install", "--quiet",
                        CHECKOV], check=True)
        stamp.write_text(CHECKOV)
    return scanner_bin / "checkov"


def scan(rest: list[str]) -> int:
    return _run(str(ensure_scanner()), "--file", "template.yaml", "--framework", "cloudformation", "--skip-download",
                "--compact", "--quiet", *rest)


def _run(*args: str) -> int:
    env = dict(os.environ)
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    env.setdefault("SAM_CLI_TELEMETRY", "0")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.call(list(args), cwd=ROOT, env=env)


def _parallel(rest: list[str]) -> list[str]:
    """The suite runs on every core (pytest-xdist), a test file per worker so that its
    fixtures are built once: 12 min instead of 18 on the 2-core CI machine, measured on
    2026-11-26. Each worker starts its own moto server. `-n 0` (or any -n) overrides."""
    if any(arg == "-n" or arg.startswith(("-n", "--numprocesses")) for arg in rest):
        return []
    return ["-n", "auto", "--dist", "loadfile"]


COMMANDS = {
    "demo": lambda rest: _run(str(PYTHON), "-m", "meshline_local", "demo", *rest),
    "stack": lambda rest: _run(str(PYTHON), "-m", "meshline_local", "stack", *rest),
    "replay": lambda rest: _run(str(PYTHON), "-m", "meshline_local", "replay", *rest),
    "dry-run": lambda rest: _run(str(PYTHON), "-m", "meshline_local", "dry-run", *rest),
    "redrive": lambda rest: _run(str(PYTHON), "-m", "meshline_local", "redrive", *rest),
    "report": lambda rest: _run(str(PYTHON), "-m", "meshline_local", "report", *rest),
    "flags": lambda rest: _run(str(PYTHON), "-m", "meshline_local", "flags", *rest),
    "sign": lambda rest: _run(str(PYTHON), "-m", "meshline_local", "sign", *rest),
    "bench": lambda rest: _run(str(PYTHON), "-m", "bench", *rest),
    "test": lambda rest: _run(str(PYTHON), "-m", "pytest", *_parallel(rest), *rest),
    "schemas": lambda rest: _run(str(PYTHON), "-m", "meshline_local.generate_schemas", *rest),
    "build": lambda rest: _run(str(BIN / "sam"), "build", *rest),
    "validate": lambda rest: _run(str(BIN / "sam"), "validate", "--lint", *rest),
    "scan": scan,
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__.strip())
        return 2
    ensure_environment()
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
