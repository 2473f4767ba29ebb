"""Each function's environment, declared as a model and validated once, on first use.

A missing or malformed variable fails loudly with its name instead of surfacing later as
a KeyError deep inside a request.
"""

from __future__ import annotations

import os
from functools import cache

from pydantic import ConfigDict, Field, PositiveInt

from meshline.domain.types import Model


class _Environment(Model):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    stage: str = Field(alias="STAGE", pattern=r"^[a-z0-9-]{1,10}$")

    @classmethod
    def from_environment(cls):  # noqa: ANN206 - returns the subclass
        return cls.model_validate(dict(os.environ))


class IngestSettings(_Environment):
    order_inbox_queue_url: str = Field(alias="ORDER_INBOX_QUEUE_URL")
    receipts_table: str = Field(alias="RECEIPTS_TABLE")
    tenant_parameter_prefix: str = Field(alias="TENANT_PARAMETER_PREFIX", pattern=r"^/.*[^/]$")
    dedup_days: PositiveInt = Field(alias="WEBHOOK_DEDUP_DAYS", default=30)
    # Lambda takes at most 6 MB of request, the body JSON-escaped inside it: 4 MiB of order
    # (a B2B order of ~8,000 Shopify lines) still fits. What then exceeds an SQS message
    # travels by reference (meshline.dal.payloads).
    max_body_bytes: PositiveInt = Field(alias="MAX_WEBHOOK_BYTES", default=4 * 1024 * 1024)
    payloads_bucket: str = Field(alias="PAYLOADS_BUCKET")
    # BigCommerce: hosts besides api.bigcommerce.com that a tenant's API base may name
    # (comma-separated), and the recorded responses the local stack answers with.
    bigcommerce_api_hosts: str = Field(alias="BIGCOMMERCE_API_HOSTS", default="")
    bigcommerce_recordings: str = Field(alias="BIGCOMMERCE_RECORDINGS", default="")

    @property
    def bigcommerce_extra_hosts(self) -> list[str]:
        return [host.strip() for host in self.bigcommerce_api_hosts.split(",") if host.strip()]


class _OrderTables(_Environment):
    """The two tables every flow that reads or writes an order's chain needs."""

    exports_table: str = Field(alias="EXPORTS_TABLE")
    tenants_table: str = Field(alias="TENANTS_TABLE")


class FeatureFlagsSettings(_Environment):
    """Where the feature flags are (AppConfig: application, environment, configuration
    profile, by id) and how long a read of them is kept before asking again."""

    flags_application: str = Field(alias="FEATURE_FLAGS_APPLICATION", min_length=1)
    flags_environment: str = Field(alias="FEATURE_FLAGS_ENVIRONMENT", min_length=1)
    flags_profile: str = Field(alias="FEATURE_FLAGS_PROFILE", min_length=1)
    flags_max_age_seconds: PositiveInt = Field(alias="FEATURE_FLAGS_MAX_AGE_SECONDS", default=60)


class _Deciding(_OrderTables, FeatureFlagsSettings):
    """A flow that decides orders: it reads the flags that pick the policy version, and
    writes exports, which go to S3 when too large for an item (meshline.dal.payloads).
    Readers need no bucket: a reference names its own."""

    payloads_bucket: str = Field(alias="PAYLOADS_BUCKET")


class DecideSettings(_Deciding):
    pass


class AcknowledgeSettings(_Deciding):
    pass


class PublishSettings(_OrderTables):
    payloads_bucket: str = Field(alias="PAYLOADS_BUCKET")  # a quarantined export too large for an item
    archive_bucket: str = Field(alias="ARCHIVE_BUCKET")
    event_bus_name: str = Field(alias="EVENT_BUS_NAME")
    escalation_state_machine_arn: str = Field(alias="ESCALATION_STATE_MACHINE_ARN")
    escalation_seconds_per_minute: float = Field(alias="ESCALATION_SECONDS_PER_MINUTE", default=60.0, gt=0)
    backorders_queue_url: str = Field(alias="BACKORDERS_QUEUE_URL")


class OverrideSettings(_Deciding):
    pass


class SweepSettings(_Deciding):
    escalation_state_machine_arn: str = Field(alias="ESCALATION_STATE_MACHINE_ARN")
    escalation_seconds_per_minute: float = Field(alias="ESCALATION_SECONDS_PER_MINUTE", default=60.0, gt=0)
    batch_size: PositiveInt = Field(alias="SWEEP_BATCH_SIZE", default=100)


class ReevaluateSettings(_Deciding):
    pass


class EscalateSettings(_Environment):
    exports_table: str = Field(alias="EXPORTS_TABLE")
    payloads_bucket: str = Field(alias="PAYLOADS_BUCKET")


class PolicyAdminSettings(_OrderTables):
    max_dry_run_orders: PositiveInt = Field(alias="MAX_DRY_RUN_ORDERS", default=500)


class DeadLetterSettings(Model):
    """Not an _Environment: every queue-fed function has it, and a missing table only
    means reasons are not kept (the DLQ still keeps the message)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    dead_letters_table: str | None = Field(alias="DEAD_LETTERS_TABLE", default=None)


@cache
def dead_letter_settings() -> DeadLetterSettings:
    return DeadLetterSettings.model_validate(dict(os.environ))


class AuthorizerSettings(_Environment):
    tenants_table: str = Field(alias="TENANTS_TABLE")


class OnboardingSettings(_OrderTables):
    usage_plan_name: str = Field(alias="USAGE_PLAN_NAME")
    tenant_parameter_prefix: str = Field(alias="TENANT_PARAMETER_PREFIX", pattern=r"^/.*[^/]$")
    rotation_overlap_hours: PositiveInt = Field(alias="ROTATION_OVERLAP_HOURS", default=24)


class ReadSettings(_OrderTables):
    tenant_read_role_arn: str | None = Field(alias="TENANT_READ_ROLE_ARN", default=None)


class ReportSettings(_OrderTables):
    tenant_read_role_arn: str | None = Field(alias="TENANT_READ_ROLE_ARN", default=None)
    receipts_table: str = Field(alias="RECEIPTS_TABLE")
    receipt_days: PositiveInt = Field(alias="WEBHOOK_DEDUP_DAYS", default=30)
    max_orders: PositiveInt = Field(alias="MAX_REPORT_ORDERS", default=5000)


@cache
def authorizer_settings() -> AuthorizerSettings:
    return AuthorizerSettings.from_environment()


@cache
def onboarding_settings() -> OnboardingSettings:
    return OnboardingSettings.from_environment()


@cache
def read_settings() -> ReadSettings:
    return ReadSettings.from_environment()


@cache
def report_settings() -> ReportSettings:
    return ReportSettings.from_environment()


@cache
def ingest_settings() -> IngestSettings:
    return IngestSettings.from_environment()


@cache
def decide_settings() -> DecideSettings:
    return DecideSettings.from_environment()


@cache
def acknowledge_settings() -> AcknowledgeSettings:
    return AcknowledgeSettings.from_environment()


@cache
def override_settings() -> OverrideSettings:
    return OverrideSettings.from_environment()


@cache
def sweep_settings() -> SweepSettings:
    return SweepSettings.from_environment()


@cache
def reevaluate_settings() -> ReevaluateSettings:
    return ReevaluateSettings.from_environment()


@cache
def escalate_settings() -> EscalateSettings:
    return EscalateSettings.from_environment()


@cache
def publish_settings() -> PublishSettings:
    return PublishSettings.from_environment()


@cache
def policy_admin_settings() -> PolicyAdminSettings:
    return PolicyAdminSettings.from_environment()


def reset() -> None:
    """Forget the cached environment (tests change it between cases)."""
    for loader in (ingest_settings, decide_settings, acknowledge_settings, escalate_settings, publish_settings,
                   policy_admin_settings, override_settings, sweep_settings,
                   reevaluate_settings, authorizer_settings, dead_letter_settings, onboarding_settings, read_settings, report_settings):
        loader.cache_clear()
