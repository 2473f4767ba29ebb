"""Ship-by from the warehouse's cutoff, in its own time zone, on business days."""

from datetime import UTC, datetime

import pytest

from meshline.domain.sla import ship_by_for
from meshline.domain.tenants import Warehouse

NEW_YORK = Warehouse(warehouse_id="east", priority=1, operator="3pl:east", time_zone="America/New_York", cutoff_local="15:00")


@pytest.mark.parametrize(
    ("placed_at", "ship_by"),
    [
        # Wednesday 09:00 EST, before the 15:00 cutoff: ships today.
        (datetime(2026, 11, 25, 14, 0, tzinfo=UTC), datetime(2026, 11, 25, 20, 0, tzinfo=UTC)),
        # Wednesday 15:00 EST exactly: the cutoff has passed, Thursday.
        (datetime(2026, 11, 25, 20, 0, tzinfo=UTC), datetime(2026, 11, 26, 20, 0, tzinfo=UTC)),
        # Friday 16:00 EST: after cutoff, the next business day is Monday.
        (datetime(2026, 11, 27, 21, 0, tzinfo=UTC), datetime(2026, 11, 30, 20, 0, tzinfo=UTC)),
        # Saturday: Monday.
        (datetime(2026, 11, 28, 15, 0, tzinfo=UTC), datetime(2026, 11, 30, 20, 0, tzinfo=UTC)),
        # Tuesday 23:30 EST is already Wednesday in UTC: the local date decides, Wednesday's cutoff.
        (datetime(2026, 11, 25, 4, 30, tzinfo=UTC), datetime(2026, 11, 25, 20, 0, tzinfo=UTC)),
        # Across the US DST end (1 Nov 2026): Friday 30 Oct after cutoff -> Monday 2 Nov, now EST (UTC-5).
        (datetime(2026, 10, 30, 20, 30, tzinfo=UTC), datetime(2026, 11, 2, 20, 0, tzinfo=UTC)),
        # Before it, EDT (UTC-4): Thursday 29 Oct before cutoff ships 19:00 UTC.
        (datetime(2026, 10, 29, 12, 0, tzinfo=UTC), datetime(2026, 10, 29, 19, 0, tzinfo=UTC)),
    ],
)
def test_ship_by_is_the_next_business_day_cutoff_in_the_warehouse_zone(placed_at, ship_by):
    sla = ship_by_for(NEW_YORK, placed_at)
    assert sla.ship_by == ship_by
    assert sla.pick_window is not None
    assert sla.pick_window.start <= sla.pick_window.end == ship_by
    assert sla.pick_window.start >= placed_at
