"""Large payloads in S3, by reference (see meshline.domain.payloads).

Objects are named by the sha256 of their bytes, under a prefix per kind and tenant
(`payloads/<kind>/<tenant>/<sha256>.json`), so writing is safe to repeat: the same bytes
land on the same key, written once (If-None-Match), and two writers can never put
different bytes under one name. S3 checks the sha256 on upload; the reader checks it
again on the way out, so a reference can only ever yield the bytes it was made for.

Why not the SQS Extended Client: it covers SQS only, and Meshline needs the same
reference in a DynamoDB item, an SQS message and an event alike.
"""

from __future__ import annotations

import base64
import hashlib

from botocore.exceptions import ClientError

from meshline.dal.aws import client
from meshline.domain.payloads import PayloadReference

PREFIX = "payloads"
ORDERS = "orders"
EXPORTS = "exports"


class PayloadUnreadable(RuntimeError):
    """A reference whose object is missing, or whose bytes are not the ones it names."""


def payload_key(kind: str, tenant_id: str, sha256: str) -> str:
    return f"{PREFIX}/{kind}/{tenant_id}/{sha256}.json"


def put_payload(bucket: str, kind: str, tenant_id: str, body: bytes) -> PayloadReference:
    digest = hashlib.sha256(body)
    reference = PayloadReference(bucket=bucket, key=payload_key(kind, tenant_id, digest.hexdigest()),
                                 sha256=digest.hexdigest(), size_bytes=len(body))
    try:
        client("s3").put_object(
            Bucket=bucket,
            Key=reference.key,
            Body=body,
            ContentType=reference.content_type,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=base64.b64encode(digest.digest()).decode("ascii"),
            IfNoneMatch="*",
        )
    except ClientError as error:
        # 412: already there; the key is the hash of these very bytes.
        if error.response["Error"]["Code"] not in {"PreconditionFailed", "412"}:
            raise
    return reference


def read_payload(reference: PayloadReference) -> bytes:
    try:
        body = client("s3").get_object(Bucket=reference.bucket, Key=reference.key)["Body"].read()
    except ClientError as error:
        raise PayloadUnreadable(f"s3://{reference.bucket}/{reference.key}: {error.response['Error']['Code']}") from error
    if len(body) != reference.size_bytes or hashlib.sha256(body).hexdigest() != reference.sha256:
        raise PayloadUnreadable(f"s3://{reference.bucket}/{reference.key} does not hold the bytes its reference names "
                                f"({len(body)} bytes, sha256 {hashlib.sha256(body).hexdigest()})")
    return body
