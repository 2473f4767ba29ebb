"""The capacity filter reads the dispatches booked on each warehouse's ship day: in the same
read as the policy when the process knows the active version, in a second read otherwise."""

from datetime import datetime

from meshline.dal import tenants as tenant_store
from meshline.dal.aws import client
from meshline.domain.orders import ServiceLevel
from meshline.domain.sla import ship_day
from meshline_local.seed import DEMO_POLICY
from tests.stack.test_acknowledgements import latest, place

PLACED = "2026-11-25T09:30:00-05:00"


def test_a_full_day_sends_the_order_elsewhere_whether_or_not_the_policy_was_already_known(stack):
    east = DEMO_POLICY.warehouse("east")
    day = ship_day(east, datetime.fromisoformat(PLACED), DEMO_POLICY.terms(ServiceLevel.STANDARD))
    client("dynamodb").put_item(TableName=stack.env["DecideFunction"]["TENANTS_TABLE"], Item={
        "pk": {"S": "TENANT#acme"}, "sk": {"S": f"DISPATCHES#east#{day.isoformat()}"}, "booked": {"N": str(east.daily_capacity)}})
    tenant_store._active_seen.clear()  # as in a fresh container: the first order reads twice, the next once
    for number in (3101, 3102):
        export = latest(stack, place(stack, number, [("TEE-BLK-M", 1)], placed=PLACED))
        assert export["lines"][0]["warehouse_id"] == "west"
        [candidate] = [c for c in export["explanation"]["candidates"] if c["warehouse_id"] == "east"]
        assert (candidate["eliminated_by"], candidate["detail"]) == (
            "capacity_left", f"{east.daily_capacity} of {east.daily_capacity} dispatches booked on {day.isoformat()}")
