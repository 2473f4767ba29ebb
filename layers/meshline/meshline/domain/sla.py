"""Ship-by and pick window from a warehouse's cutoff, time zone and business days.

The walking skeleton knows weekends only; holidays, service-level lead times and the
full calendar arrive with the decision-brain issue. Every computation is in the
warehouse's own zone (zoneinfo handles DST), then returned in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from meshline.domain.exports import PickWindow, Sla
from meshline.domain.tenants import Warehouse

PICKING_STARTS = time(8, 0)
WEEKEND = {5, 6}


def _parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def ship_by_for(warehouse: Warehouse, placed_at: datetime) -> Sla:
    """The first cutoff at or after placed_at on a business day, and the pick window that ends there."""
    zone = ZoneInfo(warehouse.time_zone)
    cutoff = _parse_hhmm(warehouse.cutoff_local)
    local_placed = placed_at.astimezone(zone)
    day = local_placed.date()
    while True:
        local_cutoff = datetime.combine(day, cutoff, tzinfo=zone)
        if day.weekday() not in WEEKEND and local_cutoff > local_placed:
            break
        day += timedelta(days=1)
    opening = datetime.combine(day, PICKING_STARTS, tzinfo=zone)
    start = max(opening, local_placed)
    ship_by = local_cutoff.astimezone(UTC)
    return Sla(ship_by=ship_by, pick_window=PickWindow(start=start.astimezone(UTC), end=ship_by))
