"""Seed a tenant: its profile, stock, Shopify webhook secret and warehouse queues.

Works against any endpoint the process's boto3 clients point at (moto here).
"""

from __future__ import annotations

from meshline.dal.aws import client
from meshline.dal.publication import warehouse_queue_name
from meshline.dal.secrets import parameter_name
from meshline.dal.tenants import TenantStore
from meshline.domain.tenants import TenantProfile, Warehouse
from meshline_local.runtime import LocalRuntime
from meshline_local.samples import DEMO_SECRET, DEMO_TENANT

DEMO_PROFILE = TenantProfile(
    tenant_id=DEMO_TENANT,
    name="Acme Outfitters",
    policy_version="acme/2026-11-01",
    escalation_contacts=["ops@acme-outfitters.example"],
    warehouses=[
        Warehouse(warehouse_id="east", name="Newark DC", priority=1, time_zone="America/New_York",
                  cutoff_local="15:00", operator="3pl:east-logistics"),
        Warehouse(warehouse_id="west", name="Reno DC", priority=2, time_zone="America/Los_Angeles",
                  cutoff_local="14:00", operator="3pl:west-fulfil"),
    ],
)

# The real Shopify sample's two hats are stocked in the west only; the demo's own SKUs spread out.
DEMO_STOCK = {
    "706405908216": {"east": 0, "west": 12},  # Real Madrid Dad Hat
    "706405907431": {"west": 7},  # Sporting Clube de Portugal Trucker Hat
    "TEE-BLK-M": {"east": 40, "west": 25},
    "MUG-CLASSIC": {"east": 3, "west": 30},
    "JERSEY-LTD": {"east": 1, "west": 2},
}


def environment(runtime: LocalRuntime, function: str) -> dict[str, str]:
    return runtime.functions[function].environment


def seed_tenant(runtime: LocalRuntime, profile: TenantProfile = DEMO_PROFILE, stock: dict | None = None,
                secret: str = DEMO_SECRET) -> list[str]:
    """Returns the warehouse queue URLs it created."""
    tenants = TenantStore(environment(runtime, "DecideFunction")["TENANTS_TABLE"])
    tenants.put_profile(profile)
    for sku, levels in (DEMO_STOCK if stock is None else stock).items():
        tenants.put_stock(profile.tenant_id, sku, levels)
    prefix = environment(runtime, "IngestFunction")["TENANT_PARAMETER_PREFIX"]
    client("ssm").put_parameter(
        Name=parameter_name(prefix, profile.tenant_id, "shopify"), Value=secret, Type="SecureString", Overwrite=True
    )
    stage = runtime.deployed.parameters["Stage"]
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
    events.put_rule(Name=queue_name, EventBusName=bus, EventPattern='{"source": ["meshline.exports"]}')
    events.put_targets(Rule=queue_name, EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn}])
    return url
