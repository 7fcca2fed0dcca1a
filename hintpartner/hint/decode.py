"""Reading values as Hint sends them: one parser for Hint's timestamps."""

from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime


def parse_time(value: Any) -> datetime | None:
    """An aware datetime from Hint's ISO 8601 text (or epoch seconds); naive means UTC.

    None for anything unreadable: a missing or malformed timestamp never stops the caller.
    """
    if isinstance(value, datetime):
        parsed: datetime | None = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str) and value.strip():
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            return None
    else:
        return None
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed
