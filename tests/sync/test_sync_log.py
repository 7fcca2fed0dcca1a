"""Sync log (levels, filters, detail, retention purge) and the options page."""

from datetime import timedelta

from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from sync.models import SyncLog, SyncOptions
from sync.options import options_for


def _log(practice, level, message, days_ago=0):
    entry = SyncLog.objects.create(practice=practice, level=level, message=message)
    if days_ago:
        SyncLog.objects.filter(pk=entry.pk).update(
            created_at=timezone.now() - timedelta(days=days_ago)
        )
    return entry


def test_the_log_lists_entries_filtered_by_level(client, practice_a, practice_b, admin_key):
    _log(practice_a, "debug", "a debug line")
    _log(practice_a, "exception", "an exception line")
    _log(practice_b, "error", "another practice's line")
    url = reverse("sync:log")
    page = client.get(url, {"session_key": admin_key}).content.decode()
    assert "a debug line" in page and "an exception line" in page
    assert "another practice" not in page
    only = client.get(url, {"session_key": admin_key, "level": "exception"}).content.decode()
    assert "an exception line" in only and "a debug line" not in only


def test_a_log_entry_shows_its_detail(client, practice_a, admin_key):
    entry = SyncLog.objects.create(
        practice=practice_a, level="error", message="Push failed", detail="Hint refused: x"
    )
    page = client.get(reverse("sync:log-detail", args=[entry.pk]), {"session_key": admin_key})
    assert "Hint refused: x" in page.content.decode()


def test_options_are_saved_per_practice(client, practice_a, practice_b, admin_key):
    response = client.post(
        reverse("sync:options"),
        {
            "session_key": admin_key,
            "create_contacts_for_new_patients": "on",
            "log_level": "debug",
            "log_retention_days": "30",
        },
    )
    assert response.status_code == 303
    assert "Saved." in client.get(response["Location"]).content.decode()
    options = options_for(practice_a)
    assert options.create_contacts_for_new_patients is True
    assert options.create_contacts_when_batch_unmatched is False
    assert options.log_level == "debug" and options.log_retention_days == 30
    assert options_for(practice_b).create_contacts_for_new_patients is False


def test_bad_options_are_a_400_and_nothing_changes(client, practice_a, admin_key):
    response = client.post(
        reverse("sync:options"),
        {"session_key": admin_key, "log_level": "loud", "log_retention_days": "0"},
    )
    assert response.status_code == 400
    assert options_for(practice_a).log_level == SyncOptions.LogLevel.ERROR


def test_the_purge_command_keeps_each_practices_retention(practice_a, practice_b):
    options = options_for(practice_a)
    options.log_retention_days = 10
    options.save()
    _log(practice_a, "error", "old A", days_ago=11)
    _log(practice_a, "error", "new A", days_ago=9)
    _log(practice_b, "error", "old B but within the default", days_ago=11)
    _log(practice_b, "error", "very old B", days_ago=100)
    call_command("purge_sync_log")
    assert sorted(SyncLog.objects.values_list("message", flat=True)) == [
        "new A",
        "old B but within the default",
    ]


def test_the_settings_panel_links_batches_log_and_options(client, practice_a, admin_key):
    body = client.get(reverse("sync:settings-panel"), {"session_key": admin_key}).content.decode()
    assert "Batch sync" in body and "Sync log" in body and "Sync options" in body


def test_the_settings_panel_is_empty_for_someone_who_cannot_administer(
    client, practice_a, staff_key
):
    response = client.get(reverse("sync:settings-panel"), {"session_key": staff_key})
    assert response.status_code == 200
    assert "Batch sync" not in response.content.decode()
