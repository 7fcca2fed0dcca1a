"""Reading Hint's timestamps (`hintpartner.hint.decode.parse_time`)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from hintpartner.hint import decode


@pytest.mark.parametrize(
    "value",
    ["2026-05-26T14:22:59Z", "2026-05-26T14:22:59.000Z", "2026-05-26T14:22:59", 1779805379],
)
def test_it_reads_iso_text_and_epoch_seconds_as_utc(value: object) -> None:
    assert decode.parse_time(value) == datetime(2026, 5, 26, 14, 22, 59, tzinfo=UTC)


def test_it_keeps_an_offset() -> None:
    parsed = decode.parse_time(" 2026-05-26T16:22:59+02:00 ")
    assert parsed is not None and parsed.utcoffset() == timedelta(hours=2)
    assert parsed == datetime(2026, 5, 26, 14, 22, 59, tzinfo=UTC)


def test_a_naive_datetime_is_taken_as_utc() -> None:
    assert decode.parse_time(datetime(2026, 1, 1)) == datetime(2026, 1, 1, tzinfo=UTC)
    aware = datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-5)))
    assert decode.parse_time(aware) is aware


@pytest.mark.parametrize(
    "value", [None, "", "  ", "yesterday", "2026-13-45T99:00:00", True, 1e20, {}]
)
def test_anything_unreadable_is_none(value: object) -> None:
    assert decode.parse_time(value) is None
