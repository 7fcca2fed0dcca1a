"""One Hint budget shared by every process: the per-second limit and the daily budget."""

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import responses
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from hintpartner.hint import api, budget, errors, policy
from hintpartner.models import HintBudget

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "budget-test-token"

# One process of the pair: waits for the common start, then makes `n` calls through the real
# client (Hint answered by `responses`) and prints when each request left.
SENDER = """
import json, os, sys, time
import django
django.setup()
from django.conf import settings
settings.HINT_BUDGET_STORE = sys.argv[1]
settings.HINT_RATE_LIMIT_PER_SECOND = float(sys.argv[2])
settings.HINT_DAILY_BUDGET = 0
import responses
from hintpartner.hint import api
sent = []
def answer(request):
    sent.append(time.time())
    return (200, {}, "{}")
start, n = float(sys.argv[3]), int(sys.argv[4])
with responses.RequestsMock() as mock:
    url = settings.HINT_API_URL + "/api/provider/patients/pat-1"
    mock.add_callback("GET", url, callback=answer)
    time.sleep(max(0.0, start - time.time()))
    for _ in range(n):
        api.patient_get(token="shared-token", patient_id="pat-1")
print(json.dumps(sent))
"""


def _database_url(tmp: Path, name: str) -> str:
    """The database the senders share: the test database on PostgreSQL, else a SQLite file
    holding the budget table (the test's in-memory database is not shared with processes)."""
    if connection.vendor == "postgresql":
        s = connection.settings_dict
        return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT']}/{s['NAME']}"
    path = tmp / f"{name}.sqlite3"
    with sqlite3.connect(path) as db:
        # WAL from the start, as the app's own database file is after its first connection:
        # two processes switching a new file to WAL at once may find it locked.
        db.execute("PRAGMA journal_mode=WAL")
        with connection.schema_editor(collect_sql=True) as editor:
            editor.create_model(HintBudget)
        for statement in editor.collected_sql:
            db.execute(statement)
    return f"sqlite:///{path}"


def _send_together(store: str, rate: float, n: int, tmp: Path) -> list[float]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "hintpartner.test_settings",
        "DATABASE_URL": _database_url(tmp, store),
    }
    start = time.time() + 4.0  # both processes have imported Django by then
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SENDER, store, str(rate), str(start), str(n)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    sent: list[float] = []
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        sent += json.loads(out.strip().splitlines()[-1])
    return sorted(sent)


def _refused_by_hints_bucket(sent: list[float], rate: float) -> int:
    """How many of these requests Hint's token bucket (burst = rate, as the sandbox) refuses."""
    tokens, last, refused = rate, sent[0], 0
    for t in sent:
        tokens = min(rate, tokens + (t - last) * rate)
        last = t
        if tokens >= 1:
            tokens -= 1
        else:
            refused += 1
    return refused


def _busiest_second(sent: list[float]) -> int:
    return max(sum(1 for u in sent if t <= u < t + 1.0) for t in sent)


@pytest.mark.django_db(transaction=True)
def test_two_processes_sharing_a_token_never_exceed_the_per_second_limit_together() -> None:
    rate, n = 25.0, 30
    with tempfile.TemporaryDirectory() as tmp:
        shared = _send_together("database", rate, n, Path(tmp))
        apart = _send_together("process", rate, n, Path(tmp))
    assert len(shared) == len(apart) == 2 * n
    # Shared: Hint's bucket never refuses one, and together they went at the rate. Slots are
    # 1/rate apart; a process the scheduler wakes late sends next to the following slot, so
    # a sliding second of send times may hold a request or two over the rate, never more.
    assert _refused_by_hints_bucket(shared, rate) == 0
    assert _busiest_second(shared) <= rate + 2
    assert shared[-1] - shared[0] >= (2 * n - 1) / rate * 0.95
    # The old per-process limit: each process alone keeps the rate, together they exceed it.
    assert _refused_by_hints_bucket(apart, rate) > 0
    assert _busiest_second(apart) > rate + 2


@pytest.mark.django_db
@override_settings(HINT_BUDGET_STORE="database", HINT_RATE_LIMIT_PER_SECOND=10.0)
def test_the_database_store_hands_out_slots_a_tenth_of_a_second_apart() -> None:
    waits = [budget.take(TOKEN) for _ in range(4)]
    assert waits[0] == pytest.approx(0.0, abs=0.02)
    assert waits[3] == pytest.approx(0.3, abs=0.05)
    row = HintBudget.objects.get(key=budget.token_key(TOKEN))
    assert row.used == 4 and row.day == timezone.now().date()
    assert TOKEN not in row.key


@pytest.mark.django_db
@override_settings(HINT_BUDGET_STORE="database", HINT_DAILY_BUDGET=3)
def test_the_daily_budget_refuses_without_counting_and_renews_the_next_day() -> None:
    for _ in range(3):
        budget.take(TOKEN)
    with pytest.raises(errors.HintBudgetExhausted) as refused:
        budget.take(TOKEN)
    assert refused.value.transient and "3 calls" in str(refused.value)
    assert budget.used_today(TOKEN) == 3
    HintBudget.objects.update(day=timezone.now().date() - timedelta(days=1))
    assert budget.take(TOKEN) >= 0.0
    assert budget.used_today(TOKEN) == 1


@pytest.mark.django_db
@override_settings(HINT_BUDGET_STORE="database", HINT_DAILY_BUDGET=1)
def test_the_client_sends_nothing_once_the_budget_is_spent(
    mocked_hint: responses.RequestsMock, hint_url: str
) -> None:
    mocked_hint.get(hint_url + "/api/provider/patients/pat-1", json={"id": "pat-1"})
    api.patient_get(token=TOKEN, patient_id="pat-1")
    with pytest.raises(errors.HintBudgetExhausted) as refused:
        api.patient_get(token=TOKEN, patient_id="pat-1")
    assert len(mocked_hint.calls) == 1
    assert "renews at midnight UTC" in policy.error_sentence(refused.value)


@pytest.mark.django_db
@override_settings(HINT_BUDGET_STORE="database", HINT_DAILY_BUDGET=500_000)
def test_the_settings_page_line_shows_todays_use(practice_a: Any) -> None:
    from django.template import Context, Template

    for _ in range(2):
        budget.take(practice_a.token)
    line = Template("{% load hint_budget %}{% hint_budget_line p %}").render(
        Context({"p": practice_a})
    )
    assert line.startswith("2 of 500,000 calls to Hint so far today")
    assert "shared by every process of this app." in line


@pytest.fixture
def redis_url() -> Any:
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        budget._redis.cache_clear()
        budget._redis_script.cache_clear()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        budget._redis.cache_clear()
        budget._redis_script.cache_clear()
        proc.terminate()
        proc.wait(timeout=10)


def test_the_redis_store_keeps_the_same_rules(redis_url: str) -> None:
    with override_settings(
        HINT_BUDGET_STORE="redis",
        REDIS_URL=redis_url,
        HINT_RATE_LIMIT_PER_SECOND=10.0,
        HINT_DAILY_BUDGET=3,
    ):
        waits = [budget.take(TOKEN) for _ in range(3)]
        assert waits[0] == pytest.approx(0.0, abs=0.02)
        assert waits[2] == pytest.approx(0.2, abs=0.05)
        with pytest.raises(errors.HintBudgetExhausted):
            budget.take(TOKEN)
        assert budget.used_today(TOKEN) == 3
