"""BatchGetItem over one table or several: the one place its limits and retries live.

A request takes up to 100 keys, from any tables; DynamoDB may leave some unprocessed
(throttling), which are asked for again with a backoff. Every table is read strongly
consistently: what the decisions read must include the last write.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from meshline.dal.aws import client

BATCH_LIMIT = 100
ATTEMPTS = 8

Keys = Mapping[str, Sequence[dict[str, Any]]]
"""Table name -> the keys to read from it."""


def batch_get(keys: Keys) -> dict[str, list[dict[str, Any]]]:
    """The items found under `keys`, by table (a table is present, maybe empty, for each
    table asked about), in as few requests as the 100-key limit allows."""
    found: dict[str, list[dict[str, Any]]] = {table: [] for table in keys}
    wanted = [(table, key) for table, table_keys in keys.items() for key in table_keys]
    dynamodb = client("dynamodb")
    for start in range(0, len(wanted), BATCH_LIMIT):
        request: dict[str, Any] = {}
        for table, key in wanted[start : start + BATCH_LIMIT]:
            request.setdefault(table, {"Keys": [], "ConsistentRead": True})["Keys"].append(key)
        for attempt in range(ATTEMPTS):
            response = dynamodb.batch_get_item(RequestItems=request)
            for table, items in response["Responses"].items():
                found[table].extend(items)
            request = response.get("UnprocessedKeys") or {}  # in the request's own form, ConsistentRead included
            if not request:
                break
            time.sleep(0.05 * 2**attempt)  # unprocessed keys mean throttling: back off
        else:
            raise RuntimeError(f"{', '.join(sorted(request))}: keys still unprocessed after {ATTEMPTS} attempts")
    return found
