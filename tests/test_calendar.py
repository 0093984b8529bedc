"""Business-hours calendars: due times and elapsed business time across weekends, holidays and clock changes."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.business_calendar import ALWAYS_OPEN, WEEKDAYS, BusinessCalendar, OpeningInterval

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
OFFICE_HOURS = {day: ["09:00-17:30"] for day in ("mon", "tue", "wed", "thu", "fri")}


def office(timezone: str = "Europe/London", holidays: tuple[str, ...] = ()) -> BusinessCalendar:
    return BusinessCalendar.from_settings(timezone=timezone, hours=OFFICE_HOURS, holidays=holidays)


def sundays_only(timezone: str) -> BusinessCalendar:
    return BusinessCalendar.from_settings(timezone=timezone, hours={"sun": ["00:00-24:00"]})


def test_friday_afternoon_rolls_over_the_weekend():
    friday_five = datetime(2026, 1, 9, 17, 0, tzinfo=LONDON)
    assert office().due_at(friday_five, 60) == datetime(2026, 1, 12, 9, 30, tzinfo=LONDON)
    assert office().due_at(friday_five, 30) == datetime(2026, 1, 9, 17, 30, tzinfo=LONDON)


def test_a_holiday_monday_pushes_to_tuesday():
    friday_five = datetime(2026, 1, 9, 17, 0, tzinfo=LONDON)
    calendar = office(holidays=("2026-01-12",))
    assert calendar.due_at(friday_five, 60) == datetime(2026, 1, 13, 9, 30, tzinfo=LONDON)
    assert calendar.business_minutes_between(friday_five, datetime(2026, 1, 13, 9, 30, tzinfo=LONDON)) == 60
    assert not calendar.is_open(datetime(2026, 1, 12, 11, 0, tzinfo=LONDON))


def test_the_clock_starts_at_the_next_opening_when_closed():
    calendar = office()
    saturday_ten, monday_seven = datetime(2026, 1, 10, 10, 0, tzinfo=LONDON), datetime(2026, 1, 12, 7, 0, tzinfo=LONDON)
    assert calendar.due_at(saturday_ten, 15) == datetime(2026, 1, 12, 9, 15, tzinfo=LONDON)
    assert calendar.due_at(monday_seven, 15) == datetime(2026, 1, 12, 9, 15, tzinfo=LONDON)
    assert calendar.due_at(monday_seven, 0) == datetime(2026, 1, 12, 9, 0, tzinfo=LONDON)
    monday_closing, monday_ten = datetime(2026, 1, 12, 17, 30, tzinfo=LONDON), datetime(2026, 1, 12, 10, tzinfo=LONDON)
    assert calendar.due_at(monday_closing, 0) == datetime(2026, 1, 13, 9, 0, tzinfo=LONDON)
    assert calendar.due_at(monday_ten, 0) == monday_ten
    assert calendar.business_minutes_between(saturday_ten, monday_seven) == 0
    assert calendar.business_minutes_between(monday_ten, saturday_ten) == 0


def test_due_times_are_utc_whatever_the_start_timezone():
    friday_five = datetime(2026, 1, 9, 17, 0, tzinfo=LONDON)
    due = office().due_at(friday_five.astimezone(ZoneInfo("Asia/Tokyo")), 60)
    assert due.tzinfo is UTC
    assert due == datetime(2026, 1, 12, 9, 30, tzinfo=UTC)


def test_is_open_includes_opening_and_excludes_closing():
    calendar = office()
    assert calendar.is_open(datetime(2026, 1, 12, 9, 0, tzinfo=LONDON))
    assert calendar.is_open(datetime(2026, 1, 12, 17, 29, 59, tzinfo=LONDON))
    assert not calendar.is_open(datetime(2026, 1, 12, 17, 30, tzinfo=LONDON))
    assert not calendar.is_open(datetime(2026, 1, 11, 12, 0, tzinfo=LONDON))


@pytest.mark.parametrize(
    ("timezone", "change_day", "hours_that_day"),
    [
        ("Europe/London", date(2026, 3, 29), 23),
        ("Europe/London", date(2026, 10, 25), 25),
        ("America/New_York", date(2026, 3, 8), 23),
        ("America/New_York", date(2026, 11, 1), 25),
    ],
)
def test_an_all_day_opening_on_a_clock_change_day_holds_the_real_hours(timezone, change_day, hours_that_day):
    zone = ZoneInfo(timezone)
    calendar = sundays_only(timezone)
    saturday_noon = datetime.combine(change_day - timedelta(days=1), datetime.min.time(), zone) + timedelta(hours=12)
    monday_midnight = datetime.combine(change_day + timedelta(days=1), datetime.min.time(), zone)
    monday_noon = monday_midnight + timedelta(hours=12)
    assert calendar.business_minutes_between(saturday_noon, monday_noon) == hours_that_day * 60
    assert calendar.due_at(saturday_noon, hours_that_day * 60) == monday_midnight
    next_sunday = datetime.combine(change_day + timedelta(days=7), datetime.min.time(), zone)
    assert calendar.due_at(saturday_noon, hours_that_day * 60 + 1) == next_sunday + timedelta(minutes=1)


def test_the_hour_repeated_at_midnight_in_santiago_is_open_twice():
    santiago = ZoneInfo("America/Santiago")  # 2026-04-04 24:00 -03 goes back to 23:00 -04
    calendar = BusinessCalendar.from_settings(timezone="America/Santiago", hours={"sat": ["00:00-24:00"]})
    friday_noon = datetime(2026, 4, 3, 12, 0, tzinfo=santiago)
    assert calendar.business_minutes_between(friday_noon, friday_noon + timedelta(days=2)) == 25 * 60
    assert calendar.is_open(datetime(2026, 4, 4, 23, 30, fold=1, tzinfo=santiago))
    assert calendar.due_at(friday_noon, 25 * 60) == datetime(2026, 4, 5, 4, 0, tzinfo=UTC)


def test_office_hours_keep_their_length_across_the_spring_change():
    friday_five = datetime(2026, 3, 27, 17, 0, tzinfo=LONDON)
    due = office().due_at(friday_five, 60)
    assert due == datetime(2026, 3, 30, 9, 30, tzinfo=LONDON)
    assert due == datetime(2026, 3, 30, 8, 30, tzinfo=UTC)
    assert office("America/New_York").due_at(datetime(2026, 11, 1, 12, 0, tzinfo=NEW_YORK), 510) == datetime(
        2026, 11, 2, 17, 30, tzinfo=NEW_YORK
    )


def test_an_opening_time_the_clocks_skip_opens_when_they_skip_it():
    calendar = BusinessCalendar.from_settings(timezone="America/New_York", hours={"sun": ["02:30-04:00"]})
    saturday = datetime(2026, 3, 7, tzinfo=NEW_YORK)
    assert calendar.due_at(saturday, 0) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 03:00 EDT, the jump from 02:00 EST
    assert calendar.business_minutes_between(saturday, saturday + timedelta(days=2)) == 60


def test_a_year_of_office_hours_ends_on_the_last_friday_at_closing():
    monday_nine = datetime(2026, 1, 5, 9, 0, tzinfo=LONDON)
    a_year_of_business_minutes = 52 * 5 * 510
    due = office().due_at(monday_nine, a_year_of_business_minutes)
    assert due == datetime(2027, 1, 1, 17, 30, tzinfo=LONDON)
    assert office().business_minutes_between(monday_nine, due) == a_year_of_business_minutes


def test_open_all_the_time_is_plain_elapsed_time():
    split_days = BusinessCalendar.from_settings(
        timezone="Europe/London", hours={day: ["00:00-12:00", "12:00-24:00"] for day in WEEKDAYS}
    )
    assert ALWAYS_OPEN.is_always_open and not split_days.is_always_open
    assert BusinessCalendar.from_settings(timezone="Europe/London", hours="24/7").is_always_open
    rng = random.Random(7)
    for _ in range(50):
        start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(365 * 86400))
        minutes = rng.randrange(0, 5 * 24 * 60)
        assert ALWAYS_OPEN.due_at(start, minutes) == start + timedelta(minutes=minutes)
        assert split_days.due_at(start, minutes) == start + timedelta(minutes=minutes)
        assert split_days.business_minutes_between(start, start + timedelta(minutes=minutes)) == minutes


@pytest.mark.parametrize(
    "calendar",
    [
        office(holidays=("2026-04-03", "2026-04-06", "2026-12-25", "2026-12-28")),
        BusinessCalendar.from_settings(
            timezone="America/New_York",
            hours={"mon": ["08:00-12:00", "13:00-18:00"], "wed": ["00:00-24:00"], "thu": ["00:00-24:00"],
                   "sat": ["01:30-03:00", "22:00-24:00"], "sun": ["00:00-02:30"]},
            holidays=("2026-07-03", "2026-11-26"),
        ),
    ],
    ids=["london-office", "new-york-shifts"],
)
def test_business_minutes_between_undoes_due_at(calendar):
    rng = random.Random(2026)
    for _ in range(300):
        start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(365 * 86400))
        minutes = rng.choice([0, 1, 30, 60, 240, 510, 2000, 20000])
        due = calendar.due_at(start, minutes)
        assert calendar.business_minutes_between(start, due) == pytest.approx(minutes, abs=1e-9)
        if minutes:
            assert calendar.is_open(due - timedelta(microseconds=1))
        end = start + timedelta(seconds=rng.randrange(30 * 86400))
        if calendar.is_open(end):
            assert calendar.due_at(start, calendar.business_minutes_between(start, end)) == end


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"hours": {"mon": ["9am-5pm"]}}, "hours.mon[0]: '9am-5pm' is not HH:MM-HH:MM, write '09:00-17:00'"),
        ({"hours": {"tue": ["09:00-12:00", "nine"]}}, "hours.tue[1]: 'nine' is not HH:MM-HH:MM, write it like '09:"),
        ({"hours": {"wed": ["22:00-06:00"]}}, "write '22:00-24:00' on this day and '00:00-06:00' on the next"),
        ({"hours": {"thu": ["09:00-25:00"]}}, "hours.thu[0]: '09:00-25:00' is not a time of day"),
        ({"hours": {"fri": ["09:00-13:00", "12:00-17:30"]}}, "hours.fri: '09:00-13:00' and '12:00-17:30' overlap"),
        ({"hours": {"Monday": ["09:00-17:00"]}}, "hours.Monday: not a day of the week; write 'mon'"),
        ({"hours": {"sat": []}}, "hours: no opening hours on any day"),
        ({"hours": "weekdays"}, "hours: expected '24/7' or days (mon .. sun)"),
        ({"timezone": "Europe/Londn"}, "timezone: unknown timezone 'Europe/Londn'; use an IANA name"),
        ({"holidays": ["2026-12-25", "25/12/2026"]}, "holidays[1]: '25/12/2026' is not a date; write dates as YYYY-"),
        ({"holidays": "2026-12-25"}, "holidays: expected a list of dates"),
    ],
)
def test_config_errors_name_the_key_and_the_fix(settings, message):
    with pytest.raises(ValueError) as raised:
        BusinessCalendar.from_settings(**{"timezone": "Europe/London", "hours": OFFICE_HOURS} | settings)
    assert message in str(raised.value)


def test_every_config_problem_is_reported_at_once():
    with pytest.raises(ValueError) as raised:
        BusinessCalendar.from_settings(timezone="Nowhere", hours={"mon": ["9-5"]}, holidays=["xmas"])
    message = str(raised.value)
    problems = [
        "hours.mon[0]: '9-5' is not HH:MM-HH:MM, write it like '09:00-17:30'",
        "holidays[0]: 'xmas' is not a date",
        "timezone: unknown timezone 'Nowhere'",
    ]
    assert [message.find(problem) for problem in problems] == sorted(message.find(problem) for problem in problems)
    assert all(problem in message for problem in problems)


def test_settings_read_like_yaml_gives_them():
    calendar = BusinessCalendar.from_settings(
        timezone="Europe/London", hours={"mon": "13:00-17:00", "tue": ["13:00-17:00", "08:00-12:00"], "sat": None},
        holidays=[date(2026, 12, 25)],
    )
    assert calendar.hours[0] == (OpeningInterval(13 * 60, 17 * 60),)
    assert [str(interval) for interval in calendar.hours[1]] == ["08:00-12:00", "13:00-17:00"]
    assert calendar.holidays == frozenset({date(2026, 12, 25)})


def test_direct_construction_is_checked_too():
    with pytest.raises(ValueError, match=r"hours\.mon: '09:00-13:00' and '12:00-17:30' overlap"):
        BusinessCalendar("UTC", ((OpeningInterval(540, 780), OpeningInterval(720, 1050)),) + ((),) * 6)
    with pytest.raises(ValueError, match="no opening hours on any day"):
        BusinessCalendar("UTC", ((),) * 7)


def test_naive_instants_and_negative_minutes_are_refused():
    with pytest.raises(ValueError, match="start must be timezone-aware"):
        office().due_at(datetime(2026, 1, 9, 17, 0), 60)
    with pytest.raises(ValueError, match="minutes must be 0 or more"):
        office().due_at(datetime(2026, 1, 9, 17, 0, tzinfo=UTC), -1)
