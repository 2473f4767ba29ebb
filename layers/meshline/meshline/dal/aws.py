"""boto3 clients, created lazily and once per process.

No client is built at import time, so a cold start pays only for the clients a request
uses. boto3 reads AWS_ENDPOINT_URL itself, which is how the local stack points every
client at moto.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(service, config=Config(retries={"mode": "standard", "max_attempts": 5}))


def reset() -> None:
    client.cache_clear()
