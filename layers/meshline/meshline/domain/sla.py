"""The ship-by engine: ship-by and pick window from a warehouse's cutoff, opening time,
time zone and business calendar, and the order's service level.

Rules, all in the warehouse's own zone:
- the first possible dispatch is the first business day whose cutoff is strictly after
  the moment the order was placed (an order placed at 15:00 sharp misses a 15:00 cutoff);
- the service level's `handling_days` adds that many further business days;
- `ship_by` is the cutoff on that day; the pick window runs from the opening time that
  day (or from placed-at, if later) to `ship_by`.

Local times are turned into instants with zoneinfo, so DST is exact. A cutoff or
opening time that falls in a spring-forward gap is moved forward by the gap (02:30 on the
day clocks jump from 02:00 to 03:00 becomes 03:30); one that happens twice in a
fall-back hour means the first occurrence. Both follow PEP 495's fold=0.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from meshline.domain.exports import PickWindow, Sla
from meshline.domain.policy import ServiceLevelTerms, Warehouse, parse_hhmm

SEARCH_DAYS = 400
"""A calendar with no business day for this long is a policy error, not a reason to loop."""


class NoBusinessDay(ValueError):
    def __init__(self, warehouse_id: str, since: date):
        super().__init__(f"warehouse {warehouse_id}: no business day within {SEARCH_DAYS} days of {since.isoformat()}")


def local_instant(warehouse: Warehouse, day: date, hhmm: str) -> datetime:
    """The UTC instant of a local wall-clock time on a local date at the warehouse."""
    return datetime.combine(day, parse_hhmm(hhmm), tzinfo=ZoneInfo(warehouse.time_zone)).astimezone(UTC)


_dispatch_days: dict[tuple, date] = {}
CACHE_LIMIT = 4096


def first_dispatch_day(warehouse: Warehouse, moment: datetime) -> date:
    """The first business day whose cutoff is still ahead of `moment`."""
    # Warehouses sharing a zone, cutoff and calendar share the answer: a decision over 50
    # warehouses asks this 50 times, usually about a handful of distinct calendars.
    key = (warehouse.dispatch_profile, moment)
    found = _dispatch_days.get(key)
    if found is None:
        if len(_dispatch_days) >= CACHE_LIMIT:
            _dispatch_days.clear()
        found = _dispatch_days[key] = _dispatch_day_from_local_days(warehouse, moment)
    return found


_local_days: dict[tuple, tuple[datetime | None, date | None, datetime | None]] = {}


def _dispatch_day_from_local_days(warehouse: Warehouse, moment: datetime) -> date:
    """`_search_dispatch_day`'s answer from what is known about the local day of `moment`:
    its cutoff (if a business day) and the next business day and its cutoff. Every order
    has its own moment, so the cache above misses on each new decision; these facts are
    shared by every moment of that local day, and the answer is the first of the two days
    whose cutoff is still ahead (else the full search, which also raises NoBusinessDay)."""
    today = moment.astimezone(ZoneInfo(warehouse.time_zone)).date()
    key = (warehouse.dispatch_profile, today)
    known = _local_days.get(key)
    if known is None:
        if len(_local_days) >= CACHE_LIMIT:
            _local_days.clear()
        known = _local_days[key] = _local_day_facts(warehouse, today)
    cutoff_today, next_day, next_cutoff = known
    if cutoff_today is not None and cutoff_today > moment:
        return today
    if next_cutoff is not None and next_cutoff > moment:
        return next_day  # type: ignore[return-value]
    return _search_dispatch_day(warehouse, moment)


def _local_day_facts(warehouse: Warehouse, today: date) -> tuple[datetime | None, date | None, datetime | None]:
    is_open = warehouse.calendar.is_business_day
    cutoff_today = local_instant(warehouse, today, warehouse.cutoff_local) if is_open(today) else None
    day = today
    for _ in range(SEARCH_DAYS - 1):  # the days after `today` that the full search would look at
        day += timedelta(days=1)
        if is_open(day):
            return cutoff_today, day, local_instant(warehouse, day, warehouse.cutoff_local)
    return cutoff_today, None, None


def _search_dispatch_day(warehouse: Warehouse, moment: datetime) -> date:
    day = moment.astimezone(ZoneInfo(warehouse.time_zone)).date()
    for _ in range(SEARCH_DAYS):
        if warehouse.calendar.is_business_day(day) and local_instant(warehouse, day, warehouse.cutoff_local) > moment:
            return day
        day += timedelta(days=1)
    raise NoBusinessDay(warehouse.warehouse_id, day - timedelta(days=SEARCH_DAYS))


def add_business_days(warehouse: Warehouse, day: date, count: int) -> date:
    remaining, searched = count, 0
    while remaining:
        day += timedelta(days=1)
        searched += 1
        if searched > SEARCH_DAYS:
            raise NoBusinessDay(warehouse.warehouse_id, day)
        if warehouse.calendar.is_business_day(day):
            remaining -= 1
    return day


def ship_day(warehouse: Warehouse, placed_at: datetime, terms: ServiceLevelTerms) -> date:
    """The local date the order must leave the warehouse."""
    return add_business_days(warehouse, first_dispatch_day(warehouse, placed_at), terms.handling_days)


def ship_by_for(warehouse: Warehouse, placed_at: datetime, terms: ServiceLevelTerms | None = None) -> Sla:
    ship_by, opens = ship_by_and_window_start(warehouse, placed_at, terms or ServiceLevelTerms())
    return Sla(ship_by=ship_by, pick_window=PickWindow(start=opens, end=ship_by))


def ship_by_and_window_start(warehouse: Warehouse, placed_at: datetime, terms: ServiceLevelTerms) -> tuple[datetime, datetime]:
    """`ship_by_for`'s two instants (the pick window ends at ship_by), without building the
    models: the routing engine writes them straight into the export."""
    day = ship_day(warehouse, placed_at, terms)
    ship_by = local_instant(warehouse, day, warehouse.cutoff_local)
    opens = local_instant(warehouse, day, warehouse.opens_local)
    return ship_by, max(opens, placed_at)


def makes_todays_cutoff(warehouse: Warehouse, now: datetime, today: date | None = None) -> bool:
    """True when `now` is on a local business day before that day's cutoff. `today` (the
    local date of `now` in the warehouse's zone) may be passed by callers that know it."""
    local_today = today if today is not None else now.astimezone(ZoneInfo(warehouse.time_zone)).date()
    return first_dispatch_day(warehouse, now) == local_today
