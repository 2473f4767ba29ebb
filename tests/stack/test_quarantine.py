"""An export that fails its JSON Schema is never published: it is kept, counted and raised."""

import json

from meshline.domain import routing
from meshline.domain.exports import Export
from tests.payloads import routable_body, shopify_headers


def test_an_invalid_export_is_quarantined_not_published(stack, monkeypatch, capsys):
    real_decide = routing.decide

    def buggy_decide(*args, **kwargs):
        # A routing bug that slips past pydantic: model_construct skips validation.
        export = real_decide(*args, **kwargs)
        return Export.model_construct(**{**dict(export), "owning_party": "whoever"})

    monkeypatch.setattr(routing, "decide", buggy_decide)
    body = routable_body(1001, "2026-11-25T09:30:00-05:00", [("TEE-BLK-M", 2)])
    assert stack.post_webhook(body, shopify_headers(body, event_id="evt-1001"))[0] == 202
    stack.runtime.settle()

    assert stack.exports.history("acme", "shopify-1001") == []
    assert stack.drain(stack.warehouse_queue("east")) == []
    assert stack.archived() == {}
    from meshline.dal.aws import client

    items = client("dynamodb").scan(TableName=stack.env["DecideFunction"]["EXPORTS_TABLE"])["Items"]
    [kept] = [item for item in items if item["sk"]["S"].startswith("QUARANTINE#")]
    assert json.loads(kept["document"]["S"])["owning_party"] == "whoever"
    assert any(error["S"].startswith("owning_party: 'whoever' does not match") for error in kept["errors"]["L"])
    # Raised on the exception path: an ExportQuarantined event, never ExportPublished.
    [event] = [json.loads(m["Body"]) for m in stack.drain(stack.tap_url)]
    assert event["detail-type"] == "ExportQuarantined"
    assert event["detail"]["export_id"] == "acme:shopify-1001:v1"
    # Counted, as an EMF metric (under pytest, function output is captured rather than logged to file).
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert [metric.get("ExportsQuarantined") for metric in emitted if "ExportsQuarantined" in metric] == [[1.0]]
