"""One date format and one date-time format, in the practice's time zone."""

from datetime import UTC, date, datetime, timedelta

from hintpartner import dates


def test_a_date_is_written_month_day_year() -> None:
    assert dates.date_text(date(1956, 7, 7)) == "Jul 7, 1956"
    assert dates.date_text("1990-01-02") == "Jan 2, 1990"  # Hint's ISO string, as mapped
    assert dates.date_text(None) == "" and dates.date_text("not a date") == ""


def test_a_date_time_is_written_in_the_practice_zone_with_its_abbreviation(settings) -> None:
    at = datetime(2026, 12, 2, 11, 49, tzinfo=UTC)
    assert dates.datetime_text(at) == "Dec 2, 2026, 11:49 AM UTC"
    settings.PRACTICE_TIME_ZONE = "America/Denver"
    assert dates.datetime_text(at) == "Dec 2, 2026, 4:49 AM MST"
    # The date of a date-time is the practice's date, not UTC's.
    assert dates.date_text(datetime(2026, 12, 2, 3, 0, tzinfo=UTC)) == "Dec 1, 2026"


def test_a_moment_ago_is_just_now_never_zero_minutes() -> None:
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    assert dates.ago_text(now - timedelta(seconds=20), now=now) == "just now"
    assert dates.ago_text(now - timedelta(minutes=5), now=now) == "5 minutes ago"
