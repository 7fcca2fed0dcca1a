"""Settings → Activity: the audit trail a practice can read, its export, history and retention."""

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.db import connection, transaction
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from handshake import activity, audit
from handshake.audit import Actor, audit_record
from handshake.models import AuditEntry, AuditRefused, Practice
from hintpartner.tasks import Throttle
from interactions import services as notes
from sync.models import Patient
from tests.conftest import open_session
from tests.sync.helpers import make_contact

pytestmark = pytest.mark.django_db

ACTIVITY = reverse("handshake:activity")
EXPORT = reverse("handshake:activity-export")


def record(practice: Practice, n: int = 1, **fields: Any) -> list[AuditEntry]:
    values = {"actor": Actor(label="Dr. Ann"), "action": "contact.viewed"} | fields
    return [audit_record(practice=practice, **values) for _ in range(n)]


def export_rows(client: Client, key: str, **query: str) -> list[list[str]]:
    response = client.get(EXPORT, {"session_key": key, **query})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def patient(practice_a: Practice) -> Patient:
    return Patient.objects.create(
        practice=practice_a, hint_id="pat-A1", first_name="Jordan", last_name="Smith"
    )


# --- who sees what ----------------------------------------------------------------------------


def test_a_practice_sees_only_its_own_entries(
    client: Client, practice_a: Practice, practice_b: Practice
) -> None:
    record(practice_a, actor=Actor(label="Only in A"))
    key_b = open_session(practice_b, ["admin"])
    page = client.get(ACTIVITY, {"session_key": key_b}).content.decode()
    assert "Only in A" not in page
    names = [row[1] for row in export_rows(client, key_b)[1:]]
    assert "Only in A" not in names
    assert not AuditEntry.objects.for_practice(practice_b).filter(actor_label="Only in A")


def test_hint_supports_reads_appear_marked_as_support(
    client: Client, practice_a: Practice, patient: Patient
) -> None:
    support = open_session(practice_a, [], access_context="platform_support")
    client.get(reverse("sync:patient", args=[patient.pk]), {"session_key": support})
    entry = AuditEntry.objects.get(action="patient.viewed")
    assert entry.is_support and entry.user is None
    page = client.get(ACTIVITY, {"session_key": open_session(practice_a, ["admin"])})
    row = next(
        r for r in page.content.decode().split("activity-row")[1:] if "Viewed the patient" in r
    )
    assert "Hint support" in row and "Jordan Smith" in row
    rows = export_rows(client, open_session(practice_a, ["admin"]), action="patient.viewed")
    assert rows[1][2] == "yes"


def test_support_reads_the_activity_page_but_a_clinician_is_refused_and_recorded(
    client: Client, practice_a: Practice
) -> None:
    support = open_session(practice_a, [], access_context="platform_support")
    assert client.get(ACTIVITY, {"session_key": support}).status_code == 200
    clinician = open_session(practice_a, ["clinician"])
    assert client.get(ACTIVITY, {"session_key": clinician}).status_code == 403
    denied = AuditEntry.objects.get(action="access.denied")
    assert denied.actor_label == "Clinician Tester"
    assert denied.detail == f"GET {ACTIVITY} needs view_settings"


def test_the_settings_page_links_the_activity_page_for_admins_only(
    client: Client, practice_a: Practice
) -> None:
    admin_page = client.get(
        reverse("handshake:settings"), {"session_key": open_session(practice_a, ["admin"])}
    )
    assert ACTIVITY in admin_page.content.decode()
    staff = open_session(practice_a, ["staff"])
    assert (
        ACTIVITY
        not in client.get(reverse("handshake:settings"), {"session_key": staff}).content.decode()
    )


# --- filters and pages ------------------------------------------------------------------------


def test_each_filter_narrows_the_entries(practice_a: Practice) -> None:
    record(practice_a, 2, actor=Actor(label="Dr. Ann"), patient="pat-1")
    record(practice_a, 3, actor=Actor(label="Sam"), action="note.signed", patient="pat-2")
    record(practice_a, 1, actor=Actor(label="Sam"), target_type="contact", target_id=7)
    old = record(practice_a, 1, actor=Actor(label="Old"))[0]
    _age(old, days=40)

    def count(**wanted: Any) -> int:
        f = activity.ActivityFilter(**wanted)
        return activity.entries_filter(practice=practice_a, wanted=f).count()

    today = timezone.localdate()
    assert count() == 7
    assert count(person="Sam") == 4
    assert count(action="note.signed") == 3
    assert count(patient="pat-1") == 2
    assert count(target="contact:7") == 1
    assert count(since=today) == 6
    assert count(until=today - timedelta(days=30)) == 1
    assert count(person="Sam", action="note.signed", patient="pat-2", since=today) == 3


def _age(entry: AuditEntry | None, *, days: int) -> None:
    """Entries are never updated by the app: a test moves one back in time with its own SQL."""
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    when = connection.ops.adapt_datetimefield_value(timezone.now() - timedelta(days=days))
    where, params = ("WHERE id = %s", [entry.pk]) if entry else ("", [])
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET created_at = %s {where}", [when, *params])


def test_the_page_reads_filters_from_the_query_and_says_when_a_date_is_malformed(
    client: Client, practice_a: Practice
) -> None:
    record(practice_a, actor=Actor(label="Dr. Ann"))
    record(practice_a, actor=Actor(label="Sam"))
    key = open_session(practice_a, ["admin"])
    page = client.get(ACTIVITY, {"session_key": key, "person": "Sam", "since": "31/01"})
    body = page.content.decode()
    assert page.status_code == 200
    assert "From must be a date" in body
    assert body.count('class="activity-row"') == 1


def test_pages_run_newest_first_without_gaps_or_repeats(
    client: Client, practice_a: Practice
) -> None:
    made = record(practice_a, 2 * activity.PAGE_SIZE + 7)
    seen: list[int] = []
    before = ""
    while True:
        page = activity.entries_page(
            activity.entries_filter(practice=practice_a, wanted=activity.ActivityFilter()),
            before=before,
        )
        seen += [e.pk for e in page.entries]
        if page.older is None:
            break
        before = str(page.older)
    assert seen == sorted((e.pk for e in made), reverse=True)

    key = open_session(practice_a, ["admin"])  # its session.opened entry is now the newest
    first = client.get(ACTIVITY, {"session_key": key}).content.decode()
    assert first.count('class="activity-row"') == activity.PAGE_SIZE
    assert "before=" in first and "Newest" not in first
    second = client.get(ACTIVITY, {"session_key": key, "before": seen[activity.PAGE_SIZE - 2]})
    assert second.content.decode().count('class="activity-row"') == activity.PAGE_SIZE
    assert "Newest" in second.content.decode()


def test_entries_with_the_same_time_are_paged_by_id(practice_a: Practice) -> None:
    made = record(practice_a, activity.PAGE_SIZE + 3)
    _age(None, days=1)  # all at one instant
    entries = activity.entries_filter(practice=practice_a, wanted=activity.ActivityFilter())
    first = activity.entries_page(entries)
    rest = activity.entries_page(entries, before=str(first.older))
    ids = [e.pk for e in first.entries + rest.entries]
    assert ids == sorted((e.pk for e in made), reverse=True) and rest.older is None


# --- export -----------------------------------------------------------------------------------


def test_the_export_matches_the_filter_and_is_recorded(
    client: Client, practice_a: Practice
) -> None:
    record(practice_a, 3, actor=Actor(label="Sam"), action="note.signed")
    record(practice_a, 2, actor=Actor(label="Dr. Ann"), action="note.signed")
    record(practice_a, 4, actor=Actor(label="Sam"), action="contact.viewed")
    key = open_session(practice_a, ["admin"])
    rows = export_rows(client, key, person="Sam", action="note.signed")
    wanted = activity.ActivityFilter(person="Sam", action="note.signed")
    expected = activity.entries_filter(practice=practice_a, wanted=wanted)
    assert rows[0] == activity.CSV_HEADER
    assert [(r[1], r[3]) for r in rows[1:]] == [(e.actor_label, e.action) for e in expected]
    assert len(rows) == 1 + 3
    exported = AuditEntry.objects.get(action="activity.exported")
    assert exported.actor_label == "Admin Tester"
    assert exported.detail == "person=Sam, action=note.signed"


def test_the_export_neutralises_spreadsheet_formulas(client: Client, practice_a: Practice) -> None:
    record(practice_a, actor=Actor(label="=HYPERLINK(1)"), detail="+cmd", target_id="@x")
    rows = export_rows(client, open_session(practice_a, ["admin"]), action="contact.viewed")
    assert rows[1][1] == "'=HYPERLINK(1)"
    assert rows[1][6] == "'@x" and rows[1][8] == "'+cmd"


# --- append-only ------------------------------------------------------------------------------


def test_an_entry_cannot_be_changed_or_deleted(practice_a: Practice) -> None:
    (entry,) = record(practice_a)
    entry.action = "nothing.happened"
    with pytest.raises(AuditRefused):
        entry.save()
    with pytest.raises(AuditRefused):
        entry.delete()
    with pytest.raises(AuditRefused):
        AuditEntry.objects.filter(pk=entry.pk).update(action="x")
    with pytest.raises(AuditRefused):
        AuditEntry.objects.for_practice(practice_a).delete()
    with pytest.raises(AuditRefused), transaction.atomic():
        AuditEntry.objects.bulk_update([entry], ["action"])
    entry.refresh_from_db()
    assert entry.action == "contact.viewed"


def test_django_admin_shows_entries_read_only() -> None:
    model_admin = admin.site._registry[AuditEntry]
    request = RequestFactory().get("/admin/")
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert not model_admin.get_actions(request)


# --- a record's own history -------------------------------------------------------------------


def test_a_patient_page_shows_the_clinicians_and_supports_reads_and_links_the_activity(
    client: Client, practice_a: Practice, patient: Patient
) -> None:
    url = reverse("sync:patient", args=[patient.pk])
    client.get(url, {"session_key": open_session(practice_a, ["clinician"])})
    support = open_session(practice_a, [], access_context="platform_support")
    client.get(url, {"session_key": support})
    page = client.get(url, {"session_key": support}).content.decode()
    history = page[page.index("Recent activity") :]
    assert "Clinician Tester" in history and "Hint support" in history
    assert history.count('class="history-row"') == 3  # the page's own read is the newest
    assert f"{ACTIVITY}?session_key={support}&amp;patient=pat-A1" in history

    activity_page = client.get(ACTIVITY, {"session_key": support, "patient": "pat-A1"})
    body = activity_page.content.decode()
    assert body.count('class="activity-row"') == 3
    assert "Only patient Jordan Smith" in body


def test_a_clinician_sees_no_history_on_a_record_page(
    client: Client, practice_a: Practice, patient: Patient
) -> None:
    key = open_session(practice_a, ["clinician"])
    page = client.get(reverse("sync:patient", args=[patient.pk]), {"session_key": key})
    assert "Recent activity" not in page.content.decode()


def test_contact_and_note_pages_show_their_own_last_entries(
    client: Client, practice_a: Practice, patient: Patient
) -> None:
    key = open_session(practice_a, ["admin"])
    contact = make_contact(practice_a, hint_patient_id=patient.hint_id)
    other = make_contact(practice_a)
    record(practice_a, 7, target_type="contact", target_id=contact.pk)
    record(practice_a, 1, actor=Actor(label="Elsewhere"), target_type="contact", target_id=other.pk)
    page = client.get(reverse("sync:contact-detail", args=[contact.pk]), {"session_key": key})
    history = page.content.decode()[page.content.decode().index("Recent activity") :]
    assert history.count('class="history-row"') == activity.HISTORY_SIZE
    assert "Elsewhere" not in history
    assert f"target=contact%3A{contact.pk}" in history

    note = notes.note_create(
        practice=practice_a, patient_hint_id=patient.hint_id, actor=Actor(label="Dr. A"), body="x"
    )
    page = client.get(reverse("interactions:note", args=[note.pk]), {"session_key": key})
    history = page.content.decode()[page.content.decode().index("Recent activity") :]
    assert "Started the note" in history and f"target=note%3A{note.pk}" in history
    # The note's entries carry its patient: the patient's history lists them too.
    assert AuditEntry.objects.filter(patient_hint_id="pat-A1", target_type="note").count() == 2


# --- retention --------------------------------------------------------------------------------


def test_the_prune_deletes_only_entries_past_retention(practice_a: Practice, settings: Any) -> None:
    settings.AUDIT_RETENTION_DAYS = 30
    old, kept = record(practice_a, 2)
    _age(old, days=31)
    _age(kept, days=29)
    assert audit.audit_prune() == 1
    assert list(AuditEntry.objects.values_list("pk", flat=True)) == [kept.pk]


def test_the_worker_sweeps_retention_at_most_once_an_hour(
    practice_a: Practice, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hintpartner.management.commands.worker import dispatch_once

    assert "handshake.audit.audit_prune_sweep" in settings.WORKER_DISPATCHERS
    assert settings.AUDIT_RETENTION_DAYS >= 6 * 365
    settings.WORKER_DISPATCHERS = ["handshake.audit.audit_prune_sweep"]
    calls: list[int] = []
    monkeypatch.setattr(audit, "audit_prune", lambda: calls.append(1) or 0)
    clock = [1000.0]
    monkeypatch.setattr(
        audit, "_prune_due", Throttle(audit.PRUNE_EVERY_SECONDS, clock=lambda: clock[0])
    )
    dispatch_once()
    dispatch_once()
    assert calls == [1]
    clock[0] += audit.PRUNE_EVERY_SECONDS
    dispatch_once()
    assert calls == [1, 1]
