"""Checked-in artifacts stay generated from their source: schemas from the models, the
template valid for SAM, sample events signed and shaped as the tests expect."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from meshline.domain.events import OrderReceived
from meshline.domain.exports import Export
from meshline_local import generate_schemas
from tests.payloads import DEMO_SECRET

ROOT = Path(__file__).resolve().parents[1]


def test_schemas_match_the_models():
    assert generate_schemas.drift() == [], "run: python3 dev.py schemas"


def test_the_export_schema_is_the_one_exports_are_validated_against():
    from meshline.domain.validation import SCHEMA_FILE, schema_directory

    assert json.loads((schema_directory() / SCHEMA_FILE).read_text()) == json.loads(
        (ROOT / "schemas" / "export.schema.json").read_text()
    )
    assert json.loads((ROOT / "schemas" / "export.schema.json").read_text())["title"] == Export.model_config["json_schema_extra"]["title"]


def test_every_checked_in_schema_is_a_valid_json_schema():
    """Checked here once rather than by the functions on every cold start (meshline.domain.validation)."""
    from jsonschema import Draft202012Validator

    files = sorted((ROOT / "schemas").rglob("*.schema.json"))
    assert len(files) > 10
    for path in files:
        Draft202012Validator.check_schema(json.loads(path.read_text()))


def test_sample_events_are_generated_from_the_samples():
    from meshline_local.samples import sample_events

    for name, event in sample_events().items():
        assert json.loads((ROOT / "events" / name).read_text()) == event, f"events/{name} is stale: run python3 dev.py schemas"


def test_sample_events_are_signed_with_the_demo_secret_and_parse():
    from meshline.platforms import shopify

    event = json.loads((ROOT / "events" / "ingest-shopify-orders-create.json").read_text())
    body = event["body"].encode()
    assert shopify.signature_matches(body, event["headers"]["X-Shopify-Hmac-Sha256"], [DEMO_SECRET])
    assert body == (ROOT / "tests" / "fixtures" / "shopify" / "orders-create.json").read_bytes()
    sqs_event = json.loads((ROOT / "events" / "decide-order-received.json").read_text())
    assert OrderReceived.model_validate_json(sqs_event["Records"][0]["body"]).order.order_id == "shopify-820982911946154508"


def test_template_passes_sam_validate_lint():
    sam = shutil.which("sam", path=str(Path(sys.executable).parent)) or shutil.which("sam")
    assert sam, "sam CLI is a dev dependency; run through python3 dev.py test"
    result = subprocess.run(
        [sam, "validate", "--lint", "--template-file", str(ROOT / "template.yaml")],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1"},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


@pytest.mark.slow
def test_sam_build_packages_handlers_and_a_layer_with_its_schemas(tmp_path):
    sam = shutil.which("sam", path=str(Path(sys.executable).parent)) or shutil.which("sam")
    # The layer's bytecode needs the runtime's Python (3.13); where this machine has one, the build uses it.
    from bench.cold_start import runtime_python

    bytecode_python = runtime_python()
    result = subprocess.run(
        [sam, "build", "--build-dir", str(tmp_path / "build")],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
             **({"BYTECODE_PYTHON": str(bytecode_python)} if bytecode_python else {})},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    layer = tmp_path / "build" / "MeshlineLayer" / "python"
    assert (layer / "meshline" / "schemas" / "export.schema.json").read_bytes() == (ROOT / "schemas" / "export.schema.json").read_bytes()
    assert list((layer / "pydantic_core").glob("_pydantic_core.cpython-313-aarch64-linux-gnu.so"))
    assert not (layer / "botocore").exists()
    compiled = layer / "meshline" / "domain" / "__pycache__" / "exports.cpython-313.pyc"
    if bytecode_python:
        # Hash-based and unchecked (PEP 552 flags 0b01): Lambda uses it without looking at the source's mtime.
        assert int.from_bytes(compiled.read_bytes()[4:8], "little") == 0b01
        assert list((layer / "pydantic" / "__pycache__").glob("main.cpython-313.pyc"))
        assert not list(layer.rglob("*.cpython-311.pyc")), "bytecode of the build's own Python, which Lambda would ignore"
    else:
        assert not compiled.exists() and "ships without bytecode" in result.stdout + result.stderr
    from meshline_local.provision import sam_functions

    functions = sam_functions()
    assert len(functions) == 15
    for function, properties in functions.items():
        handler = properties["Handler"].rsplit(".", 1)[0] + ".py"
        assert (tmp_path / "build" / function / handler).is_file(), f"{function}: {handler} not built"


@pytest.mark.slow
def test_checkov_finds_no_failure_the_template_does_not_justify():
    """IaC scan (issue 5): every check checkov skips is skipped in template.yaml with a reason."""
    result = subprocess.run([sys.executable, str(ROOT / "dev.py"), "scan"], capture_output=True, text=True, cwd=ROOT,
                            timeout=900, env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"Failed checks: 0, Skipped checks: \d+", result.stdout), result.stdout[-2000:]
    import yaml

    class _Tags(yaml.SafeLoader):
        pass

    _Tags.add_multi_constructor("!", lambda loader, suffix, node: None)
    resources = yaml.load((ROOT / "template.yaml").read_text(), Loader=_Tags)["Resources"]
    skips = [skip for resource in resources.values()
             for skip in (resource.get("Metadata") or {}).get("checkov", {}).get("skip", [])]
    assert skips and all(len(skip.get("comment", "")) >= 40 for skip in skips), "a skip without a reason"
