"""Seed a tenant: its profile, stock, webhook secrets, BigCommerce store and warehouse queues.

Works against any endpoint the process's boto3 clients point at (moto here).
"""

from __future__ import annotations

from datetime import date

from meshline.dal.aws import client
from meshline.dal.publication import warehouse_queue_name
from meshline.dal.bigcommerce_store import STORE_PARAMETER
from meshline.dal.secrets import parameter_name, tenant_path
from meshline.dal.signatures import operator_key_alias
from meshline.dal.tenants import TenantStore
from meshline.domain.orders import Address, GeoPoint
from meshline.domain.policy import BusinessCalendar, TenantPolicy, Warehouse
from meshline.platforms.bigcommerce import StoreConfig
from meshline_local.runtime import LocalRuntime
from meshline_local.samples import (
    DEMO_BIGCOMMERCE_SECRET,
    DEMO_GENERIC_SECRET,
    DEMO_SECRET,
    DEMO_TENANT,
    DEMO_WOO_SECRET,
)

US_HOLIDAYS_2026 = [date(2026, 11, 26), date(2026, 12, 25), date(2027, 1, 1)]

DEMO_POLICY = TenantPolicy(
    tenant_id=DEMO_TENANT,
    version=1,
    name="Acme Outfitters: nearest warehouse that makes today's cutoff",
    watchers=["agency:night-desk"],
    warehouses=[
        Warehouse(warehouse_id="east", name="Newark DC", priority=1, operator="3pl:east-logistics",
                  time_zone="America/New_York", cutoff_local="15:00", daily_capacity=500, cost_per_shipment_cents=650,
                  location=GeoPoint(latitude=40.7357, longitude=-74.1724), serves=["US", "CA"],
                  address=Address(line1="1 Port St", city="Newark", region_code="NJ", country_code="US"),
                  calendar=BusinessCalendar(holidays=US_HOLIDAYS_2026)),
        Warehouse(warehouse_id="west", name="Reno DC", priority=2, operator="3pl:west-fulfil",
                  time_zone="America/Los_Angeles", cutoff_local="14:00", daily_capacity=300, cost_per_shipment_cents=590,
                  location=GeoPoint(latitude=39.5296, longitude=-119.8138), serves=["US"], tags=["hazmat"],
                  address=Address(line1="9 Desert Way", city="Reno", region_code="NV", country_code="US"),
                  calendar=BusinessCalendar(holidays=US_HOLIDAYS_2026)),
    ],
    routing=[
        {"name": "in-region", "filters": [{"kind": "serves_destination"}, {"kind": "capacity_left"}],
         "sorts": ["makes_cutoff", "distance", "priority"]},
        {"name": "anywhere", "sorts": ["priority"]},
    ],
    split={"mode": "minimize_shipments"},
    backorder={"mode": "ship_available", "promise_days": 10},
    service_levels={"standard": {"handling_days": 1}, "express": {"handling_days": 0}, "overnight": {"handling_days": 0}},
    exception_paths=[
        {"on": "default", "ladder": [{"contact": "ops@acme-outfitters.example", "within_minutes": 240}]},
        {"on": "dispatch", "retry_budget": 2, "fallback": "reroute",
         "ladder": [{"contact": "agency:fulfillment-team", "within_minutes": 60},
                    {"contact": "ops@acme-outfitters.example", "within_minutes": 240}]},
        {"on": "rejected:incorrect_address", "fallback": "hold_for_review",
         "ladder": [{"contact": "merchant:acme", "within_minutes": 120}]},
    ],
    overrides={"second_approver_for": ["cancel"]},
    instructions=[{"kind": "promotional_insert", "text": "Add the winter catalogue", "promotions": ["WINTER26"]},
                  {"kind": "packing", "text": "Mugs travel in double bubble wrap", "skus": ["MUG-CLASSIC"]}],
)

# The real Shopify sample's two hats are stocked in the west only; the demo's own SKUs spread out.
DEMO_STOCK = {
    "706405908216": {"east": 0, "west": 12},  # Real Madrid Dad Hat
    "706405907431": {"west": 7},  # Sporting Clube de Portugal Trucker Hat
    "TEE-BLK-M": {"east": 40, "west": 25},
    "MUG-CLASSIC": {"east": 3, "west": 30},
    "JERSEY-LTD": {"east": 1, "west": 2},
    # The real WooCommerce sample order's two lines (its first has no SKU: product 93 stands in).
    "product-93": {"east": 10, "west": 4},
    "Bar3": {"east": 6},
    # The documented BigCommerce order's towel and the brewing system bundled with it (a kit):
    # only the west holds both.
    "S-ORAN": {"east": 4, "west": 8},
    "ABS": {"west": 3},
}

# The demo merchant's BigCommerce store: the documented API base (it passes the allow-list
# like any other), answered from the recorded responses the local stack has
# (template parameter BigCommerceRecordings); no API token is needed for those.
DEMO_BIGCOMMERCE_STORE = StoreConfig(store_hash="abcde", recorded=True)


DEMO_OPERATORS = ("agency:alice", "agency:bob")

# A second merchant of the same agency, run by another operator: what tenant isolation is tested against.
OTHER_TENANT_POLICY = DEMO_POLICY.model_copy(update={"tenant_id": "globex", "name": "Globex: same warehouses, other merchant"})
OTHER_TENANT_OPERATORS = ("agency:carol",)


def seed_operators(stage: str, operators: tuple[str, ...] = DEMO_OPERATORS) -> None:
    """A signing key per operator, as onboarding would create it (ECC P-256, sign/verify)."""
    kms = client("kms")
    for operator in operators:
        key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY",
                                Description=f"Meshline override signatures of {operator}")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=operator_key_alias(stage, operator), TargetKeyId=key_id)


def seed_credentials(runtime: LocalRuntime, profile: TenantPolicy = DEMO_POLICY,
                     operators: tuple[str, ...] = DEMO_OPERATORS) -> dict[str, str]:
    """Bearer tokens for the tenant's operators and each of its warehouses, by party or
    warehouse id (`agency:alice`, `east`), as onboarding issues them."""
    from meshline.clock import utc_now
    from meshline.dal.credentials import CredentialStore

    onboarding = environment(runtime, "OnboardTenantsFunction")
    store = CredentialStore(onboarding["TENANTS_TABLE"], onboarding["USAGE_PLAN_NAME"])
    tokens = {}
    for operator in operators:
        _, tokens[operator] = store.issue({"role": "operator", "party": operator, "tenants": [profile.tenant_id]}, utc_now())
    for warehouse in profile.warehouses:
        _, tokens[warehouse.warehouse_id] = store.issue(
            {"role": "warehouse", "party": warehouse.operator,
             "tenants": [profile.tenant_id], "warehouse_id": warehouse.warehouse_id}, utc_now())
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def environment(runtime: LocalRuntime, function: str) -> dict[str, str]:
    return runtime.functions[function].environment


def seed_tenant(runtime: LocalRuntime, profile: TenantPolicy = DEMO_POLICY, stock: dict | None = None,
                secret: str = DEMO_SECRET, operators: tuple[str, ...] = DEMO_OPERATORS) -> list[str]:
    """Stores the policy as the tenant's active version; returns the warehouse queue URLs it created."""
    tenants = TenantStore(environment(runtime, "DecideFunction")["TENANTS_TABLE"])
    tenants.put_policy(profile.tenant_id, profile.draft(), expected_version=profile.version - 1 or None,
                       actor="system:seed")
    for sku, levels in (DEMO_STOCK if stock is None else stock).items():
        tenants.put_stock(profile.tenant_id, sku, levels)
    prefix = environment(runtime, "IngestFunction")["TENANT_PARAMETER_PREFIX"]
    client("ssm").put_parameter(
        Name=parameter_name(prefix, profile.tenant_id, "shopify"), Value=secret, Type="SecureString", Overwrite=True
    )
    for platform, platform_secret in (("woocommerce", DEMO_WOO_SECRET), ("generic", DEMO_GENERIC_SECRET),
                                      ("bigcommerce", DEMO_BIGCOMMERCE_SECRET)):
        client("ssm").put_parameter(
            Name=parameter_name(prefix, profile.tenant_id, platform), Value=platform_secret, Type="SecureString",
            Overwrite=True,
        )
    client("ssm").put_parameter(
        Name=tenant_path(prefix, profile.tenant_id, STORE_PARAMETER), Value=DEMO_BIGCOMMERCE_STORE.model_dump_json(),
        Type="String", Overwrite=True,
    )
    stage = runtime.deployed.parameters["Stage"]
    seed_operators(stage, operators)
    urls = []
    for warehouse in profile.warehouses:
        name = warehouse_queue_name(stage, profile.tenant_id, warehouse.warehouse_id)
        urls.append(
            client("sqs").create_queue(
                QueueName=name, Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "false"}
            )["QueueUrl"]
        )
    return urls


def add_bus_tap(runtime: LocalRuntime, name: str = "bus-tap") -> str:
    """A queue subscribed to everything Meshline puts on its bus, to show (and test) what was announced."""
    bus = environment(runtime, "PublishFunction")["EVENT_BUS_NAME"]
    queue_name = f"meshline-{runtime.deployed.parameters['Stage']}-{name}"
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = client("events")
    events.put_rule(Name=queue_name, EventBusName=bus, EventPattern='{"source": ["meshline.exports", "meshline.escalation"]}')
    events.put_targets(Rule=queue_name, EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn}])
    return url
