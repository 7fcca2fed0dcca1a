"""One Hint budget per token, shared by every web and worker process.

Hint allows each token `HINT_RATE_LIMIT_PER_SECOND` requests a second and the partner a daily
budget (`HINT_DAILY_BUDGET`). A per-process limiter lets N processes send N times the rate, so
the slots are handed out by a store every process shares:

- `database` (the default): one row per token (`hintpartner.models.HintBudget`, keyed by a hash
  of the token) holding the next free slot and today's count; one upsert per call reserves the
  slot and counts it, with the database's clock, so processes on several hosts agree.
- `redis` (when `REDIS_URL` is set): the same rule in one Lua script, with Redis's clock.
- `process`: the old per-process limiter (tests; a single process).

Slots are spaced 1/rate apart (Hint's bucket allows a burst of `rate`, so spacing never trips
it). When today's count reaches the budget, `take` raises `HintBudgetExhausted` without sending:
batches stop with a sentence saying when to resume, queued retries wait.
"""

import hashlib
import threading
import time
from datetime import UTC, datetime
from functools import cache

from django.conf import settings
from django.db import connection

from hintpartner.hint.errors import HintBudgetExhausted


def token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _store() -> str:
    store = getattr(settings, "HINT_BUDGET_STORE", "")
    if store:
        return store
    return "redis" if getattr(settings, "REDIS_URL", "") else "database"


def take(token: str) -> float:
    """Reserve this token's next slot; the seconds to wait before sending (0: now).

    Raises `HintBudgetExhausted` when today's budget is spent (nothing is counted then).
    """
    rate = settings.HINT_RATE_LIMIT_PER_SECOND
    interval = 1.0 / rate if rate > 0 else 0.0
    budget = settings.HINT_DAILY_BUDGET
    store = _store()
    if store == "process":
        return _process.take(token_key(token), interval)
    if store == "redis":
        wait, used = _redis_take(token_key(token), interval, budget)
    else:
        wait, used = _database_take(token_key(token), interval, budget)
    if wait is None:
        raise HintBudgetExhausted(
            f"Today's Hint budget for this practice ({budget:,} calls) is used up.", used=used
        )
    return max(0.0, wait)


def used_today(token: str) -> int:
    """Calls counted today (UTC) for this token, in the shared store (0 when none)."""
    if not token:
        return 0
    key = token_key(token)
    if _store() == "redis":
        day = int(time.time() // 86400)
        return int(_redis().get(f"hintbudget:{key}:{day}") or 0)
    if _store() == "process":
        return 0
    from hintpartner.models import HintBudget

    today = datetime.now(UTC).date()
    row = HintBudget.objects.filter(key=key, day=today).values_list("used", flat=True).first()
    return row or 0


def batch_room(token: str) -> bool:
    """Whether batch work may still spend this token's budget today: more than the reserve
    (`HINT_BATCH_BUDGET_RESERVE`, kept for people's own use of the app) is left. Always True
    without a daily budget, or with the per-process store (which counts nothing)."""
    budget = settings.HINT_DAILY_BUDGET
    if budget <= 0 or _store() == "process":
        return True
    reserve = max(0, getattr(settings, "HINT_BATCH_BUDGET_RESERVE", 0))
    return used_today(token) < budget - reserve


# --- the database store ------------------------------------------------------------------------

_NOW = {
    "postgresql": "extract(epoch from clock_timestamp())::float8",
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",
}
_TODAY = {
    "postgresql": "(clock_timestamp() AT TIME ZONE 'UTC')::date",
    "sqlite": "date('now')",
}
_GREATEST = {"postgresql": "GREATEST", "sqlite": "MAX"}


@cache
def _database_sql(vendor: str) -> str:
    now, today, greatest = _NOW[vendor], _TODAY[vendor], _GREATEST[vendor]
    # The row's day is the day of its count; a new day starts the count again. When the count
    # has reached the budget the update's WHERE fails: no row comes back and nothing is counted.
    return f"""
        INSERT INTO hintpartner_hintbudget AS b (key, next_at, day, used)
        VALUES (%s, {now} + %s, {today}, 1)
        ON CONFLICT (key) DO UPDATE SET
            next_at = {greatest}(b.next_at, {now}) + %s,
            used = CASE WHEN b.day = excluded.day THEN b.used + 1 ELSE 1 END,
            day = excluded.day
        WHERE b.day <> excluded.day OR %s <= 0 OR b.used < %s
        RETURNING next_at - %s - {now}, used
    """  # noqa: S608 - no value is formatted in


def _database_take(key: str, interval: float, budget: int) -> tuple[float | None, int]:
    vendor = connection.vendor if connection.vendor in _NOW else "postgresql"
    with connection.cursor() as cursor:
        cursor.execute(_database_sql(vendor), [key, interval, interval, budget, budget, interval])
        row = cursor.fetchone()
    if row is None:
        return None, budget
    return float(row[0]), int(row[1])


# --- the Redis store ---------------------------------------------------------------------------

_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval, budget = tonumber(ARGV[1]), tonumber(ARGV[2])
local day_key = KEYS[1] .. ':' .. math.floor(now / 86400)
local used = tonumber(redis.call('GET', day_key) or '0')
if budget > 0 and used >= budget then return {false, used} end
used = redis.call('INCR', day_key)
redis.call('EXPIRE', day_key, 172800)
local slot = math.max(tonumber(redis.call('GET', KEYS[1] .. ':next') or '0'), now)
redis.call('SET', KEYS[1] .. ':next', tostring(slot + interval), 'EX', 3600)
return {tostring(slot - now), used}
"""


@cache
def _redis():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL)


@cache
def _redis_script():
    return _redis().register_script(_LUA)


def _redis_take(key: str, interval: float, budget: int) -> tuple[float | None, int]:
    wait, used = _redis_script()(keys=[f"hintbudget:{key}"], args=[interval, budget])
    return (None if wait is None else float(wait)), int(used)


# --- the per-process store ---------------------------------------------------------------------


class _ProcessLimiter:
    """Spaces one token's requests 1/rate apart within this process only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}

    def take(self, key: str, interval: float) -> float:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next.get(key, now))
            self._next[key] = slot + interval
        return slot - now


_process = _ProcessLimiter()
