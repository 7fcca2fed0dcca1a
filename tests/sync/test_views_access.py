"""Every sync view: wrong method, no session (401), wrong permission (403), another practice's
object (404). Happy paths are in the per-subject test modules."""

import pytest
from django.urls import reverse

from sync.models import Batch, SyncLog
from tests.conftest import open_session
from tests.sync.helpers import make_contact

# name, object kind ("contact", "batch", "log" or None), allowed methods, permission needed
VIEWS = [
    ("sync:contacts", None, {"GET"}, "view_records"),
    ("sync:contacts-panel", None, {"GET"}, "view_records"),
    ("sync:contact-create", None, {"GET", "POST"}, "edit_records"),
    ("sync:contact-detail", "contact", {"GET"}, "view_records"),
    ("sync:contact-edit", "contact", {"GET", "POST"}, "edit_records"),
    ("sync:contact-sync", "contact", {"GET"}, "edit_records"),
    ("sync:contact-sync-search", "contact", {"GET"}, "edit_records"),
    ("sync:contact-link", "contact", {"GET", "POST"}, "edit_records"),
    ("sync:contact-create-patient", "contact", {"GET", "POST"}, "edit_records"),
    ("sync:contact-unlink", "contact", {"GET", "POST"}, "unlink_contacts"),
    ("sync:batches", None, {"GET"}, "view_settings"),
    ("sync:batch-start-patients", None, {"POST"}, "administer"),
    ("sync:batch-start-csv", None, {"POST"}, "administer"),
    ("sync:batch-detail", "batch", {"GET"}, "view_settings"),
    ("sync:batch-progress", "batch", {"GET"}, "view_settings"),
    ("sync:batch-abort", "batch", {"POST"}, "administer"),
    ("sync:batch-resume", "batch", {"POST"}, "administer"),
    ("sync:batch-rows-csv", "batch", {"GET"}, "view_settings"),
    ("sync:batch-plan-patients", None, {"POST"}, "administer"),
    ("sync:batch-plan-csv", None, {"POST"}, "administer"),
    ("sync:batch-apply", "batch", {"POST"}, "administer"),
    ("sync:log", None, {"GET"}, "view_settings"),
    ("sync:log-detail", "log", {"GET"}, "view_settings"),
    ("sync:options", None, {"GET", "POST"}, "administer"),
    ("sync:settings-panel", None, {"GET"}, "view_records"),
]
IDS = [v[0] for v in VIEWS]


def _object(kind, practice):
    if kind == "contact":
        return make_contact(practice, hint_patient_id="pat-1").pk
    if kind == "batch":
        return Batch.objects.create(practice=practice, sync_id=f"BS-{practice.pk}", kind="x").pk
    if kind == "log":
        return SyncLog.objects.create(practice=practice, level="error", message="m").pk
    return None


def _url(name, kind, practice):
    pk = _object(kind, practice)
    return reverse(name, args=[pk] if pk is not None else [])


def _call(client, method, url, key):
    data = {"session_key": key} if key else {}
    if method == "GET":
        return client.get(url, data)
    if method == "POST":
        return client.post(url, data)
    return client.generic(method, url + (f"?session_key={key}" if key else ""))


@pytest.mark.parametrize(("name", "kind", "methods", "perm"), VIEWS, ids=IDS)
def test_a_wrong_method_is_refused(client, practice_a, admin_key, name, kind, methods, perm):
    wrong = "DELETE" if "POST" in methods else "POST"
    response = _call(client, wrong, _url(name, kind, practice_a), admin_key)
    assert response.status_code == 405


@pytest.mark.parametrize(("name", "kind", "methods", "perm"), VIEWS, ids=IDS)
def test_no_session_answers_401(client, practice_a, name, kind, methods, perm):
    method = "GET" if "GET" in methods else "POST"
    response = _call(client, method, _url(name, kind, practice_a), "")
    assert response.status_code == 401


@pytest.mark.parametrize(("name", "kind", "methods", "perm"), VIEWS, ids=IDS)
def test_a_missing_permission_answers_403(client, practice_a, name, kind, methods, perm):
    roles = {"view_records": [], "edit_records": [], "unlink_contacts": ["staff"]}
    key = open_session(practice_a, roles.get(perm, ["clinician"]))
    method = "GET" if "GET" in methods else "POST"
    response = _call(client, method, _url(name, kind, practice_a), key)
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("name", "kind", "methods", "perm"),
    [v for v in VIEWS if v[1]],
    ids=[v[0] for v in VIEWS if v[1]],
)
def test_another_practices_object_answers_404(
    client, practice_a, practice_b, admin_key, mocked_hint, name, kind, methods, perm
):
    method = "GET" if "GET" in methods else "POST"
    response = _call(client, method, _url(name, kind, practice_b), admin_key)
    assert response.status_code == 404
    assert len(mocked_hint.calls) == 0
