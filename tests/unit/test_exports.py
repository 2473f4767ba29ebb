"""Exports are sealed by their hash, chained by version, and checked against schemas/."""

import json

import pytest
from pydantic import ValidationError
from pydantic_core import to_json

from meshline.domain.audit import verify_chain
from meshline.domain.errors import InvalidExport
from meshline.domain.exports import Export, canonical_form, canonical_json, content_hash
from meshline.domain.routing import decide
from meshline.domain.validation import export_schema_errors, validate_export_document

from .domain_builders import NOW, order, policy, stock, trigger


def _chain():
    first = decide(order(("A", 1)), policy(), stock(A={"east": 1}), trigger(), None, NOW)
    second = decide(order(("A", 1)), policy(), stock(A={"west": 1}), trigger(), first, NOW)
    return [json.loads(first.canonical_json()), json.loads(second.canonical_json())]


def test_an_untouched_chain_verifies():
    report = verify_chain(_chain())
    assert report.verified and report.versions == 2


def test_altering_any_stored_field_is_detected():
    documents = _chain()
    documents[0]["owning_party"] = "3pl:someone-else"
    report = verify_chain(documents)
    assert not report.verified
    assert report.problems == ["acme:shopify-1001:v1: content_hash does not match its content (altered after it was sealed)"]


def test_resealing_an_altered_export_breaks_the_link_from_its_successor():
    documents = _chain()
    documents[0]["owning_party"] = "3pl:someone-else"
    documents[0]["content_hash"] = content_hash({k: v for k, v in documents[0].items() if k != "content_hash"})
    report = verify_chain(documents)
    assert any("differs from that export's hash" in problem for problem in report.problems)


def test_a_missing_version_is_detected():
    documents = _chain()[1:]
    assert "expected version 1" in verify_chain(documents).problems[0]


def test_the_json_schema_refuses_what_pydantic_was_told_to_skip():
    document = _chain()[0]
    document["owning_party"] = "nobody"
    del document["sla"]
    errors = export_schema_errors(document)
    assert any(error.startswith("owning_party: 'nobody' does not match") for error in errors)
    assert any("'sla' is a required property" in error for error in errors)
    with pytest.raises(InvalidExport, match="export acme:shopify-1001:v1 is invalid"):
        validate_export_document(document)


def test_timestamps_must_be_utc():
    document = _chain()[0]
    document["created_at"] = "2026-11-25T14:00:00+01:00"
    [error] = export_schema_errors(document)
    assert error.startswith("created_at: '2026-11-25T14:00:00+01:00' does not match")


def test_a_manual_override_requires_justification_and_signature():
    document = _chain()[0]
    document["trigger"]["kind"] = "manual_override"
    with pytest.raises(ValidationError, match="requires a justification, a signature and its override record"):
        Export.model_validate(document)


def test_export_id_must_match_tenant_order_and_version():
    document = _chain()[0]
    document["export_id"] = "acme:shopify-1001:v7"
    with pytest.raises(ValidationError, match="export_id must be 'acme:shopify-1001:v1'"):
        Export.model_validate(document)


def test_sealing_from_the_canonical_form_hashes_any_text_as_canonical_json_does():
    # The engine hashes pydantic-core's encoding of the export's canonical form
    # (seal_document); it must write every character as json.dumps(ensure_ascii=False) does.
    every_character = "".join(chr(code) for code in range(0x110000) if not 0xD800 <= code <= 0xDFFF)
    document = {"a": [every_character, 0, -1, 2**70, None, True, False, ""], "b": {"\u2028": {"z": 1, "y": '"\\'}}}
    assert to_json(canonical_form(document)) == canonical_json(document).encode("utf-8")

    tricky = 'qu"ote back\\slash\ttab\n\x01\x1f\x7f é 中 \u2028 😀'
    export = decide(order((tricky, 1)), policy(), stock(**{tricky: {"east": 1}}), trigger(), None, NOW)
    assert export.lines[0].sku == tricky
    assert export.content_hash == content_hash(export.model_dump(mode="json", exclude={"content_hash"}))
