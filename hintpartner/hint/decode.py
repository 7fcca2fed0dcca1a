"""Reading values as Hint sends them: one JSON decoder for Hint's bodies, one parser for Hint's
timestamps."""

import json
import logging
import math
import re
from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime

logger = logging.getLogger(__name__)

# Hint's events and handshakes nest a few levels (event → object → phones → phone). Anything far
# deeper is not Hint's, and a thousand levels would exhaust the recursion of the decoder and of
# everything that walks the result (Django's JSONField, the database's JSON functions).
MAX_DEPTH = 64


class BodyRefused(ValueError):
    """A signed body that can never be stored or acted on: sending it again fails the same way."""


# Escaped characters (so that `\\"` ends no string), then one JSON string without escapes.
_ESCAPE = re.compile(r"\\.", re.DOTALL)
_STRING = re.compile(r'"[^"]*"')
# Everything but brackets, once strings are gone.
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
# A NUL or a UTF-16 surrogate can only reach a string through a \u escape (strict JSON refuses
# raw control characters, and strict UTF-8 refuses encoded surrogates): most bodies hold neither,
# and skip the walk that repairs or refuses them.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _depth_exceeds(text: str, limit: int) -> bool:
    """Whether the JSON text nests deeper than `limit`, found without recursion (brackets
    inside strings do not count); stops at the first level past the limit."""
    if text.count("[") + text.count("{") <= limit:  # the common case: too few to nest that deep
        return False
    depth = 0
    for bracket in _NOT_BRACKET.sub("", _STRING.sub("", _ESCAPE.sub("", text))):
        depth += 1 if bracket in "[{" else -1
        if depth > limit:
            return True
    return False


def _refuse_constant(name: str) -> Any:
    raise BodyRefused(f"The body holds {name}, which JSON does not allow.")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BodyRefused("The body holds a number too large for JSON's range.")
    return value


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def _clean_strings(value: Any) -> tuple[Any, int]:
    """`value` with NUL characters removed from every string (keys too), and how many were
    removed; BodyRefused for a lone UTF-16 surrogate. Iterative: the depth is already bounded,
    but a walk needs no stack to be safe."""
    removed = 0

    def clean(text: str) -> str:
        nonlocal removed
        if _SURROGATE.search(text):
            raise BodyRefused("The body holds a lone UTF-16 surrogate, which is not text.")
        if "\x00" in text:
            removed += text.count("\x00")
            return text.replace("\x00", "")
        return text

    root: list[Any] = [value]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        container, key = stack.pop()
        item = container[key]
        if isinstance(item, str):
            container[key] = clean(item)
        elif isinstance(item, list):
            stack.extend((item, index) for index in range(len(item)))
        elif isinstance(item, dict):
            cleaned = {clean(k): v for k, v in item.items()}
            if len(cleaned) != len(item):
                # Two keys that differ only by NUL characters: which one wins is arbitrary.
                raise BodyRefused("The body holds two keys that differ only by NUL characters.")
            item.clear()
            item.update(cleaned)
            stack.extend((item, k) for k in item)
    return root[0], removed


def json_body(body: bytes, *, what: str = "body") -> Any:
    """The JSON value of a signed body from Hint, or BodyRefused saying why it can never be read.

    Strict where the database or Python would fail later, on every retry: UTF-8 only, no `NaN` /
    `Infinity` / overflowing numbers, at most MAX_DEPTH levels, no lone surrogates. NUL characters
    (`\\u0000`), which PostgreSQL can store neither in text nor in jsonb, are removed from every
    string and key, and one log line says so (`what` names the body; never its content).
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyRefused("The body is not UTF-8 text.") from exc
    if _depth_exceeds(text, MAX_DEPTH):
        raise BodyRefused(f"The body nests deeper than {MAX_DEPTH} levels.")
    try:
        value = _DECODER.decode(text)
    except BodyRefused:
        raise
    except RecursionError as exc:  # the pre-scan bounds depth; this is the belt to its braces
        raise BodyRefused(f"The body nests deeper than {MAX_DEPTH} levels.") from exc
    except ValueError as exc:  # JSONDecodeError, and integers longer than Python reads
        raise BodyRefused("The body is not JSON.") from exc
    if _SUSPECT_ESCAPE.search(text):
        value, removed = _clean_strings(value)
        if removed:
            logger.warning("%s held %s NUL character(s); removed before storing", what, removed)
    return value


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
