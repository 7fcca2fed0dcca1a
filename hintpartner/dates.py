"""The one way dates and times are written for people: pages, CSV files and messages.

One date format ("Jul 7, 1956") and one date-time format ("Dec 2, 2026, 4:49 AM MST"), the latter
in the practice's time zone. Hint's handshake and installation carry no time zone, so the zone is
`settings.PRACTICE_TIME_ZONE` (an IANA name, UTC unless set); the abbreviation is always written,
so a time is never ambiguous. Templates use the `hint_date`, `hint_datetime` and `hint_ago`
filters (`{% load hint %}`), which call these functions.
"""

from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.timesince import timesince

# What the pages' tests accept as a date or a date-time: nothing else that looks like one.
DATE_PATTERN = r"[A-Z][a-z]{2} \d{1,2}, \d{4}"
DATETIME_PATTERN = DATE_PATTERN + r", \d{1,2}:\d{2} [AP]M [A-Z][A-Za-z0-9+-]{1,5}"


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def practice_zone() -> ZoneInfo:
    """The zone people read times in (settings.PRACTICE_TIME_ZONE; Hint does not send one)."""
    return _zone(settings.PRACTICE_TIME_ZONE)


def date_text(value: date | datetime | str | None) -> str:
    """`Jul 7, 1956`; a date-time is first moved into the practice's zone; an ISO date string
    (Hint's, as the field map keeps it) is read; "" for None or what is no date."""
    if isinstance(value, str):
        try:
            value = parse_date(value[:10])
        except ValueError:
            value = None
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        value = _local(value).date()
    return f"{value:%b} {value.day}, {value.year}"


def datetime_text(value: datetime | None) -> str:
    """`Dec 2, 2026, 4:49 AM MST` in the practice's zone; "" for None."""
    if value is None or value == "":
        return ""
    local = _local(value)
    hour = local.hour % 12 or 12
    return f"{date_text(local.date())}, {hour}:{local:%M %p} {local:%Z}"


def ago_text(value: datetime | None, *, now: datetime | None = None) -> str:
    """`just now` under a minute, else `5 minutes ago` (never "0 minutes ago")."""
    if value is None:
        return ""
    now = now or timezone.now()
    if now - value < timedelta(minutes=1):
        return "just now"
    return f"{timesince(value, now, depth=1)} ago".replace("\xa0", " ")


def _local(value: datetime) -> datetime:
    if timezone.is_naive(value):
        value = timezone.make_aware(value, ZoneInfo("UTC"))
    return value.astimezone(practice_zone())
