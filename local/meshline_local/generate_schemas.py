"""Generate schemas/ from the pydantic models: the models are the single definition of every shape.

    python -m meshline_local.generate_schemas           write the files
    python -m meshline_local.generate_schemas --check   exit 1 and name the files that differ
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from meshline.domain.events import EVENT_DETAIL_MODELS, EVENT_SOURCE, OrderReceived
from meshline.domain.exports import Export
from meshline.domain.orders import Order
from meshline.domain.inventory import StockSnapshot
from meshline.domain.policy import PolicyDraft, TenantPolicy

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
DIALECT = "https://json-schema.org/draft/2020-12/schema"

DOCUMENTS: dict[str, type[BaseModel]] = {
    "export.schema.json": Export,
    "order.schema.json": Order,
    "tenant-policy.schema.json": TenantPolicy,
    "policy-draft.schema.json": PolicyDraft,
    "stock-snapshot.schema.json": StockSnapshot,
    "messages/order-received.schema.json": OrderReceived,
}


def _model_schema(model: type[BaseModel]) -> dict[str, Any]:
    return {"$schema": DIALECT, **model.model_json_schema(mode="serialization")}


def _event_schema(detail_type: str, detail_model: type[BaseModel]) -> dict[str, Any]:
    detail = detail_model.model_json_schema(mode="serialization")
    definitions = detail.pop("$defs", {})
    return {
        "$schema": DIALECT,
        "title": f"{detail_type} event",
        "description": f"EventBridge event on Meshline's bus: source '{EVENT_SOURCE}', detail-type '{detail_type}'.",
        "type": "object",
        "required": ["source", "detail-type", "detail"],
        "properties": {
            "source": {"const": EVENT_SOURCE},
            "detail-type": {"const": detail_type},
            "detail": detail,
        },
        "$defs": definitions,
    }


def rendered() -> dict[str, str]:
    documents = {name: _model_schema(model) for name, model in DOCUMENTS.items()}
    for detail_type, model in EVENT_DETAIL_MODELS.items():
        kebab = "".join(f"-{c.lower()}" if c.isupper() else c for c in detail_type).lstrip("-")
        documents[f"events/{kebab}.schema.json"] = _event_schema(detail_type, model)
    return {name: json.dumps(doc, indent=2, sort_keys=True) + "\n" for name, doc in documents.items()}


def drift() -> list[str]:
    """Files in schemas/ that differ from what the models generate, or are missing."""
    return [name for name, text in rendered().items() if not (SCHEMAS / name).is_file() or (SCHEMAS / name).read_text() != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="report drift instead of writing")
    args = parser.parse_args(argv)
    if args.check:
        stale = drift()
        for name in stale:
            print(f"schemas/{name} differs from the models: run 'python3 dev.py schemas'", file=sys.stderr)
        return 1 if stale else 0
    for name, text in rendered().items():
        path = SCHEMAS / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote schemas/{name}")
    from meshline_local.samples import write_events

    for name in write_events():
        print(f"wrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
