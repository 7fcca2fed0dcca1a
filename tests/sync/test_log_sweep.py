"""Sync log retention runs by itself: a worker dispatcher that purges at most hourly."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from hintpartner.tasks import Throttle
from sync import options
from sync.models import SyncLog

pytestmark = pytest.mark.django_db


def test_the_sweep_is_one_of_the_worker_dispatchers() -> None:
    assert "sync.options.sync_log_sweep" in settings.WORKER_DISPATCHERS


def test_the_sweep_purges_old_entries_at_most_hourly(practice_a, monkeypatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(
        options, "_sweep_due", Throttle(options.SYNC_LOG_SWEEP_SECONDS, clock=lambda: clock[0])
    )
    old = SyncLog.objects.create(practice=practice_a, level="error", message="old")
    SyncLog.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=400))
    options.sync_log_sweep()
    assert not SyncLog.objects.filter(pk=old.pk).exists()

    again = SyncLog.objects.create(practice=practice_a, level="error", message="old too")
    SyncLog.objects.filter(pk=again.pk).update(created_at=timezone.now() - timedelta(days=400))
    clock[0] = 1000.0 + 60  # a minute later: not yet
    options.sync_log_sweep()
    assert SyncLog.objects.filter(pk=again.pk).exists()
    clock[0] = 1000.0 + 3600  # an hour later
    options.sync_log_sweep()
    assert not SyncLog.objects.filter(pk=again.pk).exists()
