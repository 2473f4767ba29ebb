"""Feature flags on the local stack: the store its functions read, and how an operator changes them.

Why a store of our own: in AWS, Powertools' AppConfigStore reads the flags through
AppConfigData (StartConfigurationSession, GetLatestConfiguration), which returns what the
last AppConfig deployment made live. moto 5.2.5 implements neither AppConfigData nor
environments and deployments; it does keep applications, configuration profiles and hosted
configuration versions (create and get, but no list). So here the newest hosted version of
the profile is the live one: provision creates version 1 from the template's
FeatureFlagsConfiguration (the flags' source of truth), and `python3 dev.py flags` creates
the next ones, each checked first against the profile's JSON Schema validators, as AppConfig
checks a version before deploying it (moto runs no validator). Like AppConfigStore, the
store reads again at most every FEATURE_FLAGS_MAX_AGE_SECONDS.

    python3 dev.py flags show                          the live flags of the local stack
    python3 dev.py flags canary acme 2 50              policy v2 decides 50% of acme's orders (0: none)
    python3 dev.py flags canary acme 2 50 --file current.json
                                                       print the next document instead, for an AWS deployment
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.feature_flags import StoreProvider
from aws_lambda_powertools.utilities.feature_flags.exceptions import ConfigurationStoreError
from botocore.exceptions import ClientError

from meshline.dal.aws import client
from meshline.domain.rollout import with_policy_canary
from meshline.settings import FeatureFlagsSettings


class InvalidFlags(ValueError):
    pass


def json_schema(content: str) -> dict[str, Any]:
    """A JSON Schema validator's content, checked to be draft-04 JSON Schema (AppConfig's dialect)."""
    from jsonschema import Draft4Validator

    schema = json.loads(content)
    Draft4Validator.check_schema(schema)
    return schema


def schema_problems(document: Any, content: str) -> list[str]:
    """Where `document` breaks the JSON Schema validator whose content is `content`."""
    from jsonschema import Draft4Validator

    return [f"{'.'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
            for error in Draft4Validator(json_schema(content)).iter_errors(document)]


def create_version(application_id: str, profile_id: str, content: str, description: str,
                   content_type: str = "application/json") -> int:
    """Check `content` as AppConfig would before deploying it, then store it as the next hosted
    version: on the local stack, that makes it live."""
    try:
        document = json.loads(content)
    except ValueError as error:
        raise InvalidFlags(f"the flags are not JSON: {error}") from None
    profile = client("appconfig").get_configuration_profile(ApplicationId=application_id, ConfigurationProfileId=profile_id)
    problems = [problem for validator in profile.get("Validators", []) if validator["Type"] == "JSON_SCHEMA"
                for problem in schema_problems(document, validator["Content"])]
    if problems:
        raise InvalidFlags("the profile's JSON Schema refuses these flags: " + "; ".join(problems))
    return client("appconfig").create_hosted_configuration_version(
        ApplicationId=application_id, ConfigurationProfileId=profile_id, Content=content.encode(),
        ContentType=content_type, Description=description,
    )["VersionNumber"]


def newest_version(application_id: str, profile_id: str, after: int = 0) -> tuple[int, dict[str, Any] | None]:
    """The newest hosted version above `after` and its document (None: nothing newer). moto
    has no ListHostedConfigurationVersions, so the numbers are tried in turn."""
    found: tuple[int, dict[str, Any] | None] = (after, None)
    while True:
        try:
            response = client("appconfig").get_hosted_configuration_version(
                ApplicationId=application_id, ConfigurationProfileId=profile_id, VersionNumber=found[0] + 1)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ResourceNotFoundException":
                return found
            raise
        found = (found[0] + 1, json.loads(response["Content"].read()))


class HostedConfigurationStore(StoreProvider):
    """Powertools' store for the local stack: the profile's newest hosted version, read at
    most every `max_age` seconds (the same document object in between, so FeatureFlags
    validates it once)."""

    def __init__(self, application_id: str, profile_id: str, max_age: int):
        super().__init__()
        self.application_id, self.profile_id, self.max_age = application_id, profile_id, max_age
        self.version = 0
        self.document: dict[str, Any] = {}
        self.read_at = float("-inf")

    @property
    def get_raw_configuration(self) -> dict[str, Any]:
        if time.monotonic() - self.read_at >= self.max_age:
            try:
                version, document = newest_version(self.application_id, self.profile_id, self.version)
            except (ClientError, ValueError) as error:
                raise ConfigurationStoreError(f"cannot read the local stack's feature flags: {error}") from error
            if document is not None:
                self.version, self.document = version, document
            self.read_at = time.monotonic()
        return self.document

    def get_configuration(self) -> dict[str, Any]:
        return self.get_raw_configuration


def local_store(settings: FeatureFlagsSettings) -> HostedConfigurationStore:
    """The factory the local runtime installs (meshline.dal.flags.use_store)."""
    return HostedConfigurationStore(settings.flags_application, settings.flags_profile, settings.flags_max_age_seconds)


# ---------------------------------------------------------------- the operator's command


def _local_stack(state_dir: str) -> dict[str, str]:
    """The local stack's physical ids, by logical id; this process's clients pointed at it."""
    from meshline_local.stack import use_endpoint

    state = Path(state_dir) / "deployed.json"
    if not state.exists():
        raise SystemExit(f"no local stack found ({state} is missing): start one with 'python3 dev.py stack'")
    deployed = json.loads(state.read_text())
    use_endpoint(deployed["endpoint_url"])
    return deployed["physical"]


def candidate_problem(tenants_table: str, tenant_id: str, version: int) -> str | None:
    """Why the tenant's orders would not be decided under `version` though the flag names it."""
    from meshline.dal.tenants import TenantStore

    tenants = TenantStore(tenants_table)
    active = tenants.active_policy(tenant_id)
    if active is None:
        return f"tenant '{tenant_id}' has no policy"
    if version not in {summary.version for summary in tenants.policy_versions(tenant_id)}:
        return f"'{tenant_id}' has no policy version {version} (yet): its orders keep the active version {active.version}"
    if version <= active.version:
        return f"version {version} is not newer than the active version {active.version}: the canary is ignored"
    return None


def set_policy_canary(application_id: str, profile_id: str, tenant_id: str, version: int, percent: int) -> int:
    """Policy `version` decides `percent`% of the tenant's orders from the next read of the
    flags on; returns the hosted version that says so."""
    _, live = newest_version(application_id, profile_id)
    document = with_policy_canary(live or {}, tenant_id, version, percent)
    return create_version(application_id, profile_id, json.dumps(document, indent=1),
                          f"{tenant_id}: policy v{version} for {percent}% of orders")


def run_flags(args: argparse.Namespace) -> int:
    if args.action == "canary" and args.file:
        current = json.loads(Path(args.file).read_text())
        print(json.dumps(with_policy_canary(current, args.tenant, args.version, args.percent), indent=1))
        return 0
    physical = _local_stack(args.state_dir)
    application_id, profile_id = physical["FeatureFlagsApplication"], physical["FeatureFlagsProfile"]
    if args.action == "show":
        version, document = newest_version(application_id, profile_id)
        print(f"hosted version {version} (live on the local stack):")
        print(json.dumps(document, indent=1))
        return 0
    try:
        hosted = set_policy_canary(application_id, profile_id, args.tenant, args.version, args.percent)
    except (InvalidFlags, ValueError) as error:
        print(error, file=sys.stderr)
        return 2
    print(f"hosted version {hosted}: policy v{args.version} decides {args.percent}% of {args.tenant}'s orders; "
          "the functions see it within FeatureFlagsMaxAgeSeconds")
    problem = candidate_problem(physical["TenantsTable"], args.tenant, args.version) if args.percent else None
    if problem:
        print(f"warning: {problem}", file=sys.stderr)
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    from meshline_local.stack import DEFAULT_STATE_DIR

    flags = commands.add_parser("flags", help="show or change the local stack's feature flags",
                                description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    flags.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR), help="the local stack's state directory")
    actions = flags.add_subparsers(dest="action", required=True)
    actions.add_parser("show", help="the live flags")
    canary = actions.add_parser("canary", help="give a candidate policy version a percentage of a tenant's orders")
    canary.add_argument("tenant")
    canary.add_argument("version", type=int, help="a stored, not active, policy version")
    canary.add_argument("percent", type=int, help="0-100; 0 ends the canary")
    canary.add_argument("--file", help="change this flags document (e.g. the one deployed in AWS) and print the result")
    flags.set_defaults(run=run_flags)
