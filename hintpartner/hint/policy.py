"""Hint's rules for trying again and for telling a person what went wrong: one home each.

Every retry in the product (an HTTP call to Hint, a webhook handler, a note's push) waits by
`backoff`, with one of the named schedules below; every page, log entry and row message that
explains a failed call to Hint takes its sentence from `error_sentence`.
"""

import random
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings

from hintpartner.hint import errors


@dataclass(frozen=True)
class Schedule:
    """Exponential backoff: `base`, then `factor` times more each retry, never more than `cap`."""

    base: float
    cap: float
    factor: float = 2
    # Full jitter: a uniform draw below the delay, which spreads the retries of many workers.
    jitter: bool = False


def backoff(attempt: int, schedule: Schedule) -> timedelta:
    """The wait before retry number `attempt` (1 for the first retry)."""
    seconds = min(schedule.cap, schedule.base * schedule.factor ** max(attempt - 1, 0))
    if schedule.jitter:
        seconds = random.uniform(0, seconds)
    return timedelta(seconds=seconds)


def http_schedule() -> Schedule:
    """Retries inside one call to Hint (a 502/503/504, a timeout): short, jittered, settable."""
    return Schedule(base=settings.HINT_BACKOFF_BASE, cap=settings.HINT_BACKOFF_MAX, jitter=True)


# Background work that failed at Hint or in a handler tries again on these schedules. Hint's own
# webhook retries are hourly, so ours settle sooner (30 s, 2 min, 8 min, 32 min); a note's push
# retries sooner still (15 s, 30 s, 1 min, … 30 min), because a clinician may be watching it.
WEBHOOK_SCHEDULE = Schedule(base=30, cap=60 * 60, factor=4)
NOTE_SCHEDULE = Schedule(base=15, cap=30 * 60)
# A contact's change owed to Hint (10 s, 20 s, 40 s, then every minute): staff watch the badge,
# and once Hint is back the change must land within a minute, however long the outage was.
# Owed writes are a person's edits, so even a long outage costs few calls.
CONTACT_SCHEDULE = Schedule(base=10, cap=60)


def is_token_refused(exc: BaseException) -> bool:
    """Hint refused the token itself (401), or a partner key went where a practice token belongs."""
    return isinstance(exc, errors.HintUnauthorized | errors.HintWrongKey)


def error_sentence(
    exc: errors.HintError,
    *,
    record: str = "patient",
    practice_token: bool = False,
    partner_key: bool = False,
) -> str:
    """What went wrong at Hint, as one sentence for a person: no ids, routes or tokens.

    `record` names what the call was about ("patient", "note's entry in the chart");
    `practice_token` says the call used the practice's token (background work), whose refusal
    needs an admin, rather than the open session's, which reopening the app renews;
    `partner_key` says it used the app's partner-wide key, which only the app's developer sets.
    """
    if is_token_refused(exc):
        if partner_key:
            return (
                "Hint refused this app's partner key; the app's developer must check the key "
                "the app is configured with."
            )
        if practice_token:
            return (
                "Hint refused this app's access to the practice; a practice admin must "
                "reconnect the app in Hint."
            )
        return "Hint refused our access. Reopen the app from Hint and try again."
    if isinstance(exc, errors.HintNotFound):
        return f"Hint no longer has this {record} (it may have been deleted)."
    if isinstance(exc, errors.HintBadRequest):
        reason = f": {exc.hint_message}" if exc.hint_message else "."
        return f"Hint refused the change{reason}"
    if isinstance(exc, errors.HintBudgetExhausted):
        return "Today's budget of calls to Hint is used up; it renews at midnight UTC."
    if isinstance(exc, errors.HintRateLimited):
        return "Hint is busy (too many requests). Try again in a minute."
    if isinstance(exc, errors.HintInvalidResponse):
        return "Hint answered with something this app cannot read. Try again in a few minutes."
    return "Hint did not answer. Try again in a few minutes."
