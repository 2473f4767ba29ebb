"""The policy canary: which orders a candidate policy version decides, as Powertools evaluates
the flags, what the template's JSON Schema lets an operator deploy, and what the reader
costs in AWS calls."""

import copy
import io
import json
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.feature_flags import FeatureFlags, SchemaValidator, StoreProvider
from botocore.response import StreamingBody
from botocore.stub import Stubber
from samtranslator.yaml_helper import yaml_parse

from meshline.dal import flags
from meshline.dal.aws import client
from meshline.domain.rollout import (
    INITIAL_FLAGS,
    NO_CANDIDATE,
    POLICY_CANARY,
    flag_context,
    order_bucket,
    pick_policy,
    with_policy_canary,
)
from meshline.settings import FeatureFlagsSettings
from meshline_local.flags import schema_problems

from .domain_builders import policy

ROOT = Path(__file__).resolve().parents[2]
ORDERS = [f"shopify-{number}" for number in range(1000, 3000)]


class MemoryStore(StoreProvider):
    def __init__(self, document):
        self.document = document

    @property
    def get_raw_configuration(self):
        return self.document

    def get_configuration(self):
        return self.document


def candidate_for(document, tenant_id, order_id):
    """What the decide flow asks: the flag's value for this order (0: the active version)."""
    return FeatureFlags(store=MemoryStore(document)).evaluate(
        name=POLICY_CANARY, context=flag_context(tenant_id, order_id), default=NO_CANDIDATE)


def order_in_bucket(bucket, tenant_id="acme"):
    return next(order_id for order_id in ORDERS if order_bucket(tenant_id, order_id) == bucket)


def template_resources():
    return yaml_parse((ROOT / "template.yaml").read_text())["Resources"]


def template_schema():
    [validator] = template_resources()["FeatureFlagsProfile"]["Properties"]["Validators"]
    assert validator["Type"] == "JSON_SCHEMA"
    return validator["Content"]


# --- the bucket --------------------------------------------------------------------------


def test_an_orders_bucket_is_a_fixed_number_from_0_to_99_of_its_tenant_and_id():
    # Pinned: a change here would move orders across a running canary.
    assert [order_bucket("acme", "shopify-1001"), order_bucket("acme", "shopify-1002")] == [15, 66]
    assert order_bucket("globex", "shopify-1001") == 16  # the tenant is part of it
    assert {order_bucket("acme", order_id) for order_id in ORDERS} == set(range(100))
    assert flag_context("acme", "shopify-1001") == {"tenant_id": "acme", "order_bucket": 15}


def test_buckets_spread_evenly_so_a_percentage_means_that_share_of_orders():
    under_half = sum(order_bucket("acme", f"order-{n}") < 50 for n in range(10_000))
    under_tenth = sum(order_bucket("acme", f"order-{n}") < 10 for n in range(10_000))
    assert 4_800 < under_half < 5_200 and 900 < under_tenth < 1_100


# --- evaluation --------------------------------------------------------------------------


def test_with_every_flag_off_no_order_gets_a_candidate():
    assert all(candidate_for(INITIAL_FLAGS, "acme", order_id) == NO_CANDIDATE for order_id in ORDERS[:200])


def test_at_50_percent_exactly_the_orders_in_buckets_0_to_49_get_the_candidate_and_other_tenants_none():
    document = with_policy_canary(INITIAL_FLAGS, "acme", 2, 50)
    for order_id in ORDERS[:300]:
        expected = 2 if order_bucket("acme", order_id) < 50 else NO_CANDIDATE
        assert candidate_for(document, "acme", order_id) == expected
        assert candidate_for(document, "globex", order_id) == NO_CANDIDATE
    assert candidate_for(document, "acme", order_in_bucket(49)) == 2
    assert candidate_for(document, "acme", order_in_bucket(50)) == NO_CANDIDATE


@pytest.mark.parametrize("percent, inside, outside", [(1, [0], [1, 99]), (99, [0, 98], [99]), (100, [0, 50, 99], []),
                                                      (0, [], [0, 50, 99])])
def test_the_percentage_boundaries(percent, inside, outside):
    document = with_policy_canary(INITIAL_FLAGS, "acme", 3, percent)
    assert [candidate_for(document, "acme", order_in_bucket(b)) for b in inside] == [3] * len(inside)
    assert [candidate_for(document, "acme", order_in_bucket(b)) for b in outside] == [NO_CANDIDATE] * len(outside)


def test_zero_percent_removes_the_tenants_rule_and_keeps_everyone_elses():
    both = with_policy_canary(with_policy_canary(INITIAL_FLAGS, "acme", 2, 50), "globex", 7, 10)
    assert with_policy_canary(with_policy_canary(both, "acme", 2, 0), "globex", 7, 0) == INITIAL_FLAGS
    only_globex = with_policy_canary(both, "acme", 2, 0)
    assert list(only_globex[POLICY_CANARY]["rules"]) == ["globex: policy canary"]
    globex_order = order_in_bucket(3, "globex")
    assert candidate_for(only_globex, "globex", globex_order) == 7
    assert candidate_for(both, "acme", order_in_bucket(3)) == 2


def test_raising_the_percentage_only_adds_orders():
    at = {percent: {o for o in ORDERS if candidate_for(with_policy_canary(INITIAL_FLAGS, "acme", 2, percent), "acme", o)}
          for percent in (10, 30, 60)}
    assert at[10] < at[30] < at[60]


def test_a_percentage_or_version_out_of_range_is_refused():
    with pytest.raises(ValueError, match="percent must be 0-100"):
        with_policy_canary(INITIAL_FLAGS, "acme", 2, 101)
    with pytest.raises(ValueError, match="1 or more"):
        with_policy_canary(INITIAL_FLAGS, "acme", 0, 50)


def test_editing_the_flags_never_changes_the_document_it_was_given():
    before = copy.deepcopy(INITIAL_FLAGS)
    with_policy_canary(INITIAL_FLAGS, "acme", 2, 50)
    assert INITIAL_FLAGS == before


# --- the candidate is used only if it is stored and newer --------------------------------


def test_the_candidate_decides_only_if_it_is_stored_and_newer_than_the_active_version():
    v1, v2, v3 = policy(version=1), policy(version=2), policy(version=3)
    assert pick_policy(v1, None, None) == (v1, None)
    assert pick_policy(v1, v2, 2) == (v2, None)
    assert pick_policy(v2, v2, 2) == (v2, None)  # promoted: the same version either way
    assert pick_policy(v1, None, 5) == (v1, "candidate policy version 5 is not stored")
    assert pick_policy(v3, v2, 2) == (v3, "candidate policy version 2 is older than the active version 3")


# --- what the template deploys and what AppConfig would accept ---------------------------


def test_the_template_deploys_every_flag_off():
    content = template_resources()["FeatureFlagsConfiguration"]["Properties"]["Content"]
    assert json.loads(content) == INITIAL_FLAGS


def test_every_document_the_canary_command_writes_passes_the_templates_schema_and_powertools():
    documents = [INITIAL_FLAGS, with_policy_canary(INITIAL_FLAGS, "acme", 2, 1), with_policy_canary(INITIAL_FLAGS, "acme", 2, 100),
                 with_policy_canary(with_policy_canary(INITIAL_FLAGS, "acme", 2, 50), "globex-2", 9, 25)]
    for document in documents:
        assert schema_problems(document, template_schema()) == []
        SchemaValidator(schema=document).validate()


@pytest.mark.parametrize("breaking, problem", [
    (lambda rule: rule["conditions"][1]["value"].update(START=10), "order_bucket.value.START"),  # not a percentage
    (lambda rule: rule["conditions"].pop(0), "conditions"),  # a canary for every tenant
    (lambda rule: rule.update(when_match=0), "when_match"),
    (lambda rule: rule["conditions"][1]["value"].update(END=100), "END"),
])
def test_the_templates_schema_refuses_a_rule_that_is_not_a_tenants_percentage(breaking, problem):
    document = with_policy_canary(INITIAL_FLAGS, "acme", 2, 50)
    breaking(document[POLICY_CANARY]["rules"]["acme: policy canary"])
    problems = schema_problems(document, template_schema())
    assert problems, problem
    assert schema_problems({"policy_canry": {"boolean_type": False, "default": 0}}, template_schema())  # a typo


# --- the reader ----------------------------------------------------------------------------


SETTINGS = FeatureFlagsSettings.model_validate({
    "STAGE": "test", "FEATURE_FLAGS_APPLICATION": "app1", "FEATURE_FLAGS_ENVIRONMENT": "env1",
    "FEATURE_FLAGS_PROFILE": "prof1", "FEATURE_FLAGS_MAX_AGE_SECONDS": "60"})


def test_the_reader_returns_the_candidate_or_none_and_treats_unusable_flags_as_off(caplog):
    flags.use_store(lambda settings: MemoryStore(with_policy_canary(INITIAL_FLAGS, "acme", 2, 50)))
    canary = flags.policy_canary(SETTINGS)
    assert canary("acme", order_in_bucket(10)) == 2
    assert canary("acme", order_in_bucket(90)) is None
    assert canary("globex", order_in_bucket(10)) is None

    broken = with_policy_canary(INITIAL_FLAGS, "acme", 2, 50)
    broken[POLICY_CANARY]["rules"]["acme: policy canary"]["conditions"][1]["value"]["END"] = 100  # Powertools refuses it
    flags.use_store(lambda settings: MemoryStore(broken))
    assert flags.policy_canary(SETTINGS)("acme", order_in_bucket(10)) is None
    odd = with_policy_canary(INITIAL_FLAGS, "acme", 2, 50)
    odd[POLICY_CANARY]["rules"]["acme: policy canary"]["when_match"] = "v2"
    flags.use_store(lambda settings: MemoryStore(odd))
    assert flags.policy_canary(SETTINGS)("acme", order_in_bucket(10)) is None
    problems = [record.problem for record in caplog.records
                if record.message == "feature flags unusable: every flag is treated as off"]
    assert len(problems) == 2 and "START <= END <= BASE-1" in problems[0]
    assert problems[1] == "policy_canary evaluated to 'v2', not a policy version"


class FlakyStore(StoreProvider):
    """Answers each read with the next of `answers` (a document, or an error to raise)."""

    def __init__(self, *answers):
        self.answers, self.reads = list(answers), 0

    @property
    def get_raw_configuration(self):
        return self.get_configuration()

    def get_configuration(self):
        self.reads += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_when_the_flags_cannot_be_read_the_last_document_stays_and_the_store_rests_until_the_max_age(monkeypatch, caplog):
    from types import SimpleNamespace

    from aws_lambda_powertools.utilities.feature_flags import ConfigurationStoreError

    clock = [1000.0]
    monkeypatch.setattr(flags, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    canary_doc = with_policy_canary(INITIAL_FLAGS, "acme", 2, 100)
    store = FlakyStore(canary_doc, ConfigurationStoreError("AppConfig is down"), INITIAL_FLAGS)
    flags.use_store(lambda settings: store)
    canary = flags.policy_canary(SETTINGS)
    assert canary("acme", "o-1") == 2 and store.reads == 1
    # The next read fails (here every evaluation reads; in AWS, Powertools' cache answers until
    # the max age): the canary stays as read, and the store rests for the max age.
    assert [canary("acme", f"o-{n}") for n in range(2, 50)] == [2] * 48
    assert store.reads == 2
    clock[0] += 60
    assert canary("acme", "q-1") is None and store.reads == 3  # read again: every flag off now
    assert [r.message for r in caplog.records if r.message.startswith("feature flags unusable")] == [
        "feature flags unusable: the flags read before stay in use"]

    never = FlakyStore(ConfigurationStoreError("no access"), canary_doc)
    flags.use_store(lambda settings: never)
    assert [flags.policy_canary(SETTINGS)("acme", f"r-{n}") for n in range(10)] == [None] * 10
    assert never.reads == 1  # cold start in an outage: flags off, one attempt per max age


def test_in_aws_the_flags_cost_two_calls_per_cold_start_then_none_per_order():
    """Powertools' AppConfigStore over AppConfigData: the session asks for a poll interval equal
    to the max age (AppConfig refuses earlier polls), and within it no order calls anything."""
    flags.reset()
    appconfigdata = client("appconfigdata")
    document = json.dumps(with_policy_canary(INITIAL_FLAGS, "acme", 2, 50)).encode()
    with Stubber(appconfigdata) as stub:
        stub.add_response("start_configuration_session", {"InitialConfigurationToken": "t0"}, {
            "ApplicationIdentifier": "app1", "EnvironmentIdentifier": "env1", "ConfigurationProfileIdentifier": "prof1",
            "RequiredMinimumPollIntervalInSeconds": 60})
        stub.add_response("get_latest_configuration", {
            "NextPollConfigurationToken": "t1", "NextPollIntervalInSeconds": 60, "ContentType": "application/json",
            "Configuration": StreamingBody(io.BytesIO(document), len(document))}, {"ConfigurationToken": "t0"})
        canary = flags.policy_canary(SETTINGS)
        answers = [canary("acme", order_id) for order_id in ORDERS[:500]]
        stub.assert_no_pending_responses()
    assert answers == [2 if order_bucket("acme", o) < 50 else None for o in ORDERS[:500]]


def test_a_max_age_under_appconfigs_floor_polls_every_15_seconds():
    flags.reset()
    settings = SETTINGS.model_copy(update={"flags_max_age_seconds": 1})
    store = flags.appconfig_store(settings)
    assert store.cache_seconds == 15


def test_the_local_stack_imports_the_flags_reader_without_creating_metrics_before_a_function_runs():
    """Powertools' Metrics takes its namespace from the environment it is created in: created
    while the local stack starts (outside every function's environment), it has none, and the
    first function that flushes metrics fails ('Must contain a metric namespace')."""
    import subprocess
    import sys

    probe = ("import sys, meshline_local.runtime, meshline_local.seed, meshline_local.flags, meshline.dal.flags, "
             "meshline.dal.tenants; sys.exit('meshline.observability' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", probe], cwd=ROOT).returncode == 0
