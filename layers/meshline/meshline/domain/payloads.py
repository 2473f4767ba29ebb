"""Payloads too large to travel inline, and the references that travel in their place.

AWS caps what one item or message may hold: a DynamoDB item 400 KB, an SQS message
1 MiB, an EventBridge entry and a Step Functions input 256 KB. A B2B order of a few
thousand lines passes the first two (about 160 bytes per export line, as much again for
the decision's inputs). Such a payload is written to S3 under the sha256 of its bytes
(the claim-check pattern), and what travels is a `PayloadReference`: whoever follows it
reads the object and checks its hash and size before trusting a byte of it.

The budgets below are the limits less room for what travels beside the payload (keys,
attributes, the envelope), so that a payload just under a budget still fits.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, PositiveInt

from meshline.domain.types import Model, Sha256Hex

DYNAMODB_ITEM_LIMIT = 400 * 1024
SQS_MESSAGE_LIMIT = 1024 * 1024
EVENT_ENTRY_LIMIT = 256 * 1024

# An export item also holds its keys, hashes and index attributes (under 1 KB); the rest
# of the item is the export's document and its decision inputs.
EXPORT_ITEM_BUDGET = DYNAMODB_ITEM_LIMIT - 8 * 1024
# Message attributes and the FIFO ids count towards the 1 MiB.
SQS_BODY_BUDGET = SQS_MESSAGE_LIMIT - 16 * 1024
# The event's source, detail type, resources and the detail's other fields.
EVENT_DETAIL_BUDGET = EVENT_ENTRY_LIMIT - 16 * 1024


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8"))


class PayloadReference(Model):
    """Where a payload waits in S3, and what its bytes must hash to."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra={"title": "PayloadReference"})

    bucket: str = Field(min_length=3, max_length=63)
    key: str = Field(min_length=1, max_length=1024)
    sha256: Sha256Hex = Field(description="sha256 of the object's bytes, hex; also the last part of its key.")
    size_bytes: PositiveInt
    content_type: Literal["application/json"] = "application/json"
