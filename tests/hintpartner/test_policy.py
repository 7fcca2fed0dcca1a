"""The shared rules for retrying and for explaining Hint's failures (`hint.policy`)."""

from datetime import timedelta

import pytest
from django.test import override_settings

from hintpartner.hint import errors, policy


def test_backoff_doubles_from_the_base_and_stops_at_the_cap() -> None:
    schedule = policy.Schedule(base=10, cap=50)
    waits = [policy.backoff(n, schedule).total_seconds() for n in (1, 2, 3, 4, 9)]
    assert waits == [10, 20, 40, 50, 50]


def test_a_schedule_may_grow_by_another_factor() -> None:
    schedule = policy.Schedule(base=1, cap=100, factor=4)
    assert [policy.backoff(n, schedule).total_seconds() for n in (1, 2, 3)] == [1, 4, 16]


def test_the_first_retry_waits_the_base_even_for_attempt_zero() -> None:
    assert policy.backoff(0, policy.NOTE_SCHEDULE) == timedelta(seconds=15)


def test_a_jittered_wait_stays_between_zero_and_the_full_delay() -> None:
    schedule = policy.Schedule(base=8, cap=8, jitter=True)
    waits = {policy.backoff(3, schedule).total_seconds() for _ in range(50)}
    assert all(0 <= wait <= 8 for wait in waits) and len(waits) > 1


@override_settings(HINT_BACKOFF_BASE=0.5, HINT_BACKOFF_MAX=3.0)
def test_the_http_schedule_comes_from_settings() -> None:
    assert policy.http_schedule() == policy.Schedule(base=0.5, cap=3.0, jitter=True)


def test_webhook_retries_settle_well_before_hints_hourly_retries() -> None:
    waits = [policy.backoff(n, policy.WEBHOOK_SCHEDULE) for n in (1, 2, 3, 4, 10)]
    assert waits[:4] == [timedelta(seconds=s) for s in (30, 120, 480, 1920)]
    assert waits[-1] == timedelta(hours=1)


@pytest.mark.parametrize(
    ("exc", "refused"),
    [
        (errors.HintUnauthorized("x", status=401), True),
        (errors.HintWrongKey("x", status=428), True),
        (errors.HintNotFound("x", status=404), False),
        (errors.HintUnavailable("x"), False),
    ],
)
def test_only_a_refused_token_counts_as_refused(exc: errors.HintError, refused: bool) -> None:
    assert policy.is_token_refused(exc) is refused


def test_a_refused_practice_token_needs_an_admin_and_a_session_token_a_reopen() -> None:
    exc = errors.HintUnauthorized("401 from /api/provider/patients", status=401)
    assert "practice admin must reconnect" in policy.error_sentence(exc, practice_token=True)
    assert "Reopen the app from Hint" in policy.error_sentence(exc)


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (errors.HintNotFound("x", status=404), "Hint no longer has this note"),
        (errors.HintBadRequest("x", status=422, hint_message="Title too long"), "Title too long"),
        (errors.HintRateLimited("x", status=429), "too many requests"),
        (errors.HintInvalidResponse("x"), "cannot read"),
        (errors.HintTimeout("x"), "did not answer"),
    ],
)
def test_each_failure_gets_a_plain_sentence(exc: errors.HintError, words: str) -> None:
    sentence = policy.error_sentence(exc, record="note")
    assert words in sentence
    assert "/api/" not in sentence
