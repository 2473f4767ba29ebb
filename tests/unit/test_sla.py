"""The ship-by engine over cutoffs, weekends, holidays, service levels and DST, US and EU.

Every expected instant below was worked out by hand from the local wall clock and the
zone's offset on that date; the comment on each row says which.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshline.domain.orders import ServiceLevel
from meshline.domain.policy import BusinessCalendar, ServiceLevelTerms, Warehouse, Weekday
from meshline.domain.sla import NoBusinessDay, first_dispatch_day, makes_todays_cutoff, ship_by_for

NEW_YORK = Warehouse(warehouse_id="east", operator="3pl:east", time_zone="America/New_York", cutoff_local="15:00",
                     calendar=BusinessCalendar(holidays=[date(2026, 11, 26), date(2026, 12, 25)]))
BERLIN = Warehouse(warehouse_id="berlin", operator="3pl:berlin", time_zone="Europe/Berlin", opens_local="07:00",
                   cutoff_local="16:30", calendar=BusinessCalendar(holidays=[date(2026, 4, 3), date(2026, 4, 6)]))
# Night shifts whose cutoff falls inside the US spring-forward gap (02:00 -> 03:00 on 8 March 2026)
# or inside the repeated hour of the fall-back (01:00-02:00 twice on 1 November 2026).
NIGHT = Warehouse(warehouse_id="night", operator="3pl:night", time_zone="America/Chicago", opens_local="00:30",
                  cutoff_local="02:30", calendar=BusinessCalendar(working_days=list(Weekday)))
NIGHT_FALL = NIGHT.model_copy(update={"warehouse_id": "night-fall", "cutoff_local": "01:30"})
DUBAI = Warehouse(warehouse_id="dubai", operator="3pl:gulf", time_zone="Asia/Dubai", cutoff_local="12:00",
                  calendar=BusinessCalendar(working_days=[Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.SAT, Weekday.SUN]))


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


CASES = [
    # --- cutoff edges, New York in EST (UTC-5) ---
    ("before cutoff ships today", NEW_YORK, utc(2026, 11, 24, 14, 0), 0, utc(2026, 11, 24, 20, 0)),
    ("one minute before cutoff", NEW_YORK, utc(2026, 11, 24, 19, 59), 0, utc(2026, 11, 24, 20, 0)),
    ("at the cutoff exactly is too late", NEW_YORK, utc(2026, 11, 24, 20, 0), 0, utc(2026, 11, 25, 20, 0)),
    ("one minute after cutoff", NEW_YORK, utc(2026, 11, 24, 20, 1), 0, utc(2026, 11, 25, 20, 0)),
    ("UTC date is tomorrow, local date decides", NEW_YORK, utc(2026, 11, 25, 4, 30), 0, utc(2026, 11, 25, 20, 0)),
    # --- holidays and weekends ---
    ("Wednesday after cutoff skips Thanksgiving (Thu) to Friday", NEW_YORK, utc(2026, 11, 25, 21, 0), 0, utc(2026, 11, 27, 20, 0)),
    ("Friday after cutoff goes to Monday", NEW_YORK, utc(2026, 11, 27, 21, 0), 0, utc(2026, 11, 30, 20, 0)),
    ("Saturday goes to Monday", NEW_YORK, utc(2026, 11, 28, 15, 0), 0, utc(2026, 11, 30, 20, 0)),
    ("Christmas Eve after cutoff skips Christmas and the weekend", NEW_YORK, utc(2026, 12, 24, 21, 0), 0, utc(2026, 12, 28, 20, 0)),
    ("handling days count business days only", NEW_YORK, utc(2026, 11, 25, 14, 0), 2, utc(2026, 11, 30, 20, 0)),
    # --- US DST: spring forward 8 March 2026, fall back 1 November 2026 ---
    ("Friday EST after cutoff ships Monday in EDT (UTC-4)", NEW_YORK, utc(2026, 3, 6, 21, 0), 0, utc(2026, 3, 9, 19, 0)),
    ("Friday EDT after cutoff ships Monday in EST (UTC-5)", NEW_YORK, utc(2026, 10, 30, 20, 30), 0, utc(2026, 11, 2, 20, 0)),
    ("before the fall-back, EDT", NEW_YORK, utc(2026, 10, 29, 12, 0), 0, utc(2026, 10, 29, 19, 0)),
    ("cutoff in the spring-forward gap moves forward by the gap", NIGHT, utc(2026, 3, 8, 7, 0), 0, utc(2026, 3, 8, 8, 30)),
    ("cutoff in the repeated hour means its first occurrence (CDT)", NIGHT_FALL, utc(2026, 11, 1, 6, 0), 0, utc(2026, 11, 1, 6, 30)),
    ("placed between the two occurrences: next day's cutoff (CST)", NIGHT_FALL, utc(2026, 11, 1, 6, 45), 0, utc(2026, 11, 2, 7, 30)),
    ("the day after the fall-back, CST", NIGHT, utc(2026, 11, 1, 9, 0), 0, utc(2026, 11, 2, 8, 30)),
    # --- EU DST: spring forward 29 March 2026, fall back 25 October 2026 (Berlin UTC+1 / UTC+2) ---
    ("Friday CET after cutoff ships Monday in CEST", BERLIN, utc(2026, 3, 27, 16, 0), 0, utc(2026, 3, 30, 14, 30)),
    ("Friday CEST after cutoff ships Monday in CET", BERLIN, utc(2026, 10, 23, 15, 0), 0, utc(2026, 10, 26, 15, 30)),
    ("Saturday of the spring-forward weekend", BERLIN, utc(2026, 3, 28, 12, 0), 0, utc(2026, 3, 30, 14, 30)),
    ("Good Friday and Easter Monday are holidays", BERLIN, utc(2026, 4, 2, 15, 0), 0, utc(2026, 4, 7, 14, 30)),
    ("Berlin before cutoff, CEST", BERLIN, utc(2026, 6, 10, 8, 0), 0, utc(2026, 6, 10, 14, 30)),
    # --- a week that does not end on Saturday and Sunday ---
    ("Dubai closes on Fridays", DUBAI, utc(2026, 11, 26, 9, 0), 0, utc(2026, 11, 28, 8, 0)),
    ("Dubai ships on Sundays", DUBAI, utc(2026, 11, 29, 6, 0), 0, utc(2026, 11, 29, 8, 0)),
]


@pytest.mark.parametrize(("label", "warehouse", "placed_at", "handling_days", "ship_by"), CASES, ids=[c[0] for c in CASES])
def test_ship_by(label, warehouse, placed_at, handling_days, ship_by):
    sla = ship_by_for(warehouse, placed_at, ServiceLevelTerms(handling_days=handling_days))
    assert sla.ship_by == ship_by
    assert sla.pick_window is not None
    assert sla.pick_window.end == ship_by
    assert placed_at <= sla.pick_window.start < sla.pick_window.end


def test_the_pick_window_opens_at_opening_time_or_when_the_order_arrives():
    early = ship_by_for(BERLIN, utc(2026, 6, 10, 3, 0))  # 05:00 CEST, before the 07:00 opening
    assert early.pick_window.start == utc(2026, 6, 10, 5, 0)
    late = ship_by_for(BERLIN, utc(2026, 6, 10, 10, 0))  # 12:00 CEST, already open
    assert late.pick_window.start == utc(2026, 6, 10, 10, 0)


def test_makes_todays_cutoff_is_false_after_the_cutoff_and_on_closed_days():
    assert makes_todays_cutoff(NEW_YORK, utc(2026, 11, 24, 19, 59))
    assert not makes_todays_cutoff(NEW_YORK, utc(2026, 11, 24, 20, 0))
    assert not makes_todays_cutoff(NEW_YORK, utc(2026, 11, 26, 14, 0))  # Thanksgiving
    assert not makes_todays_cutoff(NEW_YORK, utc(2026, 11, 28, 14, 0))  # Saturday


def test_a_calendar_without_business_days_is_an_error_not_a_hang():
    closed = Warehouse(warehouse_id="closed", operator="3pl:x", calendar=BusinessCalendar(
        working_days=[Weekday.MON], holidays=[date(2027, 1, 4) + (date(2027, 1, 11) - date(2027, 1, 4)) * k for k in range(60)]))
    with pytest.raises(NoBusinessDay, match="closed: no business day within 400 days"):
        ship_by_for(closed, utc(2027, 1, 1, 12, 0))


def test_service_levels_map_to_handling_days_through_the_policy():
    from tests.unit.domain_builders import policy

    terms = policy(NEW_YORK, service_levels={"standard": {"handling_days": 1}, "express": {"handling_days": 0}})
    assert terms.terms(ServiceLevel.STANDARD).handling_days == 1
    assert terms.terms(ServiceLevel.OVERNIGHT).handling_days == 0  # not listed: ships at the first cutoff


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(["America/New_York", "America/Chicago", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]),
    cutoff=st.sampled_from(["00:30", "01:30", "02:30", "12:00", "15:00", "23:45"]),
    working_days=st.lists(st.sampled_from(list(Weekday)), min_size=1, max_size=7, unique=True),
    holidays=st.lists(st.dates(min_value=date(2026, 3, 1), max_value=date(2026, 11, 30)), max_size=40),
    moments=st.lists(st.datetimes(min_value=datetime(2026, 3, 1), max_value=datetime(2026, 11, 20), timezones=st.just(UTC)),
                     min_size=1, max_size=6),
)
def test_the_first_dispatch_day_is_the_first_business_day_whose_cutoff_is_ahead(zone, cutoff, working_days, holidays, moments):
    # The ship-by engine caches what it knows per local day; asking about several moments in a
    # row (often the same local day) must give what walking the calendar day by day gives.
    warehouse = Warehouse(warehouse_id="w", operator="3pl:w", time_zone=zone, opens_local="00:00", cutoff_local=cutoff,
                          calendar=BusinessCalendar(working_days=working_days, holidays=holidays))
    local = ZoneInfo(zone)
    hours, minutes = (int(part) for part in cutoff.split(":"))
    at_cutoffs = [datetime.combine(m.astimezone(local).date(), time(hours, minutes), tzinfo=local).astimezone(UTC) for m in moments]
    for moment in [*moments, *at_cutoffs, *(m + timedelta(minutes=delta) for m in moments for delta in (-1, 1, 60 * 24))]:
        day = moment.astimezone(local).date()
        while (day.weekday() not in {list(Weekday).index(d) for d in working_days} or day in holidays
               or datetime.combine(day, time(hours, minutes), tzinfo=local) <= moment):
            day += timedelta(days=1)
        assert first_dispatch_day(warehouse, moment) == day, moment
