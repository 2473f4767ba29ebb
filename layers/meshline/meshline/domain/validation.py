"""Validation of exports against the checked-in JSON Schema, with jsonschema.

pydantic already refuses most bad exports at construction; this second gate checks the
exact JSON document that will be stored and published, against the file in schemas/
that consumers also validate with, so a model change that slipped past the drift test,
or a document assembled by hand, can never reach a warehouse.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from meshline.domain.errors import InvalidExport

SCHEMA_FILE = "export.schema.json"


def schema_directory() -> Path:
    """The checked-in schemas/: shipped inside the layer, or at the repository root in a checkout."""
    packaged = Path(__file__).resolve().parent.parent / "schemas"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[4] / "schemas"


@cache
def _export_validator() -> Any:
    from jsonschema import Draft202012Validator  # imported on first validation, not at cold start

    # Not checked against the metaschema here (90 ms of every cold start): the file is
    # generated from the models and checked in, and tests/test_artifacts.py checks it.
    return Draft202012Validator(json.loads((schema_directory() / SCHEMA_FILE).read_text(encoding="utf-8")))


def export_schema_errors(document: dict[str, Any]) -> list[str]:
    errors = sorted(_export_validator().iter_errors(document), key=lambda error: list(error.absolute_path))
    return [f"{'/'.join(str(part) for part in error.absolute_path) or '(root)'}: {error.message}" for error in errors]


def validate_export_document(document: dict[str, Any]) -> None:
    errors = export_schema_errors(document)
    if errors:
        raise InvalidExport(str(document.get("export_id", "(no export_id)")), errors)
