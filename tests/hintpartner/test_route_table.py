"""The route table: every route declares how it is reached, and every iframe route answers each
kind of session as DESIGN.md's role table says, changing nothing when it refuses but the audit
trail: a refusal (403) adds one "access.denied" entry, a record's page one read, and no route
changes an entry that was there.

A new route fails here until it is declared: its view needs `@hint_session(permission=...)` (an
iframe view) or `@route_access("public" | "signed")` (hintpartner.routes), and an iframe route
needs a row in ROUTES below. `test_a_route_without_a_declaration_is_caught` proves the checker
catches one.
"""

from collections.abc import Iterator
from typing import Any

import pytest
import responses as responses_lib
from django.apps import apps
from django.http import HttpResponse
from django.test import Client
from django.urls import get_resolver, path, reverse

from handshake.audit import Actor
from handshake.models import AuditEntry, Practice
from hintpartner.routes import Route, routes_undeclared, routes_walk
from interactions import services as notes
from sync.models import Batch, Patient, SyncLog
from tests.conftest import open_session
from tests.sync.helpers import make_contact
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db

ROLES = ["admin", "clinician", "staff", "no role", "support", "outsider"]
ANY_ROLE = {"admin", "clinician", "staff", "support"}
# DESIGN.md "Roles", written out: who holds each permission ("outsider" is practice B's admin).
GRANTED = {
    None: ANY_ROLE,  # @hint_session() without a permission: any role at all
    "view_records": ANY_ROLE,
    "edit_records": {"admin", "clinician", "staff"},
    "unlink_contacts": {"admin", "clinician"},
    "write_notes": {"admin", "clinician", "staff"},
    "sign_notes": {"clinician"},
    "view_settings": {"admin", "support"},
    "administer": {"admin"},
}

# Every iframe route: name, the practice-A object its URL names, and per method the permission
# it needs and what a permitted session gets (with only the session key in the request).
ROUTES: list[tuple[str, str | None, dict[str, tuple[str | None, int]]]] = [
    ("handshake:core_page", None, {"GET": (None, 200)}),
    ("handshake:settings", None, {"GET": (None, 200)}),
    ("handshake:clinical_chart", None, {"GET": (None, 200)}),
    ("handshake:clinical_interaction", None, {"GET": (None, 200)}),
    ("handshake:settings-connect", None, {"POST": ("administer", 400)}),
    ("handshake:settings-activate", None, {"POST": ("administer", 503)}),
    ("handshake:settings-disconnect", None, {"POST": ("administer", 503)}),
    ("handshake:activity", None, {"GET": ("view_settings", 200)}),
    ("handshake:activity-export", None, {"GET": ("view_settings", 200)}),
    ("webhooks:panel", None, {"GET": ("view_settings", 200)}),
    ("webhooks:hint", None, {"GET": ("view_settings", 200)}),
    ("webhooks:register", None, {"POST": ("administer", 503)}),
    ("webhooks:events", None, {"GET": ("view_settings", 200)}),
    ("webhooks:replay-failed", None, {"POST": ("administer", 303)}),
    ("webhooks:event", "event", {"GET": ("view_settings", 200)}),
    ("webhooks:event-replay", "event", {"POST": ("administer", 303)}),
    ("sync:contacts", None, {"GET": ("view_records", 200)}),
    ("sync:contacts-panel", None, {"GET": ("view_records", 200)}),
    ("sync:contact-create", None, {"GET": ("edit_records", 200), "POST": ("edit_records", 400)}),
    ("sync:contact-detail", "contact", {"GET": ("view_records", 200)}),
    ("sync:contact-edit", "contact", {"GET": ("edit_records", 200), "POST": ("edit_records", 400)}),
    ("sync:contact-status", "contact", {"GET": ("view_records", 200)}),
    ("sync:contact-write-retry", "contact", {"POST": ("edit_records", 303)}),
    ("sync:contact-sync", "contact", {"GET": ("edit_records", 200)}),
    ("sync:contact-sync-search", "contact", {"GET": ("edit_records", 200)}),
    # GET shows what will change (a link without a chosen patient: 400); POST does it.
    ("sync:contact-link", "contact", {"GET": ("edit_records", 400), "POST": ("edit_records", 400)}),
    (
        "sync:contact-create-patient",
        "contact",
        {"GET": ("edit_records", 200), "POST": ("edit_records", 400)},
    ),
    (
        "sync:contact-unlink",
        "contact",
        {"GET": ("unlink_contacts", 200), "POST": ("unlink_contacts", 303)},
    ),
    ("sync:contacts-export", None, {"GET": ("administer", 200)}),
    # POST: the contact is linked and Hint does not answer, so nothing is deleted (503).
    ("sync:contact-delete", "contact", {"GET": ("administer", 200), "POST": ("administer", 503)}),
    ("sync:batches", None, {"GET": ("view_settings", 200)}),
    ("sync:batch-start-patients", None, {"POST": ("administer", 409)}),
    ("sync:batch-start-csv", None, {"POST": ("administer", 400)}),
    ("sync:batch-detail", "batch", {"GET": ("view_settings", 200)}),
    ("sync:batch-progress", "batch", {"GET": ("view_settings", 200)}),
    ("sync:batch-abort", "batch", {"POST": ("administer", 303)}),
    ("sync:batch-resume", "batch", {"POST": ("administer", 409)}),
    ("sync:batch-rows-csv", "batch", {"GET": ("view_settings", 200)}),
    ("sync:batch-plan-patients", None, {"POST": ("administer", 409)}),
    ("sync:batch-plan-csv", None, {"POST": ("administer", 400)}),
    ("sync:batch-apply", "batch", {"POST": ("administer", 409)}),
    ("sync:log", None, {"GET": ("view_settings", 200)}),
    ("sync:log-detail", "log", {"GET": ("view_settings", 200)}),
    ("sync:log-retry", "log", {"POST": ("edit_records", 303)}),
    ("sync:options", None, {"GET": ("view_settings", 200), "POST": ("administer", 400)}),
    ("sync:settings-panel", None, {"GET": ("view_records", 200)}),
    ("sync:patients", None, {"GET": ("view_records", 200)}),
    ("sync:patients-panel", None, {"GET": ("view_records", 200)}),
    ("sync:patient", "patient", {"GET": ("view_records", 200)}),
    ("sync:backfill-panel", None, {"GET": ("view_settings", 200)}),
    ("sync:backfill-start", None, {"POST": ("administer", 303)}),
    ("interactions:note-new", None, {"POST": ("write_notes", 303)}),
    ("interactions:my-drafts", None, {"GET": ("view_records", 200)}),
    ("interactions:patient-notes", "patient_id", {"GET": ("view_records", 200)}),
    ("interactions:note", "note", {"GET": ("view_records", 200)}),
    ("interactions:note-save", "note", {"POST": ("write_notes", 400)}),
    ("interactions:note-sync", "note", {"POST": ("write_notes", 303)}),
    ("interactions:note-retry", "note", {"POST": ("write_notes", 303)}),
    ("interactions:note-status", "note", {"GET": ("view_records", 200)}),
    ("interactions:note-sign-review", "note", {"POST": ("sign_notes", 400)}),
    ("interactions:note-sign", "note", {"GET": ("sign_notes", 200), "POST": ("sign_notes", 400)}),
    ("interactions:note-addend", "note", {"POST": ("sign_notes", 400)}),
    ("interactions:note-discard", "note", {"POST": ("write_notes", 303)}),
    ("interactions:chart-panel", None, {"GET": ("view_records", 200)}),
    ("interactions:interaction-panel", None, {"GET": ("view_records", 200)}),
    ("interactions:my-drafts-panel", None, {"GET": ("view_records", 200)}),
]
# Practice B's admin on a route naming no object acts on practice B, whose state differs: B has
# no running batch, and B's session is in no patient's chart.
OUTSIDER = {
    ("sync:batch-start-patients", "POST"): 303,
    ("sync:batch-plan-patients", "POST"): 303,
    ("interactions:note-new", "POST"): 400,
}
# Statuses with only the session key in the request: 400 is the form's own refusal, 409 the
# running batch's, 503 Hint unreachable (nothing is registered with `responses`).

# The routes outside the iframe and how each is reached.
OTHER_ROUTES = {
    "healthz": "public",
    "readyz": "public",
    "admin": "django_admin",
    "handshake:handshake": "signed",
    "handshake:connect": "public",
    "webhooks:receive": "signed",
    "iframe-not-found": "public",  # any other route under hint/: our 404 page
}
CASES = [
    pytest.param(
        name,
        kind,
        method,
        needed,
        OUTSIDER.get((name, method), ok) if role == "outsider" else ok,
        role,
        id=f"{name}-{method}-{role}",
    )
    for name, kind, methods in ROUTES
    for method, (needed, ok) in methods.items()
    for role in ROLES
]


def all_routes() -> list[Route]:
    return routes_walk(get_resolver().url_patterns)


# --- declarations -----------------------------------------------------------------------------


def test_every_route_declares_how_it_is_reached() -> None:
    assert [route.path for route in routes_undeclared(all_routes())] == []


def test_a_route_without_a_declaration_is_caught() -> None:
    def forgotten(request: Any) -> HttpResponse:
        return HttpResponse("no declaration")

    patterns = [*get_resolver().url_patterns, path("hint/forgotten", forgotten, name="x")]
    assert [route.path for route in routes_undeclared(routes_walk(patterns))] == ["hint/forgotten"]


def test_the_table_names_every_route_with_the_permission_its_view_declares() -> None:
    declared = {route.name: route for route in all_routes()}
    expected = {name: "session" for name, _kind, _methods in ROUTES} | OTHER_ROUTES
    assert {name: route.access for name, route in declared.items()} == expected
    for name, _kind, methods in ROUTES:
        permission = declared[name].permission
        if isinstance(permission, dict):
            assert {m: permission[m] for m in methods} == {m: p for m, (p, _) in methods.items()}
        else:
            assert {p for p, _ok in methods.values()} == {permission}, name


# --- each iframe route x each kind of session ----------------------------------------------------


@pytest.fixture
def objects(practice_a: Practice) -> dict[str, Any]:
    """One object of each kind a URL can name, all of practice A."""
    patient = Patient.objects.create(practice=practice_a, hint_id="pat-A1", first_name="Ann")
    note = notes.note_create(
        practice=practice_a,
        patient_hint_id=patient.hint_id,
        actor=Actor(label="Dr. A"),
        body="Words.",
    )
    return {
        "contact": make_contact(practice_a, hint_patient_id=patient.hint_id).pk,
        "batch": Batch.objects.create(practice=practice_a, sync_id="BS-A", kind="patients").pk,
        "log": SyncLog.objects.create(practice=practice_a, level="error", message="m").pk,
        "patient": patient.pk,
        "patient_id": patient.hint_id,
        "note": note.pk,
        "event": WebhookEvent.objects.create(
            practice=practice_a, event_id="evt-A", type="patient.updated", status="failed"
        ).pk,
    }


@pytest.fixture
def keys(practice_a: Practice, practice_b: Practice) -> dict[str, str]:
    """A session key per kind of session; the practice-A ones sit in patient pat-A1's chart."""
    chart = {"patient_id": "pat-A1"}
    return {
        "admin": open_session(practice_a, ["admin"], **chart),
        "clinician": open_session(practice_a, ["clinician"], **chart),
        "staff": open_session(practice_a, ["staff"], **chart),
        "no role": open_session(practice_a, [], **chart),
        "support": open_session(practice_a, [], access_context="platform_support", **chart),
        "outsider": open_session(practice_b, ["admin"]),
    }


def url_of(name: str, kind: str | None, objects: dict[str, Any]) -> str:
    return reverse(name, args=[objects[kind]] if kind else [])


def expected_status(role: str, kind: str | None, needed: str | None, ok: int) -> int:
    if role == "outsider":
        if "admin" not in GRANTED[needed]:
            return 403
        return 404 if kind else ok  # practice A's object does not exist for practice B
    return ok if role in GRANTED[needed] else 403


# Touched on every request by design: not a change to the practice's data.
VOLATILE = {("handshake", "hintsession"): {"last_seen_at"}}
# Appended to by reads and refusals; checked on its own (`entries`).
AUDIT = AuditEntry._meta.label
# The record pages, and the read each records: (action, target type, the `objects` key whose
# value the entry names).
READS = {
    "sync:contact-detail": ("contact.viewed", "contact", "contact"),
    "sync:patient": ("patient.viewed", "patient", "patient_id"),
    "interactions:note": ("note.viewed", "note", "note"),
}


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every model, field by field: a denied request must leave this as it was."""
    rows = {}
    for model in apps.get_models():
        skip = VOLATILE.get((model._meta.app_label, model._meta.model_name), set())
        fields = [f.attname for f in model._meta.concrete_fields if f.attname not in skip]
        rows[model._meta.label] = list(model.objects.order_by("pk").values(*fields))
    return rows


def entries() -> dict[int, dict[str, Any]]:
    return {row["id"]: row for row in AuditEntry.objects.values()}


def added_since(before: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries added since `before`, after checking that none of those was changed."""
    now = entries()
    assert {pk: now.get(pk) for pk in before} == before, "an audit entry changed"
    return [row for pk, row in sorted(now.items()) if pk not in before]


@pytest.fixture
def no_hint() -> Iterator[responses_lib.RequestsMock]:
    """Nothing registered: any call to Hint fails the request and is recorded."""
    with responses_lib.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.mark.parametrize(("name", "kind", "method", "needed", "ok", "role"), CASES)
def test_each_route_answers_each_session_as_the_role_table_says(
    client: Client,
    objects: dict[str, Any],
    keys: dict[str, str],
    no_hint: responses_lib.RequestsMock,
    name: str,
    kind: str | None,
    method: str,
    needed: str | None,
    ok: int,
    role: str,
) -> None:
    url = url_of(name, kind, objects)
    expected = expected_status(role, kind, needed, ok)
    before, trail = snapshot(), entries()
    data = {"session_key": keys[role]}
    response = client.get(url, data) if method == "GET" else client.post(url, data)
    assert response.status_code == expected
    added = added_since(trail)
    if expected in (403, 404):
        assert {**snapshot(), AUDIT: None} == {**before, AUDIT: None}
        assert len(no_hint.calls) == 0
    if expected == 403:
        assert [(e["action"], e["is_support"]) for e in added] == [
            ("access.denied", role == "support")
        ]
        assert f"needs {needed or 'a role'}" in added[0]["detail"]
    elif expected == 404:
        assert added == []
    elif name in READS and method == "GET":
        action, target_type, key = READS[name]
        assert [(e["action"], e["target_type"], e["target_id"]) for e in added] == [
            (action, target_type, str(objects[key]))
        ]
        assert added[0]["is_support"] == (role == "support")


@pytest.mark.parametrize(("name", "kind", "methods"), ROUTES, ids=[r[0] for r in ROUTES])
def test_each_route_without_a_session_answers_401_and_changes_nothing(
    client: Client,
    objects: dict[str, Any],
    no_hint: responses_lib.RequestsMock,
    name: str,
    kind: str | None,
    methods: dict[str, Any],
) -> None:
    url = url_of(name, kind, objects)
    before = snapshot()
    for method in methods:
        response = client.get(url) if method == "GET" else client.post(url)
        assert response.status_code == 401
    assert snapshot() == before
    assert len(no_hint.calls) == 0


@pytest.mark.parametrize(("name", "kind", "methods"), ROUTES, ids=[r[0] for r in ROUTES])
def test_each_route_refuses_a_method_it_does_not_take(
    client: Client,
    objects: dict[str, Any],
    keys: dict[str, str],
    no_hint: responses_lib.RequestsMock,
    name: str,
    kind: str | None,
    methods: dict[str, Any],
) -> None:
    url = url_of(name, kind, objects) + "?session_key=" + keys["admin"]
    wrong = next(m for m in ("POST", "GET", "DELETE") if m not in methods)
    before = snapshot()
    assert client.generic(wrong, url).status_code == 405
    assert snapshot() == before
