"""What API Gateway does before a route's function runs, read from the translated template.

For each route, its OpenAPI `security` names what must pass first:
- a Lambda TOKEN authorizer (`x-amazon-apigateway-authtype: custom`): the identity
  header must match the validation expression (else 401 without calling it); the
  authorizer function runs with the token and the method ARN; an exception "Unauthorized"
  is 401, a Deny is 403, an Allow hands its context to the handler as
  `requestContext.authorizer`; answers are cached per token for the authorizer's TTL;
- `api_key` with `ApiKeySourceType: AUTHORIZER`: the authorizer's `usageIdentifierKey`
  must be an enabled API key in a usage plan of this API and stage (else 403), and that
  plan's throttle (rate and burst, a token bucket per key) answers 429 when exceeded;
- `AWS_IAM`: a SigV4 `Authorization` header. Locally it is not verified (there is no IAM
  here); its access key id stands for the caller in `requestContext.identity.userArn`.

Everything else (usage plans, keys) is read from moto, where the template and the
credential store created them.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from meshline.dal.aws import client
from meshline_local.provision import ACCOUNT_ID

Rejection = tuple[int, dict[str, str]]


@dataclass
class TokenAuthorizer:
    function: Any
    header: str
    validation: re.Pattern[str] | None
    ttl_seconds: int
    cache: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)


@dataclass
class TokenBucket:
    rate: float
    burst: float
    tokens: float
    updated: float

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass
class Admitted:
    authorizer: dict[str, Any] | None = None
    user_arn: str | None = None


class Gateway:
    """One REST API's authorizers and usage plans."""

    def __init__(self, api_logical_id: str, properties: dict[str, Any], functions: dict[str, Any], stage: str,
                 region: str, invoke: Any):
        self.api_id = f"local-{api_logical_id}"
        self.stage = stage
        self.region = region
        self.invoke = invoke  # the runtime's current invoker, which benchmarks may swap
        self.key_source = properties.get("ApiKeySourceType", "HEADER")
        self.authorizers: dict[str, TokenAuthorizer] = {}
        self.buckets: dict[str, TokenBucket] = {}
        self.lock = threading.Lock()
        for name, scheme in properties.get("Body", {}).get("securityDefinitions", {}).items():
            spec = scheme.get("x-amazon-apigateway-authorizer")
            if scheme.get("x-amazon-apigateway-authtype") != "custom" or not spec:
                continue
            if spec.get("type") != "token":
                raise NotImplementedError(f"authorizer {name}: only TOKEN authorizers are played locally")
            arn_reference = spec["authorizerUri"]["Fn::Sub"][1]["__FunctionArn__"]["Fn::GetAtt"][0]
            pattern = spec.get("identityValidationExpression")
            self.authorizers[name] = TokenAuthorizer(
                function=functions[arn_reference],
                header=scheme.get("name", "Authorization"),
                validation=re.compile(pattern) if pattern else None,
                ttl_seconds=int(spec.get("authorizerResultTtlInSeconds", 300)),
            )

    def forget_authorizations(self) -> None:
        """As if every cached authorizer answer had outlived its TTL."""
        for authorizer in self.authorizers.values():
            authorizer.cache.clear()

    def admit(self, security: list[dict[str, Any]], method: str, resource: str,
              headers: dict[str, str]) -> Admitted | Rejection:
        names = [name for requirement in security for name in requirement]
        admitted = Admitted()
        usage_key: str | None = None
        header = {name.lower(): value for name, value in headers.items()}
        for name in names:
            if name in self.authorizers:
                outcome = self._authorize(self.authorizers[name], header, method, resource)
                if isinstance(outcome, tuple):
                    return outcome
                admitted.authorizer = outcome["context"]
                usage_key = outcome.get("usage_key")
            elif name == "AWS_IAM":
                signed = header.get("authorization", "")
                found = re.match(r"AWS4-HMAC-SHA256 Credential=([A-Z0-9]+)/", signed)
                if not found:
                    return 403, {"message": "Missing Authentication Token"}
                admitted.user_arn = f"arn:aws:iam::{ACCOUNT_ID}:user/{found.group(1)}"
        if "api_key" in names:
            key = usage_key if self.key_source == "AUTHORIZER" else header.get("x-api-key")
            refused = self._meter(key)
            if refused:
                return refused
        return admitted

    def _authorize(self, authorizer: TokenAuthorizer, header: dict[str, str], method: str,
                   resource: str) -> dict[str, Any] | Rejection:
        token = header.get(authorizer.header.lower())
        if not token or (authorizer.validation and not authorizer.validation.match(token)):
            return 401, {"message": "Unauthorized"}
        now = time.monotonic()
        cached = authorizer.cache.get(token)
        if cached and cached[0] > now:
            answer = cached[1]
        else:
            method_arn = (f"arn:aws:execute-api:{self.region}:{ACCOUNT_ID}:{self.api_id}/{self.stage}/"
                          f"{method.upper()}{resource}")
            event = {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}
            from meshline_local.runtime import FunctionError

            try:
                answer = self.invoke(authorizer.function, event)
            except FunctionError as error:
                if "Unauthorized" in str(error):
                    return 401, {"message": "Unauthorized"}
                return 500, {"message": None}  # API Gateway's AuthorizerConfigurationException
            if authorizer.ttl_seconds:
                authorizer.cache[token] = (now + authorizer.ttl_seconds, answer)
        effects = {s["Effect"] for s in answer.get("policyDocument", {}).get("Statement", [])}
        if "Allow" not in effects or "Deny" in effects:
            return 403, {"message": "User is not authorized to access this resource"}
        context = {**answer.get("context", {}), "principalId": answer.get("principalId")}
        return {"context": context, "usage_key": answer.get("usageIdentifierKey")}

    def _meter(self, key_value: str | None) -> Rejection | None:
        if not key_value:
            return 403, {"message": "Forbidden"}
        throttle = self._plan_throttle(key_value)
        if throttle is None:
            return 403, {"message": "Forbidden"}
        with self.lock:
            bucket = self.buckets.get(key_value)
            now = time.monotonic()
            if bucket is None:
                rate, burst = float(throttle.get("rateLimit", 10_000)), float(throttle.get("burstLimit", 5_000))
                bucket = self.buckets[key_value] = TokenBucket(rate, burst, burst, now)
            if not bucket.take(now):
                return 429, {"message": "Too Many Requests"}
        return None

    def _plan_throttle(self, key_value: str) -> dict[str, Any] | None:
        apigateway = client("apigateway")
        keys = apigateway.get_api_keys(includeValues=True, limit=500).get("items", [])
        key = next((k for k in keys if k.get("value") == key_value and k.get("enabled")), None)
        if key is None:
            return None
        for plan in apigateway.get_usage_plans(keyId=key["id"]).get("items", []):
            stages = {(s.get("apiId"), s.get("stage")) for s in plan.get("apiStages", [])}
            if (self.api_id, self.stage) in stages:
                return plan.get("throttle", {})
        return None


def rejection_body(rejection: Rejection) -> bytes:
    return json.dumps(rejection[1]).encode()
