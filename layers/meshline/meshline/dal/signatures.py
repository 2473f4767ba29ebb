"""Operators' signatures, checked with KMS.

Each operator signs with an asymmetric KMS key (ECC_NIST_P256, SIGN_VERIFY) that only
they may use for kms:Sign. Meshline never holds a private key: it only asks KMS to
verify, through the key's alias, `alias/meshline-<stage>-operator-<operator>`, so a
signature that names another operator's key is refused before any KMS call.
"""

from __future__ import annotations

import base64
import binascii
import re

from botocore.exceptions import ClientError

from meshline.dal.aws import client
from meshline.domain.exports import OperatorSignature

_UNSAFE = re.compile(r"[^a-zA-Z0-9/_-]")


def operator_key_alias(stage: str, operator: str) -> str:
    """e.g. agency:alice -> alias/meshline-prod-operator-agency-alice"""
    return f"alias/meshline-{stage}-operator-{_UNSAFE.sub('-', operator)}"


def signature_problem(signature: OperatorSignature, payload: bytes, stage: str) -> str | None:
    """None when `signature` is a valid signature of `payload` by its operator's key; else why not."""
    expected = operator_key_alias(stage, signature.operator)
    if signature.key_id != expected:
        return f"{signature.operator} signs with {expected}, not {signature.key_id}"
    try:
        raw = base64.b64decode(signature.value, validate=True)
    except (binascii.Error, ValueError):
        return f"the signature of {signature.operator} is not base64"
    try:
        valid = client("kms").verify(
            KeyId=expected, Message=payload, MessageType="RAW", Signature=raw, SigningAlgorithm=signature.algorithm
        )["SignatureValid"]
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "KMSInvalidSignatureException":  # what KMS answers for a wrong signature
            valid = False
        elif code == "NotFoundException":
            return f"{signature.operator} has no signing key ({expected})"
        else:
            raise
    return None if valid else f"the signature of {signature.operator} does not match this override"


def sign(stage: str, operator: str, payload: bytes) -> OperatorSignature:
    """Sign as `operator` (needs kms:Sign on their key): what an operator's tool does."""
    alias = operator_key_alias(stage, operator)
    raw = client("kms").sign(KeyId=alias, Message=payload, MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    return OperatorSignature(operator=operator, key_id=alias, value=base64.b64encode(raw).decode())
