"""Tests for little_pipelines.expire: every policy checked against an injected clock."""

from __future__ import annotations

import pickle
import time
from datetime import date, datetime, timedelta, timezone

import pytest

from little_pipelines import expire

HOUR = 3600
DAY = 86400
MONDAY = datetime(2025, 6, 2, 10, 0)  # a Monday, 10:00


@pytest.fixture(autouse=True)
def local_tz(monkeypatch):
    """Pin the local zone so expected seconds do not depend on the machine's DST rules."""
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is needed to pin the local time zone")

    def set_tz(spec: str) -> None:
        monkeypatch.setenv("TZ", spec)
        time.tzset()

    set_tz("UTC0")
    yield set_tz
    monkeypatch.undo()
    time.tzset()


# --- policies without time-based expiry -------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "kind", "text"),
    [
        (expire.never(), "never", "never"),
        (expire.after_session(), "session", "after session"),
        (expire.on_complete(), "run", "on complete"),
    ],
)
def test_untimed_policies_have_a_kind_and_no_seconds(policy, kind, text):
    assert policy.kind == kind
    assert policy(MONDAY) is None
    assert policy() is None
    assert policy.describe() == text
    assert str(policy) == text


def test_session_and_run_policies_keep_the_task_name():
    assert expire.after_session("TaskOne").task_name == "TaskOne"
    assert expire.on_complete("TaskThree").task_name == "TaskThree"
    assert expire.on_complete().task_name is None


@pytest.mark.parametrize(
    "policy",
    [
        expire.at_midnight(),
        expire.from_now(days=1),
        expire.from_today(hours=6),
        expire.at_datetime(date(2026, 12, 1)),
        expire.weekly("friday"),
        expire.monthly(15),
    ],
)
def test_time_policies_have_kind_time(policy):
    assert policy.kind == "time"
    assert isinstance(policy, expire.ExpiryPolicy)


# --- at_midnight ----------------------------------------------------------------------------


def test_at_midnight_counts_to_the_next_midnight():
    assert expire.at_midnight()(datetime(2025, 6, 2, 23, 59, 30)) == 30
    assert expire.at_midnight()(datetime(2025, 6, 2, 12, 0)) == 12 * HOUR


def test_at_midnight_exactly_at_midnight_is_a_full_day():
    assert expire.at_midnight()(datetime(2025, 6, 2)) == DAY


def test_at_midnight_floors_fractions_so_it_is_never_late():
    assert expire.at_midnight()(datetime(2025, 6, 2, 23, 59, 29, 500_000)) == 30


def test_at_midnight_crosses_month_and_year_ends():
    assert expire.at_midnight()(datetime(2025, 12, 31, 23, 0)) == HOUR


# --- from_now / from_today ------------------------------------------------------------------


def test_from_now_fixed_units():
    now = datetime(2025, 6, 2, 10, 0)
    assert expire.from_now(days=1)(now) == DAY
    assert expire.from_now(seconds=90)(now) == 90
    assert expire.from_now(minutes=2, seconds=5)(now) == 125
    assert expire.from_now(hours=1.5)(now) == 5400
    assert expire.from_now(weeks=1, days=1, hours=2)(now) == 8 * DAY + 2 * HOUR
    assert expire.from_now()(now) == 0


def test_from_now_months_clamp_to_the_last_day_of_the_month():
    jan31 = datetime(2025, 1, 31, 9, 15)
    assert expire.from_now(months=1)(jan31) == 28 * DAY  # to 2025-02-28 09:15
    leap_jan31 = datetime(2024, 1, 31, 9, 15)
    assert expire.from_now(months=1)(leap_jan31) == 29 * DAY  # to 2024-02-29 09:15


def test_from_now_months_cross_the_year_end():
    assert expire.from_now(months=1)(datetime(2025, 12, 15)) == 31 * DAY
    assert expire.from_now(months=14)(datetime(2025, 1, 15)) == (
        (datetime(2026, 3, 15) - datetime(2025, 1, 15)).days * DAY
    )


def test_from_now_years_clamp_february_29():
    assert expire.from_now(years=1)(datetime(2024, 2, 29)) == 365 * DAY  # to 2025-02-28
    assert expire.from_now(years=1)(datetime(2025, 3, 1)) == 365 * DAY  # to 2026-03-01
    assert expire.from_now(years=4)(datetime(2024, 2, 29)) == (
        (datetime(2028, 2, 29) - datetime(2024, 2, 29)).days * DAY
    )


def test_from_now_calendar_part_applies_before_fixed_part():
    # Jan 31 + 1 month = Feb 28, then + 1 day = Mar 1 (not Feb 28 + clamp of Mar 1).
    assert expire.from_now(months=1, days=1)(datetime(2025, 1, 31)) == 29 * DAY


def test_from_now_rejects_fractional_months_and_years():
    with pytest.raises(ValueError, match="whole numbers"):
        expire.from_now(months=1.5)
    with pytest.raises(ValueError, match="whole numbers"):
        expire.from_now(years=0.5)


def test_from_today_counts_from_todays_midnight():
    assert expire.from_today(hours=1)(datetime(2025, 6, 2, 0, 30)) == 1800
    assert expire.from_today(days=1)(datetime(2025, 6, 2, 18, 0)) == 6 * HOUR
    assert expire.from_today(months=1)(datetime(2025, 1, 31, 12, 0)) == 27 * DAY + 12 * HOUR


def test_from_today_past_span_is_negative():
    assert expire.from_today(hours=6)(datetime(2025, 6, 2, 7, 0)) == -HOUR


def test_from_now_and_from_today_differ_by_value():
    assert expire.from_now(days=1) == expire.from_now(days=1)
    assert expire.from_now(days=1) != expire.from_today(days=1)


# --- at_datetime ----------------------------------------------------------------------------


def test_at_datetime_counts_to_the_moment():
    assert expire.at_datetime(datetime(2025, 6, 2, 12, 0))(MONDAY) == 2 * HOUR


def test_at_datetime_in_the_past_is_negative():
    assert expire.at_datetime(datetime(2025, 6, 2, 9, 0))(MONDAY) == -HOUR


def test_at_datetime_with_a_date_means_its_midnight():
    policy = expire.at_datetime(date(2025, 6, 4))
    assert policy.moment == datetime(2025, 6, 4)
    assert policy(MONDAY) == 2 * DAY - 10 * HOUR


def test_at_datetime_rejects_other_types():
    with pytest.raises(TypeError, match="date or datetime"):
        expire.at_datetime("2025-06-04")


# --- weekly ---------------------------------------------------------------------------------


def test_weekly_counts_to_the_next_listed_weekday_midnight():
    assert expire.weekly(("wednesday",))(MONDAY) == 2 * DAY - 10 * HOUR
    assert expire.weekly(("sunday",))(MONDAY) == 6 * DAY - 10 * HOUR


def test_weekly_default_is_monday():
    assert expire.weekly() == expire.weekly("monday")


def test_weekly_today_listed_means_next_week():
    assert expire.weekly(("monday",))(MONDAY) == 7 * DAY - 10 * HOUR
    assert expire.weekly(("monday",))(datetime(2025, 6, 2)) == 7 * DAY


def test_weekly_tomorrow_is_the_rest_of_today():
    assert expire.weekly("tuesday")(datetime(2025, 6, 2, 23, 59, 30)) == 30


@pytest.mark.parametrize(
    "names",
    [
        ("wednesday",),
        ("wed",),
        ("we",),
        ("WeDnEsDaY",),
        ("  Wed ",),
        "wednesday",
        " WE",
        ["wed", "wednesday", "WE"],
    ],
)
def test_weekly_accepts_full_short_and_two_letter_names(names):
    policy = expire.weekly(names)
    assert policy == expire.Weekly(("wednesday",))
    assert policy(MONDAY) == 2 * DAY - 10 * HOUR


def test_weekly_picks_the_nearest_of_several_days():
    policy = expire.weekly(["friday", "tue", "Sa"])
    assert policy.days == ("tuesday", "friday", "saturday")
    assert policy(MONDAY) == DAY - 10 * HOUR
    assert policy(datetime(2025, 6, 4, 8, 0)) == DAY + 16 * HOUR  # Wednesday → Friday
    assert policy(datetime(2025, 6, 7, 8, 0)) == 2 * DAY + 16 * HOUR  # Saturday → Tuesday


def test_weekly_order_of_names_does_not_matter():
    assert expire.weekly(["fri", "mon"]) == expire.weekly(["monday", "friday"])


def test_weekly_unknown_name_is_named_with_the_valid_ones():
    with pytest.raises(ValueError, match=r"^Invalid weekday 'funday'") as info:
        expire.weekly(["monday", "funday"])
    assert "monday, tuesday, wednesday, thursday, friday, saturday, sunday" in str(info.value)


def test_weekly_rejects_non_strings_and_empty_lists():
    with pytest.raises(ValueError, match=r"^Invalid weekday 1"):
        expire.weekly([1])
    with pytest.raises(ValueError, match=r"^Must specify at least one weekday"):
        expire.weekly([])
    with pytest.raises(ValueError, match=r"^Must specify at least one weekday"):
        expire.weekly(())


# --- monthly --------------------------------------------------------------------------------


def test_monthly_counts_to_the_next_listed_day():
    assert expire.monthly((15,))(datetime(2025, 6, 2, 10, 0)) == 13 * DAY - 10 * HOUR
    assert expire.monthly((1,))(datetime(2025, 6, 30, 23, 0)) == HOUR


def test_monthly_default_is_the_first_and_an_int_is_accepted():
    assert expire.monthly() == expire.monthly(1) == expire.Monthly((1,))


def test_monthly_today_listed_means_next_month():
    assert expire.monthly(2)(datetime(2025, 6, 2, 10, 0)) == 30 * DAY - 10 * HOUR
    assert expire.monthly(2)(datetime(2025, 6, 2)) == 30 * DAY


def test_monthly_31_skips_months_without_one():
    # From Jan 31 (listed, already started): Feb, Apr have no 31st → next is Mar 31.
    assert expire.monthly(31)(datetime(2025, 1, 31, 12, 0)) == 59 * DAY - 12 * HOUR
    # From Apr 5: April has no 31st → May 31.
    assert expire.monthly(31)(datetime(2025, 4, 5)) == 56 * DAY


def test_monthly_29_in_february_depends_on_leap_years():
    assert expire.monthly(29)(datetime(2024, 2, 1)) == 28 * DAY
    assert expire.monthly(29)(datetime(2025, 2, 1)) == 56 * DAY  # to Mar 29


def test_monthly_picks_the_nearest_of_several_days():
    policy = expire.monthly([15, 1, 15])
    assert policy.days == (1, 15)
    assert policy(datetime(2025, 6, 2)) == 13 * DAY
    assert policy(datetime(2025, 6, 20)) == 11 * DAY  # to Jul 1
    assert policy(datetime(2025, 12, 20)) == 12 * DAY  # to Jan 1 next year


@pytest.mark.parametrize("bad", [0, 32, -1, 1.0, "1", True, None])
def test_monthly_rejects_invalid_days(bad):
    with pytest.raises(ValueError, match="1 to 31"):
        expire.monthly([bad])


def test_monthly_rejects_an_invalid_single_day_and_empty_lists():
    with pytest.raises(ValueError, match="got 0"):
        expire.monthly(0)
    with pytest.raises(ValueError, match="at least one day"):
        expire.monthly([])


# --- descriptions, value equality, pickling -------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "text"),
    [
        (expire.at_midnight(), "at midnight"),
        (expire.from_now(days=1, hours=2), "from now: 1 day, 2 hours"),
        (expire.from_now(years=1, months=2, weeks=3), "from now: 1 year, 2 months, 3 weeks"),
        (expire.from_now(minutes=1, seconds=30), "from now: 1 minute, 30 seconds"),
        (expire.from_now(hours=1.5), "from now: 1.5 hours"),
        (expire.from_now(), "from now: 0 seconds"),
        (expire.from_today(hours=6), "from today: 6 hours"),
        (expire.weekly(["fri", "Monday"]), "weekly: monday, friday"),
        (expire.monthly([15, 1]), "monthly: 1, 15"),
        (expire.at_datetime(date(2026, 12, 1)), "at 2026-12-01 00:00"),
        (expire.at_datetime(datetime(2026, 12, 1, 8, 30, 15)), "at 2026-12-01 08:30:15"),
    ],
)
def test_describe_gives_short_human_text(policy, text):
    assert policy.describe() == text
    assert str(policy) == text


def test_repr_is_readable():
    assert repr(expire.weekly("fri")) == "Weekly(days=('friday',))"
    assert repr(expire.on_complete("TaskThree")) == "OnComplete(task_name='TaskThree')"


ALL_POLICIES = [
    expire.never(),
    expire.after_session("TaskOne"),
    expire.on_complete("TaskThree"),
    expire.at_midnight(),
    expire.from_now(months=1, hours=2),
    expire.from_today(hours=6),
    expire.at_datetime(datetime(2026, 12, 1, 8, 30)),
    expire.weekly(["monday", "friday"]),
    expire.monthly([1, 15, 31]),
]


@pytest.mark.parametrize("policy", ALL_POLICIES, ids=lambda p: type(p).__name__)
def test_policies_survive_pickling_and_compare_by_value(policy):
    copy = pickle.loads(pickle.dumps(policy))
    assert copy == policy
    assert hash(copy) == hash(policy)
    assert copy.kind == policy.kind
    assert copy(MONDAY) == policy(MONDAY)


def test_policies_are_immutable():
    with pytest.raises(AttributeError):
        expire.from_now(days=1).days = 2


# --- clocks ---------------------------------------------------------------------------------


def test_calling_without_a_clock_uses_the_real_one():
    seconds = expire.from_now(seconds=60)()
    assert isinstance(seconds, int)
    assert 59 <= seconds <= 60
    assert 0 < expire.at_midnight()() <= DAY


def test_an_aware_clock_is_read_as_local_time():
    aware = datetime(2025, 6, 2, 1, 59, 30, tzinfo=timezone(timedelta(hours=2)))  # 23:59:30 UTC
    assert expire.at_midnight()(aware) == 30


def test_daylight_saving_shifts_are_real_elapsed_seconds(local_tz):
    local_tz("CET-1CEST,M3.5.0,M10.5.0/3")  # Central Europe; clocks jump 02:00 → 03:00
    spring_day = datetime(2025, 3, 30)  # the 23-hour Sunday
    assert expire.at_midnight()(spring_day) == 23 * HOUR
    assert expire.from_now(days=1)(datetime(2025, 3, 29, 12, 0)) == 23 * HOUR
    # Hours are exact elapsed time, days follow the calendar.
    assert expire.from_now(hours=1)(datetime(2025, 3, 30, 1, 30)) == HOUR
    assert expire.from_now(hours=3)(datetime(2025, 3, 30, 0, 30)) == 3 * HOUR
    assert expire.from_now(days=1, hours=1)(datetime(2025, 3, 29, 12, 0)) == 24 * HOUR
    assert expire.at_midnight()(datetime(2025, 10, 26)) == 25 * HOUR
