"""Start, reattach and stop the local stack: moto server + the template's resources + the runtime."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict
from pathlib import Path

from meshline.dal import aws
from meshline_local.provision import ROOT, Deployed, deploy, translate
from meshline_local.runtime import LocalRuntime

DEFAULT_STATE_DIR = Path(".meshline-local")
# What the local stack sets that a real deployment leaves at its default: there is no
# BigCommerce store to ask from a laptop, so its recorded responses stand in for one.
LOCAL_PARAMETERS = {"BigCommerceRecordings": str(ROOT / "tests" / "fixtures" / "bigcommerce")}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _reachable(endpoint_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint_url}/moto-api/", timeout=1):
            return True
    except OSError:
        return False


class MotoServer:
    """`moto_server` in its own process, so the stack's state outlives a crashed runtime;
    started through meshline_local.moto_server, which works around moto's quadratic growth."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1"):
        self.port = port or free_port()
        self.host = host
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> MotoServer:
        if _reachable(self.endpoint_url):
            return self  # already running (e.g. started by `dev.py stack` in another terminal)
        env = {**os.environ, "MOTO_PORT": str(self.port)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "meshline_local.moto_server", "-H", self.host, "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        deadline = time.monotonic() + timeout
        while not _reachable(self.endpoint_url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto server did not start on {self.endpoint_url}")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # busy (e.g. a Step Functions execution): stop it for good
                self.process.kill()
                self.process.wait(timeout=10)


def use_endpoint(endpoint_url: str, region: str = "us-east-1") -> None:
    """Point this process's boto3 clients (provisioning, seeding, inspection) at moto."""
    os.environ["AWS_ENDPOINT_URL"] = endpoint_url
    os.environ["AWS_DEFAULT_REGION"] = region
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    aws.reset()


def start_runtime(endpoint_url: str, stage: str = "local", state_dir: Path = DEFAULT_STATE_DIR, log=None,
                  parameters: dict[str, str] | None = None) -> LocalRuntime:
    """Deploy the template into moto, or reattach to what an earlier run deployed there.
    `parameters` override the template's parameter defaults, as `sam deploy
    --parameter-overrides` does."""
    overrides = {**LOCAL_PARAMETERS, **(parameters or {}), "Stage": stage}
    use_endpoint(endpoint_url)
    state_dir = Path(state_dir)
    state_file = state_dir / "deployed.json"
    cfn = translate()
    deployed = None
    if state_file.exists():
        saved = json.loads(state_file.read_text())
        if saved.get("endpoint_url") == endpoint_url and all(saved["parameters"].get(k) == v for k, v in overrides.items()):
            candidate = Deployed(parameters=saved["parameters"], region=saved["region"], physical=saved["physical"],
                                 attributes=saved["attributes"], resources=cfn["Resources"])
            if _still_there(candidate):
                deployed = candidate
    if deployed is None:
        for stale in state_dir.glob("*.json"):
            stale.unlink()
        deployed = deploy(cfn, overrides)
        state_dir.mkdir(parents=True, exist_ok=True)
        state_file.write_text(json.dumps({"endpoint_url": endpoint_url, **{k: v for k, v in asdict(deployed).items() if k != "resources"}}, indent=1))
    return LocalRuntime(cfn, deployed, endpoint_url, state_dir, log=log)


def _still_there(deployed: Deployed) -> bool:
    from meshline.dal.aws import client

    tables = [name for logical, name in deployed.physical.items() if deployed.resources[logical]["Type"] == "AWS::DynamoDB::Table"]
    try:
        existing = set(client("dynamodb").list_tables()["TableNames"])
    except Exception:
        return False
    return bool(tables) and set(tables) <= existing
