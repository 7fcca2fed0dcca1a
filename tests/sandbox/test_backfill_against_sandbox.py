"""The app's backfill against a live strict sandbox that caps pages at 50 (Hint's cap may be
below the 100 we ask for) and, when switched, ignores the `updated_at` filter."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import TestCase, override_settings

from handshake.audit import Actor
from handshake.models import Practice
from sync import backfill
from sync.models import BackfillRun, Patient
from tests.e2e.live import PRACTICE_A, LiveStack, Processes, fresh_secrets, sandbox_start

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

SEEDED = 130


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory, receiver: Any) -> Iterator[LiveStack]:
    """A second sandbox: 130 patients a practice, at most 50 rows a page."""
    procs = Processes(tmp_path_factory.mktemp("capped"))
    shared = fresh_secrets()
    try:
        url = sandbox_start(
            procs,
            shared,
            app_url=receiver.url,
            patients=SEEDED,
            extra_env={"SANDBOX_PAGE_CAP": "50"},
        )
        yield LiveStack(app_url=receiver.url, sandbox_url=url, secrets=shared, processes=procs)
    finally:
        procs.stop()


@pytest.fixture
def practice(capped: LiveStack) -> Iterator[Practice]:
    token = capped.install(PRACTICE_A)
    with override_settings(HINT_API_URL=capped.sandbox_url, HINT_BUDGET_STORE="process"):
        yield Practice.objects.create(
            hint_id=PRACTICE_A,
            name="Maple",
            installation_status=Practice.InstallationStatus.ACTIVE,
            installation_id="inst-live",
            token=token,
        )


def _run(practice: Practice) -> BackfillRun:
    with TestCase.captureOnCommitCallbacks(execute=True):
        run = backfill.backfill_start(practice=practice, actor=Actor(label="test"))
    run.refresh_from_db()
    return run


def test_the_sandbox_answers_at_most_its_page_cap(capped: LiveStack):
    response = capped.provider(PRACTICE_A).get(
        capped.sandbox_url + "/api/provider/patients", params={"limit": 100}
    )
    assert len(response.json()) == 50
    assert response.headers["X-Total-Count"] == str(SEEDED)


def test_a_backfill_against_a_50_per_page_hint_pulls_every_patient(practice: Practice):
    run = _run(practice)
    assert (run.status, run.is_full, run.fetched) == ("done", True, SEEDED), run.error
    assert Patient.objects.for_practice(practice).count() == SEEDED


def test_an_ignored_updated_at_filter_is_detected_and_the_pull_still_completes(
    capped: LiveStack, practice: Practice, caplog: Any
):
    cache.clear()  # the "said once per practice" mark of an earlier test
    assert _run(practice).status == "done"
    honoured = _run(practice)  # the sandbox honours the filter: nothing changed since
    assert (honoured.status, honoured.is_full, honoured.fetched) == ("done", False, 0)
    capped.control("faults", {"ignore_time_filters": True}).raise_for_status()
    try:
        with caplog.at_level("WARNING", logger="sync.backfill"):
            ignored = _run(practice)
    finally:
        capped.control("faults", {"ignore_time_filters": False}).raise_for_status()
    assert (ignored.status, ignored.is_full, ignored.fetched) == ("done", True, SEEDED)
    assert any("ignored the updated_at filter" in r.getMessage() for r in caplog.records)
