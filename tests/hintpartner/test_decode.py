"""Reading Hint's timestamps (`decode.parse_time`) and bodies (`decode.json_body`)."""

import json
import logging
import sys
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


# --- json_body: one strict decoder for Hint's signed bodies --------------------------------


def test_a_body_shaped_like_hints_reads_as_json_loads_reads_it() -> None:
    body = json.dumps({"id": "evt-1", "n": [1, 2.5, -3e-2, True, None], "s": "Zoë 😀"}).encode()
    assert decode.json_body(body) == json.loads(body)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_standard_numbers_are_refused(constant: str) -> None:
    with pytest.raises(decode.BodyRefused, match=constant):
        decode.json_body(f'{{"object": {{"balance": {constant}}}}}'.encode())


@pytest.mark.parametrize("number", ["1e400", "-1e400", "1.5E+999"])
def test_a_float_beyond_range_is_refused_rather_than_read_as_infinity(number: str) -> None:
    with pytest.raises(decode.BodyRefused, match="too large"):
        decode.json_body(f"[{number}]".encode())


@pytest.mark.parametrize("depth", [65, 1000, 100_000])
def test_nesting_past_64_levels_is_refused_before_any_recursion(depth: int) -> None:
    body = ("[" * depth + "]" * depth).encode()
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # the refusal must not depend on the recursion limit
    try:
        with pytest.raises(decode.BodyRefused, match="64 levels"):
            decode.json_body(body)
    finally:
        sys.setrecursionlimit(limit)


def test_64_levels_are_read_and_brackets_inside_strings_do_not_count() -> None:
    assert decode.json_body(("[" * 64 + "]" * 64).encode()) is not None
    assert decode.json_body(json.dumps({"note": "[{" * 500}).encode()) == {"note": "[{" * 500}
    tricky = {"a": '\\"[{' * 100, "b": ['"]}' * 100, "\\"], "c": [[["\\\\"]]]}
    assert decode.json_body(json.dumps(tricky).encode()) == tricky


def test_an_unclosed_nest_is_refused_for_its_depth_not_a_recursion_error() -> None:
    with pytest.raises(decode.BodyRefused):
        decode.json_body(b'{"a": ' * 5000)


def test_nul_characters_are_removed_from_values_and_keys_and_logged_without_content(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = b'{"name": "Zo\\u0000e", "k\\u0000ey": ["\\u0000", {"deep": "secret\\u0000"}]}'
    with caplog.at_level(logging.WARNING, logger="hintpartner.hint.decode"):
        value = decode.json_body(body, what="webhook body")
    assert value == {"name": "Zoe", "key": ["", {"deep": "secret"}]}
    assert [r.getMessage() for r in caplog.records] == [
        "webhook body held 4 NUL character(s); removed before storing"
    ]
    assert "secret" not in caplog.text and "Zo" not in caplog.text


def test_an_escaped_backslash_before_u0000_is_text_and_not_a_nul(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert decode.json_body(b'"a\\\\u0000"') == "a\\u0000"
    assert not caplog.records


def test_two_keys_that_differ_only_by_nul_are_refused() -> None:
    with pytest.raises(decode.BodyRefused, match="NUL"):
        decode.json_body(b'{"a": 1, "a\\u0000": 2}')


@pytest.mark.parametrize("text", ['"\\ud800"', '"x\\udfffy"', '{"\\uDC00": 1}'])
def test_a_lone_surrogate_escape_is_refused_and_a_pair_is_read(text: str) -> None:
    with pytest.raises(decode.BodyRefused, match="surrogate"):
        decode.json_body(text.encode())
    assert decode.json_body(b'"\\ud83d\\ude00"') == "\U0001f600"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\xff{}", "UTF-8"),
        (b'"\xed\xa0\x80"', "UTF-8"),  # a surrogate encoded as UTF-8 bytes
        (b'{"id": "evt-1", "type": ', "not JSON"),
        (b"", "not JSON"),
        (b"1" * 5000, "not JSON"),  # longer than Python reads an integer
        (b'["raw\x00nul"]', "not JSON"),  # a raw control character inside a string
    ],
)
def test_what_is_not_utf8_json_is_refused_with_a_reason(body: bytes, message: str) -> None:
    with pytest.raises(decode.BodyRefused, match=message):
        decode.json_body(body)
