"""One order's correlation id (`<tenant>:<order>`) in the logs of every function it passed through."""

import json

from meshline.dal.escalations import EscalationStore
from meshline_local.freezing import freeze_time
from tests.stack.test_acknowledgements import answer, latest, place, post, send_to_results_queue, warehouse_of
from tests.stack.test_inventory import stock_changed
from tests.stack.test_overrides import override_body, post_override


def functions_that_logged(stack, correlation_id):
    seen = set()
    for log in (stack.state_dir / "logs").glob("*.log"):
        for line in log.read_text().splitlines():
            if line.startswith("{") and json.loads(line).get("correlation_id") == correlation_id:
                seen.add(log.stem)
                break
    return seen


def test_one_order_is_followed_through_every_function_by_its_correlation_id(stack):
    order_id = place(stack, 9901, [("TEE-BLK-M", 1)])
    first = latest(stack, order_id)
    post(stack, answer(first, warehouse_of(first), "rejected", "c-rej-1", reason_code="out_of_stock"))
    second = latest(stack, order_id)
    send_to_results_queue(stack, answer(second, warehouse_of(second), "rejected", "c-rej-2", reason_code="out_of_stock"))
    held = latest(stack, order_id)
    tasks = EscalationStore(stack.env["TrackEscalationsFunction"]["EXPORTS_TABLE"])
    stack.runtime.run_until(lambda: tasks.tasks("acme", order_id), timeout=20, what="the escalation task")
    line_id = held["lines"][0]["line_id"]
    assert post_override(stack, order_id, override_body(order_id, held, [{"line_id": line_id, "action": "ship", "warehouse_id": "west"}]))[0] == 201
    stock_changed(stack, "TEE-BLK-M", "east", 30)
    stack.runtime.functions["SweepFollowUpsFunction"].entry_point()  # imported before the clock is frozen (pydantic)
    with freeze_time("2026-12-31T20:00:00Z"):  # past the override's acknowledge_by: the sweep looks at it
        stack.runtime.fire_schedules()
        stack.runtime.settle()
    stack.runtime.settle()

    assert functions_that_logged(stack, f"acme:{order_id}") == {
        "IngestFunction", "DecideFunction", "PublishFunction", "AcknowledgeApiFunction", "AcknowledgeResultsFunction",
        "TrackEscalationsFunction", "OverrideExportsFunction", "ReevaluateInventoryFunction", "SweepFollowUpsFunction",
    }

