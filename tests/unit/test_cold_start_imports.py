"""What a handler's import must not pull in (issue 7's cold start), checked in fresh interpreters:
the X-Ray SDK unless detailed tracing is asked for, boto3 before the first AWS call, the
parser's models, and models built before they are used."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imported_after(module: str, code_dir: str, trace_disabled: str | None, probe: str = "") -> dict:
    env = {key: value for key, value in os.environ.items() if key != "POWERTOOLS_TRACE_DISABLED"}
    if trace_disabled is not None:
        env["POWERTOOLS_TRACE_DISABLED"] = trace_disabled
    env.update(AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1", POWERTOOLS_SERVICE_NAME="test")
    script = (f"import sys, json; sys.path.insert(0, {str(ROOT / code_dir)!r}); import {module}\n"
              "from meshline import observability\n"
              f"{probe}\n"
              "print(json.dumps({'modules': sorted(m for m in sys.modules if m.split('.')[0] in "
              "('aws_xray_sdk', 'boto3', 'jsonschema') or m.startswith('aws_lambda_powertools.utilities.parser')), 'tracer': type(observability.tracer).__name__, **globals().get('extra', {}) }))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def test_a_handler_imports_neither_the_xray_sdk_nor_boto3_nor_jsonschema_by_default():
    found = _imported_after("handle_decide", "functions/decide", "true")
    assert found["tracer"] == "Untraced"
    assert not [m for m in found["modules"] if m.split(".")[0] in ("aws_xray_sdk", "boto3", "jsonschema")], found


def test_no_queue_fed_handler_imports_powertools_parser():
    # meshline.batch.SqsRecord stands in for the parser's SqsRecordModel, whose import brings
    # every parser model and envelope.
    for module, code_dir in (("handle_decide", "functions/decide"), ("handle_results_queue", "functions/acknowledge"),
                             ("handle_escalations", "functions/track_escalations"),
                             ("handle_inventory", "functions/reevaluate_inventory")):
        found = _imported_after(module, code_dir, "true")
        assert not [m for m in found["modules"] if m.startswith("aws_lambda_powertools.utilities.parser")], (module, found)


def test_detailed_tracing_brings_powertools_tracer_back():
    found = _imported_after("handle_ingest", "functions/ingest", "false")
    assert found["tracer"] == "Tracer"
    assert "aws_xray_sdk" in found["modules"]


def test_untraced_decorators_return_the_function_itself():
    from meshline.observability import Untraced

    def handler(event, context):
        return event

    assert Untraced().capture_lambda_handler(handler) is handler
    assert Untraced().capture_method(handler) is handler


def test_models_are_built_on_first_use_not_at_import():
    probe = ("from pydantic import ValidationError\n"
             "from meshline.domain.orders import Order\n"
             "before = type(Order.__pydantic_validator__).__name__\n"
             "try:\n    Order.model_validate({})\nexcept ValidationError:\n    pass\n"
             "extra = {'before': before, 'after': type(Order.__pydantic_validator__).__name__}")
    found = _imported_after("handle_decide", "functions/decide", "true", probe)
    assert found["before"] == "MockValSer" and found["after"] == "SchemaValidator"
