"""Feature flags: Powertools FeatureFlags over the AppConfig configuration the template deploys.

The store is read at most once per `FEATURE_FLAGS_MAX_AGE_SECONDS` per execution
environment (Powertools keeps the parsed document meanwhile), so in steady state a flag
costs no AWS call per order: a cold start opens a configuration session and reads once
(StartConfigurationSession + GetLatestConfiguration), then one GetLatestConfiguration per
max age, which answers empty while nothing was deployed.

A flag never stops an order: if the flags cannot be read, the last document read stays in
use (none yet: every flag off) and the store is not asked again before the max age has
passed, so an AppConfig outage neither moves orders across a canary nor costs a call per
order; if the flags make no sense, the order is decided as if every flag were off. Both are
logged and counted (FeatureFlagsUnusable).

The store is obtained through a replaceable factory: the local stack, where moto runs no
AppConfigData, installs its own (meshline_local.flags).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from meshline.dal.aws import client
from meshline.domain.rollout import NO_CANDIDATE, POLICY_CANARY, flag_context
from meshline.settings import FeatureFlagsSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.feature_flags import FeatureFlags, StoreProvider

AppConfigSession = tuple[str, str, str, int]  # application, environment, profile, max age (seconds)
StoreFactory = Callable[[FeatureFlagsSettings], "StoreProvider"]

# AppConfigData refuses a poll sooner than the session's RequiredMinimumPollIntervalInSeconds
# ("Request too early"; default 60 s, at least 15 s): the session is opened with the max age
# as its interval, so Powertools never polls early, and a max age under the floor counts as 15 s.
MIN_POLL_SECONDS = 15


def appconfig_store(settings: FeatureFlagsSettings) -> StoreProvider:
    from aws_lambda_powertools.utilities.feature_flags import AppConfigStore

    poll_seconds = max(MIN_POLL_SECONDS, settings.flags_max_age_seconds)
    appconfigdata = client("appconfigdata")

    def poll_interval(params: dict, **_: object) -> None:
        params.setdefault("RequiredMinimumPollIntervalInSeconds", poll_seconds)

    appconfigdata.meta.events.register("provide-client-params.appconfigdata.StartConfigurationSession", poll_interval,
                                       unique_id="meshline-feature-flags-poll-interval")
    return AppConfigStore(environment=settings.flags_environment, application=settings.flags_application,
                          name=settings.flags_profile, max_age=poll_seconds, boto3_client=appconfigdata)


def _keeping_last_good(store: StoreProvider, retry_seconds: int) -> StoreProvider:
    from aws_lambda_powertools.utilities.feature_flags import ConfigurationStoreError, StoreProvider

    class KeepLastGood(StoreProvider):
        """`store`, except that when it cannot be read, what it last returned is used (none
        yet: the error, so every flag is off), and it is not asked again for `retry_seconds`."""

        def __init__(self) -> None:
            self.last: dict[str, Any] | None = None
            self.failed_at = float("-inf")

        @property
        def get_raw_configuration(self) -> dict[str, Any]:
            return self.get_configuration()

        def get_configuration(self) -> dict[str, Any]:
            if time.monotonic() - self.failed_at >= retry_seconds:
                try:
                    self.last = store.get_configuration()
                except ConfigurationStoreError as error:
                    self.failed_at = time.monotonic()
                    _unusable(f"the feature flags cannot be read: {error}", kept=self.last is not None)
            if self.last is None:
                raise ConfigurationStoreError("the feature flags have not been read yet")
            return self.last

    return KeepLastGood()


_store_factory: StoreFactory = appconfig_store
_flags: dict[AppConfigSession, FeatureFlags] = {}


def use_store(factory: StoreFactory) -> None:
    """Read the flags from another store from now on (the local stack; tests)."""
    global _store_factory
    _store_factory = factory
    _flags.clear()


def reset() -> None:
    """Back to AppConfig, with nothing read yet."""
    use_store(appconfig_store)


def feature_flags(settings: FeatureFlagsSettings) -> FeatureFlags:
    """One FeatureFlags (and so one cached read) per configuration, for the life of the process."""
    from aws_lambda_powertools.utilities.feature_flags import FeatureFlags

    key = (settings.flags_application, settings.flags_environment, settings.flags_profile, settings.flags_max_age_seconds)
    if key not in _flags:
        _flags[key] = FeatureFlags(store=_keeping_last_good(_store_factory(settings), settings.flags_max_age_seconds))
    return _flags[key]


def policy_canary(settings: FeatureFlagsSettings) -> Callable[[str, str], int | None]:
    """(tenant, order) -> the candidate policy version the `policy_canary` flag assigns the
    order, or None: the active version decides it."""

    def candidate(tenant_id: str, order_id: str) -> int | None:
        from aws_lambda_powertools.utilities.feature_flags.exceptions import SchemaValidationError, StoreClientError

        try:
            value = feature_flags(settings).evaluate(name=POLICY_CANARY, context=flag_context(tenant_id, order_id),
                                                     default=NO_CANDIDATE)
        except (SchemaValidationError, StoreClientError) as error:
            return _unusable(f"the feature flags cannot be used: {error}")
        if value == NO_CANDIDATE:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            return _unusable(f"{POLICY_CANARY} evaluated to {value!r}, not a policy version")
        return value

    return candidate


def _unusable(problem: str, kept: bool = False) -> None:
    # Imported here, not at the top: Powertools' Metrics takes its namespace from the
    # environment when meshline.observability is first imported, and the local stack
    # imports this module before any function's environment is in place.
    from meshline.observability import MetricUnit, logger, metrics

    outcome = "the flags read before stay in use" if kept else "every flag is treated as off"
    logger.error(f"feature flags unusable: {outcome}", extra={"problem": problem})
    metrics.add_metric(name="FeatureFlagsUnusable", unit=MetricUnit.Count, value=1)
    return None
