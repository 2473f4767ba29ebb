"""Callers' credentials, in the tenants table (`CREDENTIAL#<id>`), and their usage plan keys.

Only hashes are stored (see `meshline.domain.access`). Each credential also gets an API
Gateway API key in the operators' API usage plan: the authorizer returns that key's value
(`usageIdentifierKey`, key source AUTHORIZER), so API Gateway rate-limits and meters each
credential on its own; callers never see or send it.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from botocore.exceptions import ClientError

from meshline.dal.aws import client
from meshline.domain.access import Caller, Credential, SecretHash, hash_secret, new_credential_id, new_secret, token_for

CREDENTIAL_PREFIX = "CREDENTIAL#"
CREDENTIAL_SORT_KEY = "CREDENTIAL"


class UnknownCredential(LookupError):
    def __init__(self, credential_id: str):
        super().__init__(f"no credential '{credential_id}'")


class CredentialChanged(RuntimeError):
    """Someone rotated or revoked it at the same time; read it again and retry."""


def credential_key(credential_id: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": f"{CREDENTIAL_PREFIX}{credential_id}"}, "sk": {"S": CREDENTIAL_SORT_KEY}}


class CredentialStore:
    def __init__(self, table: str, usage_plan_name: str | None = None):
        self.table = table
        self.usage_plan_name = usage_plan_name

    def get(self, credential_id: str) -> Credential | None:
        item = client("dynamodb").get_item(TableName=self.table, Key=credential_key(credential_id)).get("Item")
        return Credential.model_validate_json(item["document"]["S"]) if item else None

    def issue(self, caller_without_id: dict, now: datetime) -> tuple[Credential, str]:
        """A new credential; returns it and its bearer token, which is never shown again."""
        credential_id, secret = new_credential_id(), new_secret()
        caller = Caller.model_validate({**caller_without_id, "credential_id": credential_id})
        credential = Credential(
            caller=caller,
            secrets=(SecretHash(sha256=hash_secret(secret), issued_at=now),),
            usage_key=self._register_usage_key(credential_id),
        )
        self._put(credential, expected=None)
        return credential, token_for(credential_id, secret)

    def rotate(self, credential_id: str, now: datetime, overlap: timedelta) -> tuple[Credential, str]:
        current = self._existing(credential_id)
        secret = new_secret()
        rotated = current.rotated(secret, now, overlap)
        self._put(rotated, expected=current)
        return rotated, token_for(credential_id, secret)

    def revoke(self, credential_id: str, now: datetime) -> Credential:
        current = self._existing(credential_id)
        revoked = current.revoked(now)
        self._put(revoked, expected=current)
        return revoked

    def _existing(self, credential_id: str) -> Credential:
        credential = self.get(credential_id)
        if credential is None:
            raise UnknownCredential(credential_id)
        return credential

    def _put(self, credential: Credential, expected: Credential | None) -> None:
        document = credential.model_dump_json()
        item = {**credential_key(credential.caller.credential_id), "item_type": {"S": "credential"},
                "document": {"S": document}}
        if expected is None:
            condition: dict = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            # Compare-and-set on the whole document: two rotations at once cannot both win.
            condition = {"ConditionExpression": "document = :seen",
                         "ExpressionAttributeValues": {":seen": {"S": expected.model_dump_json()}}}
        try:
            client("dynamodb").put_item(TableName=self.table, Item=item, **condition)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise CredentialChanged(f"credential '{credential.caller.credential_id}' changed meanwhile; try again") from None
            raise

    def _register_usage_key(self, credential_id: str) -> str:
        plan_id = usage_plan_id(self.usage_plan_name)
        value = secrets.token_hex(20)
        apigateway = client("apigateway")
        key = apigateway.create_api_key(name=f"meshline-credential-{credential_id}", value=value, enabled=True)
        apigateway.create_usage_plan_key(usagePlanId=plan_id, keyId=key["id"], keyType="API_KEY")
        return value


def usage_plan_id(name: str | None) -> str:
    """Found by name: the plan refers to the API, whose routes refer to the onboarding
    function, so the function cannot be given the plan's id without a circular reference.
    Not cached: credentials are issued rarely, and a redeployed plan has a new id."""
    if not name:
        raise ValueError("issuing a credential needs the operators' API usage plan (USAGE_PLAN_NAME)")
    for page in client("apigateway").get_paginator("get_usage_plans").paginate():
        for plan in page.get("items", []):
            if plan.get("name") == name:
                return plan["id"]
    raise LookupError(f"no usage plan named '{name}'")
