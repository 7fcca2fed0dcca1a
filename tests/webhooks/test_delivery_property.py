"""No signed body, however hostile, gets a 5xx from the receiver: Hint would retry it for days.

A 5xx is kept for failures that may pass (the database unreachable); every body that can never
succeed gets a 4xx, every event that can be stored a 200. Hypothesis writes the bodies: JSON-ish
values with NUL characters, lone surrogates, NaN and huge numbers, absurd nesting, event-shaped
objects with fields of every type, token soup and raw bytes, each signed with our secret.
"""

import json

import pytest
from django.conf import settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from handshake.models import Practice
from hintpartner.hint import signing
from webhooks import receiver

pytestmark = pytest.mark.django_db

# Any code point, surrogates and NUL included.
texts = st.text(st.characters(exclude_categories=()), max_size=12) | st.sampled_from(
    ["", "\x00", "a\x00b", "\ud800", "\udfff x", "[{", "patient.created", "pra-aaaa"]
)


# Text that UTF-8 can carry: NUL and every other code point but surrogates.
utf8_texts = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["", "\x00", "a\x00b", "[{", "\\u0000"]
)


def _values(
    floats: st.SearchStrategy[float], text: st.SearchStrategy[str]
) -> st.SearchStrategy[object]:
    scalars = st.none() | st.booleans() | st.integers() | floats | text
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
        max_leaves=25,
    )


values = _values(st.floats(allow_nan=True, allow_infinity=True), texts)
# Event fields are mostly storable (finite numbers, no surrogates; NUL kept), so that most
# events reach the database.
finite = _values(st.floats(allow_nan=False, allow_infinity=False), utf8_texts)
event_types = st.sampled_from(["patient.created", "patient.updated", "x.y", "\x00", 7])
practice_refs = st.sampled_from(["pra-aaaa", "pra-nobody", "", " "]) | finite
events = st.fixed_dictionaries(
    {"type": event_types | finite},
    optional={
        "id": st.sampled_from(["evt-1", "evt-2", "", "evt-\x00"]) | finite,
        "practice_id": practice_refs,
        "created_at": st.sampled_from(["2026-05-26T14:23:00Z", "yesterday", 10**20]) | finite,
        "timestamp": st.sampled_from(["2026-05-26T14:23:00Z", 1e300, -1e300]) | finite,
        "object": st.fixed_dictionaries(
            {},
            optional={
                "id": finite,
                "practice_id": practice_refs,
                "practice": st.fixed_dictionaries({}, optional={"id": practice_refs}) | finite,
                "notes": finite,
            },
        )
        | finite,
        "extra": finite,
        "hostile": values,
    },
)


def _dumped(value: object, ascii_only: bool) -> bytes:
    # Raw surrogates become the bytes a lax encoder would send (CESU-8 style).
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


event_bodies = st.builds(_dumped, events, st.booleans())
token_soup = st.lists(
    st.sampled_from(
        [
            "[",
            "]",
            "{",
            "}",
            '"',
            ":",
            ",",
            " ",
            "\\u0000",
            "\\ud800",
            "\\udc00",
            "\\\\",
            "NaN",
            "Infinity",
            "-Infinity",
            "-",
            "1e400",
            "0",
            "1.5",
            "true",
            "null",
            '"id"',
            '"type"',
            '"a"',
            '"practice_id"',
            '"pra-aaaa"',
            '"object"',
            "\x00",
            "\xe9",
        ]
    ),
    max_size=120,
).map(lambda tokens: "".join(tokens).encode("utf-8", "surrogatepass"))
deep = st.builds(
    lambda depth, opening: (opening * depth).encode(),
    st.integers(min_value=60, max_value=5000),
    st.sampled_from(["[", '{"a":', '[{"a":']),
) | st.integers(min_value=60, max_value=3000).map(
    lambda depth: (
        json.dumps({"id": "evt-deep", "type": "x", "practice_id": "pra-aaaa", "object": "@@"})
        .replace('"@@"', "[" * depth + "]" * depth)
        .encode()
    )
)
bodies = (
    event_bodies
    | st.builds(_dumped, values, st.booleans())
    | token_soup
    | deep
    | st.binary(max_size=200)
)
PROPERTY = hypothesis_settings(
    max_examples=300,
    deadline=None,
    database=None,  # writes no .hypothesis folder into the checkout
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _answer(body: bytes) -> tuple[int, dict[str, object]]:
    return receiver.delivery_answer(
        declared_length=str(len(body)),
        read_body=lambda _size: body,
        signature=signing.sign(body, settings.HINT_WEBHOOK_SECRET),
    )


@PROPERTY
@given(body=bodies)
def test_no_signed_body_of_json_ish_bytes_ever_answers_5xx(
    practice_a: Practice, body: bytes
) -> None:
    status, answer = _answer(body)
    assert status in (200, 400, 413), answer


@PROPERTY
@given(body=event_bodies)
def test_no_signed_event_shaped_body_ever_answers_5xx(practice_a: Practice, body: bytes) -> None:
    status, answer = _answer(body)
    assert status in (200, 400), answer
