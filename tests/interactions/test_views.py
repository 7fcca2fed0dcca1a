"""Every notes view: happy path, wrong method, no session, wrong permission, other practice."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from handshake.models import AuditEntry, Practice, PracticeUser
from interactions import push, services
from interactions.models import Note
from tests.conftest import open_session
from tests.interactions.conftest import (
    DR,
    PATIENT,
    calls_to,
    create_url,
    interaction_answer,
    make_note,
    make_patient,
    sent_json,
    update_url,
)

pytestmark = pytest.mark.django_db

CLINICIAN_TOKEN = "Bearer session-token-user-pra-aaaa-clinician"

# name, method, takes a note id, the permission it needs
VIEWS = [
    ("interactions:note", "get", True, "view_records"),
    ("interactions:note-new", "post", False, "write_notes"),
    ("interactions:note-save", "post", True, "write_notes"),
    ("interactions:note-sync", "post", True, "write_notes"),
    ("interactions:note-retry", "post", True, "write_notes"),
    ("interactions:note-status", "get", True, "view_records"),
    ("interactions:note-sign-review", "post", True, "sign_notes"),
    ("interactions:note-sign", "post", True, "sign_notes"),
    ("interactions:note-addend", "post", True, "sign_notes"),
    ("interactions:note-discard", "post", True, "write_notes"),
    ("interactions:my-drafts", "get", False, "view_records"),
    ("interactions:chart-panel", "get", False, "view_records"),
    ("interactions:interaction-panel", "get", False, "view_records"),
    ("interactions:my-drafts-panel", "get", False, "view_records"),
]
NOTE_VIEWS = [v for v in VIEWS if v[2]]


def url_of(name: str, note: Note | None) -> str:
    return reverse(name, kwargs={"note_id": note.pk}) if note is not None else reverse(name)


def key_without(practice: Practice, permission: str) -> str:
    """A session in `practice` that lacks `permission` (and only that kind of gap)."""
    if permission == "sign_notes":
        return open_session(practice, ["staff"])
    if permission == "write_notes":
        return open_session(practice, ["admin"], access_context="platform_support")
    return open_session(practice, [])


def call(client: Client, method: str, url: str, key: str | None, **data: Any) -> Any:
    if key is not None:
        data["session_key"] = key
    return getattr(client, method)(url, data)


@pytest.fixture
def note(practice_a: Practice) -> Note:
    return make_note(practice_a, title="Follow-up visit", body="Feeling better.")


# --- the same five checks for every view ------------------------------------------------------


@pytest.mark.parametrize(("name", "method", "with_note", "permission"), VIEWS)
def test_every_view_refuses_the_wrong_method(
    client: Client,
    note: Note,
    clinician_key: str,
    name: str,
    method: str,
    with_note: bool,
    permission: str,
) -> None:
    wrong = "put" if name == "interactions:note-sign" else ("post" if method == "get" else "get")
    response = getattr(client, wrong)(
        url_of(name, note if with_note else None) + f"?session_key={clinician_key}"
    )
    assert response.status_code == 405


@pytest.mark.parametrize(("name", "method", "with_note", "permission"), VIEWS)
def test_every_view_answers_401_without_a_session(
    client: Client, note: Note, name: str, method: str, with_note: bool, permission: str
) -> None:
    response = call(client, method, url_of(name, note if with_note else None), None)
    assert response.status_code == 401
    assert Note.objects.get(pk=note.pk).version == 1


@pytest.mark.parametrize(("name", "method", "with_note", "permission"), VIEWS)
def test_every_view_answers_403_without_its_permission(
    client: Client,
    note: Note,
    practice_a: Practice,
    name: str,
    method: str,
    with_note: bool,
    permission: str,
) -> None:
    key = key_without(practice_a, permission)
    response = call(
        client, method, url_of(name, note if with_note else None), key, patient_id=PATIENT
    )
    assert response.status_code == 403
    assert Note.objects.count() == 1
    assert Note.objects.get(pk=note.pk).status == Note.Status.DRAFT


@pytest.mark.parametrize(("name", "method", "with_note", "permission"), NOTE_VIEWS)
def test_another_practices_note_does_not_exist(
    client: Client,
    note: Note,
    practice_b: Practice,
    mocked_hint,
    name: str,
    method: str,
    with_note: bool,
    permission: str,
) -> None:
    key = open_session(practice_b, ["clinician"])
    data = {"title": "hijack", "body": "hijack", "base_version": "1", "version": "1"}
    response = call(client, method, url_of(name, note), key, **data)
    assert response.status_code == 404
    stored = Note.objects.get(pk=note.pk)
    assert (stored.title, stored.status, stored.version) == ("Follow-up visit", "draft", 1)
    assert len(mocked_hint.calls) == 0


def test_another_practices_patient_list_shows_none_of_our_notes(
    client: Client, note: Note, practice_b: Practice
) -> None:
    key = open_session(practice_b, ["clinician"], patient_id=PATIENT)
    for url in (
        reverse("interactions:patient-notes", kwargs={"patient_id": PATIENT}),
        reverse("interactions:chart-panel"),
    ):
        response = client.get(url, {"session_key": key})
        assert response.status_code == 200
        assert "Follow-up visit" not in response.content.decode()


# --- happy paths ------------------------------------------------------------------------------


def test_a_clinician_opens_the_editor_and_the_view_is_audited(
    client: Client, note: Note, clinician_key: str
) -> None:
    response = client.get(url_of("interactions:note", note), {"session_key": clinician_key})

    text = response.content.decode()
    assert response.status_code == 200
    assert 'id="note-form"' in text and "Feeling better." in text
    assert "Sign…" in text
    assert AuditEntry.objects.filter(action="note.viewed", target_id=str(note.pk)).exists()


def test_staff_can_write_but_are_told_why_they_cannot_sign(
    client: Client, note: Note, staff_key: str
) -> None:
    response = client.get(url_of("interactions:note", note), {"session_key": staff_key})

    text = response.content.decode()
    assert 'id="note-form"' in text
    assert "Sign…" not in text
    assert "clinician role can sign" in text


def test_staff_cannot_sign_and_are_told_which_role_to_ask_for(
    client: Client, note: Note, staff_key: str, mocked_hint
) -> None:
    response = client.post(
        url_of("interactions:note-sign", note), {"session_key": staff_key, "version": "1"}
    )

    assert response.status_code == 403
    assert "clinician" in response.content.decode()
    assert Note.objects.get(pk=note.pk).status == Note.Status.DRAFT
    assert len(mocked_hint.calls) == 0


def test_new_note_starts_a_draft_for_the_patient_and_opens_it(
    client: Client, practice_a: Practice, clinician_key: str
) -> None:
    make_patient(practice_a)
    response = client.post(
        reverse("interactions:note-new"), {"session_key": clinician_key, "patient_id": PATIENT}
    )

    note = Note.objects.get()
    assert response.status_code == 303
    assert response["Location"].startswith(url_of("interactions:note", note) + "?session_key=")
    assert note.patient_hint_id == PATIENT
    assert note.author == PracticeUser.objects.get(hint_id="user-pra-aaaa-clinician")
    assert AuditEntry.objects.filter(action="note.created", target_id=str(note.pk)).exists()


def test_new_note_takes_the_sessions_patient_when_the_form_names_none(
    client: Client, practice_a: Practice
) -> None:
    key = open_session(practice_a, ["staff"], patient_id="pat-Bob2")
    client.post(reverse("interactions:note-new"), {"session_key": key})
    assert Note.objects.get().patient_hint_id == "pat-Bob2"


def test_new_note_without_a_patient_is_a_clear_400(
    client: Client, practice_a: Practice, clinician_key: str
) -> None:
    response = client.post(reverse("interactions:note-new"), {"session_key": clinician_key})
    assert response.status_code == 400
    assert "patient" in response.content.decode()
    assert not Note.objects.exists()


def test_a_note_for_another_practices_patient_is_404_and_stores_nothing(
    client: Client, practice_a: Practice, practice_b: Practice, clinician_key: str, mocked_hint: Any
) -> None:
    make_patient(practice_b, hint_id="pat-OfB")
    response = client.post(
        reverse("interactions:note-new"), {"session_key": clinician_key, "patient_id": "pat-OfB"}
    )
    assert response.status_code == 404
    assert not Note.objects.exists()
    assert not AuditEntry.objects.filter(action="note.created").exists()
    assert len(mocked_hint.calls) == 0


def test_a_note_for_a_patient_nobody_here_knows_is_404(
    client: Client, practice_a: Practice, clinician_key: str
) -> None:
    response = client.post(
        reverse("interactions:note-new"), {"session_key": clinician_key, "patient_id": "pat-?"}
    )
    assert response.status_code == 404
    assert not Note.objects.exists()


def test_a_chart_patient_named_only_by_the_sdk_and_denied_by_hint_gets_no_note(
    client: Client, practice_a: Practice, mocked_hint: Any, hint_url: str
) -> None:
    key = open_session(practice_a, ["clinician"])
    # The SDK's patient change is an unsigned ?patient_id: it may name any patient.
    client.get(reverse("handshake:clinical_chart"), {"session_key": key, "patient_id": "pat-OfB"})
    mocked_hint.get(f"{hint_url}/api/provider/patients/pat-OfB", status=404, json={})
    response = client.post(reverse("interactions:note-new"), {"session_key": key})
    assert response.status_code == 404
    assert not Note.objects.exists()


def test_a_chart_patient_hint_confirms_gets_a_note_before_the_mirror_has_it(
    client: Client, practice_a: Practice, mocked_hint: Any, hint_url: str
) -> None:
    key = open_session(practice_a, ["clinician"])
    client.get(reverse("handshake:clinical_chart"), {"session_key": key, "patient_id": "pat-New"})
    mocked_hint.get(f"{hint_url}/api/provider/patients/pat-New", json={"id": "pat-New"})
    response = client.post(reverse("interactions:note-new"), {"session_key": key})
    assert response.status_code == 303
    assert Note.objects.get().patient_hint_id == "pat-New"


def test_another_practices_patient_has_no_notes_page_here(
    client: Client, practice_b: Practice, clinician_key: str
) -> None:
    make_patient(practice_b, hint_id="pat-OfB")
    url = reverse("interactions:patient-notes", kwargs={"patient_id": "pat-OfB"})
    assert client.get(url, {"session_key": clinician_key}).status_code == 404


def test_the_notes_page_of_a_mirrored_patient_opens(
    client: Client, practice_a: Practice, clinician_key: str
) -> None:
    make_patient(practice_a)
    url = reverse("interactions:patient-notes", kwargs={"patient_id": PATIENT})
    assert client.get(url, {"session_key": clinician_key}).status_code == 200


def test_autosave_stores_the_text_and_says_it_is_syncing(
    client: Client, note: Note, clinician_key: str
) -> None:
    response = client.post(
        url_of("interactions:note-save", note),
        {"session_key": clinician_key, "base_version": "1", "title": "T2", "body": "New text"},
        HTTP_HX_REQUEST="true",
    )

    text = response.content.decode()
    assert response.status_code == 200
    assert "Saved here at" in text and "waiting to reach Hint" in text
    assert 'id="note-base-version" value="2"' in text
    stored = Note.objects.get(pk=note.pk)
    assert (stored.title, stored.body, stored.version) == ("T2", "New text", 2)
    assert AuditEntry.objects.filter(action="note.edited", target_id=str(note.pk)).count() == 1


def test_a_save_from_a_stale_tab_shows_both_versions_and_overwrites_nothing(
    client: Client, note: Note, clinician_key: str
) -> None:
    services.note_save(note=note, title="Tab one", body="Tab one text", base_version=1, actor=DR)

    response = client.post(
        url_of("interactions:note-save", note),
        {"session_key": clinician_key, "base_version": "1", "title": "Tab two", "body": "Mine"},
        HTTP_HX_REQUEST="true",
    )

    text = response.content.decode()
    assert response.status_code == 409
    assert response["HX-Retarget"] == "#note-conflict"
    assert "Tab one text" in text and "Mine" in text
    assert "Keep my version" in text
    assert Note.objects.get(pk=note.pk).body == "Tab one text"
    # The status line is replaced too (out of band): it no longer says the text is saved.
    assert 'id="note-status"' in text and 'hx-swap-oob="true"' in text
    assert "Not saved: conflict" in text and "Synced to Hint" not in text


def test_a_refused_save_says_not_saved_and_a_refused_discard_does_not(
    client: Client, note: Note, clinician_key: str
) -> None:
    services.note_sign(note=note, actor=DR)
    save = client.post(
        url_of("interactions:note-save", note),
        {"session_key": clinician_key, "base_version": "2", "body": "changed"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    discard = client.post(
        url_of("interactions:note-discard", note),
        {"session_key": clinician_key},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert 'id="note-status"' in save and "Not saved" in save
    assert 'id="note-status"' not in discard


def test_the_conflict_page_without_htmx_is_a_full_page(
    client: Client, note: Note, clinician_key: str
) -> None:
    services.note_save(note=note, title="A", body="Theirs", base_version=1, actor=DR)
    response = client.post(
        url_of("interactions:note-save", note),
        {"session_key": clinician_key, "base_version": "1", "title": "B", "body": "Ours"},
    )
    assert response.status_code == 409
    assert "<html" in response.content.decode()


@pytest.mark.parametrize("base_version", ["", "abc"])
def test_a_save_without_a_readable_version_is_a_400(
    client: Client, note: Note, clinician_key: str, base_version: str
) -> None:
    response = client.post(
        url_of("interactions:note-save", note),
        {"session_key": clinician_key, "base_version": base_version, "body": "x"},
    )
    assert response.status_code == 400
    assert Note.objects.get(pk=note.pk).body == "Feeling better."


def test_saving_a_signed_note_is_refused(client: Client, note: Note, clinician_key: str) -> None:
    services.note_sign(note=note, actor=DR)
    response = client.post(
        url_of("interactions:note-save", note),
        {"session_key": clinician_key, "base_version": "2", "body": "changed"},
    )
    assert response.status_code == 409
    assert Note.objects.get(pk=note.pk).body == "Feeling better."


def test_sync_creates_the_interaction_with_the_sessions_own_token(
    client: Client, note: Note, clinician_key: str, mocked_hint
) -> None:
    mocked_hint.post(create_url(), json=interaction_answer(note))

    response = client.post(
        url_of("interactions:note-sync", note),
        {"session_key": clinician_key},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert "Synced to Hint" in response.content.decode()
    (create,) = calls_to(mocked_hint, "POST", create_url())
    assert create.request.headers["Authorization"] == CLINICIAN_TOKEN


def test_the_status_line_shows_a_permanent_error_with_what_to_do(
    client: Client, note: Note, staff_key: str
) -> None:
    Note.objects.filter(pk=note.pk).update(
        sync_state=Note.SyncState.ERROR, sync_error="Hint no longer has this patient."
    )
    response = client.get(url_of("interactions:note-status", note), {"session_key": staff_key})
    text = response.content.decode()
    assert "Hint no longer has this patient." in text
    assert "Try again now" in text
    assert "not accepted by Hint" in text and "Synced to Hint" not in text


def test_retry_clears_the_error_and_pushes(
    client: Client, note: Note, clinician_key: str, mocked_hint
) -> None:
    Note.objects.filter(pk=note.pk).update(sync_state=Note.SyncState.ERROR, sync_error="x")
    mocked_hint.post(create_url(), json=interaction_answer(note))

    response = client.post(url_of("interactions:note-retry", note), {"session_key": clinician_key})

    assert response.status_code == 303
    assert Note.objects.get(pk=note.pk).sync_state == Note.SyncState.SYNCED


def test_sign_review_saves_the_editor_text_then_opens_the_confirmation(
    client: Client, note: Note, clinician_key: str
) -> None:
    response = client.post(
        url_of("interactions:note-sign-review", note),
        {"session_key": clinician_key, "base_version": "1", "title": "Final", "body": "Last"},
        HTTP_HX_REQUEST="true",
    )

    assert response["HX-Redirect"].startswith(url_of("interactions:note-sign", note))
    assert Note.objects.get(pk=note.pk).body == "Last"
    page = client.get(response["HX-Redirect"])
    assert page.status_code == 200
    assert "Sign the note" in page.content.decode() and "Last" in page.content.decode()


def test_a_clinician_signs_after_confirming_and_hint_is_patched_once(
    client: Client, note: Note, clinician_key: str, mocked_hint
) -> None:
    mocked_hint.post(create_url(), json=interaction_answer(note))
    mocked_hint.patch(update_url(), json=interaction_answer(note, status="signed"))
    push.note_push(note=note, token="t", in_session=True)

    response = client.post(
        url_of("interactions:note-sign", note), {"session_key": clinician_key, "version": "1"}
    )
    client.post(url_of("interactions:note-sync", note), {"session_key": clinician_key})

    assert response.status_code == 303
    note.refresh_from_db()
    assert note.status == Note.Status.SIGNED
    assert note.signed_by_label == "Clinician Tester"
    (patch,) = calls_to(mocked_hint, "PATCH", update_url())
    assert sent_json(patch)["status"] == "signed"
    assert AuditEntry.objects.filter(action="note.signed", target_id=str(note.pk)).exists()
    page = client.get(url_of("interactions:note", note), {"session_key": clinician_key})
    text = page.content.decode()
    assert 'id="note-form"' not in text
    assert "Signed by <strong>Clinician Tester</strong>" in text


def test_signing_a_version_the_page_did_not_show_is_a_conflict(
    client: Client, note: Note, clinician_key: str, mocked_hint
) -> None:
    services.note_save(note=note, title="x", body="newer", base_version=1, actor=DR)
    response = client.post(
        url_of("interactions:note-sign", note), {"session_key": clinician_key, "version": "1"}
    )
    assert response.status_code == 409
    assert Note.objects.get(pk=note.pk).status == Note.Status.DRAFT


def test_a_clinician_adds_an_addendum_to_a_signed_note(
    client: Client, note: Note, clinician_key: str, mocked_hint
) -> None:
    mocked_hint.post(create_url(), json=interaction_answer(note))
    mocked_hint.patch(update_url(), json=interaction_answer(note))
    services.note_sign(note=note, actor=DR)

    response = client.post(
        url_of("interactions:note-addend", note),
        {"session_key": clinician_key, "body": "Labs normal."},
    )
    client.post(url_of("interactions:note-sync", note), {"session_key": clinician_key})

    assert response.status_code == 303
    note.refresh_from_db()
    assert note.status == Note.Status.ADDENDED
    assert [sent_json(c)["status"] for c in calls_to(mocked_hint, "PATCH", update_url())] == [
        "addended"
    ]
    page = client.get(url_of("interactions:note", note), {"session_key": clinician_key})
    assert "Labs normal." in page.content.decode()


def test_an_empty_addendum_is_a_400(client: Client, note: Note, clinician_key: str) -> None:
    services.note_sign(note=note, actor=DR)
    response = client.post(
        url_of("interactions:note-addend", note), {"session_key": clinician_key, "body": " "}
    )
    assert response.status_code == 400
    assert not note.addenda.exists()


def test_the_patient_list_shows_drafts_signed_and_syncing_notes(
    client: Client, practice_a: Practice, staff_key: str
) -> None:
    make_note(practice_a, title="Draft one", body="x")
    signed = make_note(practice_a, title="Signed one", body="y")
    services.note_sign(note=signed, actor=DR)
    make_note(practice_a, title="Other patient", patient_hint_id="pat-Other")

    response = client.get(
        reverse("interactions:patient-notes", kwargs={"patient_id": PATIENT}),
        {"session_key": staff_key},
    )

    text = response.content.decode()
    assert "Draft one" in text and "Signed one" in text
    assert "Other patient" not in text
    assert "syncing" in text and ">signed<" in text and ">draft<" in text


def test_my_drafts_lists_only_my_unsigned_notes(
    client: Client, practice_a: Practice, clinician_key: str
) -> None:
    make_patient(practice_a)
    client.post(
        reverse("interactions:note-new"), {"session_key": clinician_key, "patient_id": PATIENT}
    )
    mine = Note.objects.get()
    Note.objects.filter(pk=mine.pk).update(title="Mine to finish")
    make_note(practice_a, title="Someone else's")

    for name in ("interactions:my-drafts", "interactions:my-drafts-panel"):
        text = client.get(reverse(name), {"session_key": clinician_key}).content.decode()
        assert "Mine to finish" in text
        assert "Someone else's" not in text


def test_the_chart_panel_follows_the_sessions_patient(
    client: Client, note: Note, practice_a: Practice
) -> None:
    key = open_session(practice_a, ["clinician"], patient_id=PATIENT)
    text = client.get(reverse("interactions:chart-panel"), {"session_key": key}).content.decode()
    assert "Follow-up visit" in text and "New note" in text

    other = open_session(practice_a, ["clinician"], patient_id="pat-Other")
    text = client.get(reverse("interactions:chart-panel"), {"session_key": other}).content.decode()
    assert "Follow-up visit" not in text


def test_the_interaction_panel_opens_the_note_behind_the_charts_interaction(
    client: Client, note: Note, practice_a: Practice
) -> None:
    Note.objects.filter(pk=note.pk).update(hint_interaction_id="inter-N0te1")
    key = open_session(practice_a, ["clinician"], patient_id=PATIENT, interaction_id="inter-N0te1")

    response = client.get(
        reverse("interactions:interaction-panel"), {"session_key": key}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200
    assert response["HX-Redirect"].startswith(url_of("interactions:note", note) + "?session_key=")


def test_the_interaction_panel_finds_a_note_whose_hint_id_we_never_stored(
    client: Client, note: Note, practice_a: Practice, mocked_hint
) -> None:
    from tests.interactions.conftest import LIST_URL

    mocked_hint.get(LIST_URL, json=[interaction_answer(note, id="inter-Lost7")])
    key = open_session(practice_a, ["clinician"], patient_id=PATIENT, interaction_id="inter-Lost7")

    response = client.get(reverse("interactions:interaction-panel"), {"session_key": key})

    assert url_of("interactions:note", note) in response.content.decode()
    assert Note.objects.get(pk=note.pk).hint_interaction_id == "inter-Lost7"


def test_the_interaction_panel_offers_a_new_note_for_an_unknown_interaction(
    client: Client, note: Note, practice_a: Practice, mocked_hint
) -> None:
    from tests.interactions.conftest import LIST_URL

    mocked_hint.get(LIST_URL, json=[])
    key = open_session(practice_a, ["clinician"], patient_id=PATIENT, interaction_id="inter-X")

    response = client.get(reverse("interactions:interaction-panel"), {"session_key": key})

    text = response.content.decode()
    assert "New note" in text
    assert "not written with this app" in text
    assert "HX-Redirect" not in response


def test_the_interaction_panel_never_opens_another_practices_note(
    client: Client, note: Note, practice_b: Practice, mocked_hint
) -> None:
    from tests.interactions.conftest import LIST_URL

    Note.objects.filter(pk=note.pk).update(hint_interaction_id="inter-N0te1")
    mocked_hint.get(LIST_URL, json=[interaction_answer(note, id="inter-N0te1")])
    key = open_session(practice_b, ["clinician"], patient_id=PATIENT, interaction_id="inter-N0te1")

    response = client.get(reverse("interactions:interaction-panel"), {"session_key": key})

    assert url_of("interactions:note", note) not in response.content.decode()


def test_inside_a_chart_the_note_page_starts_hints_sdk_and_knows_the_patient(
    client: Client, note: Note, practice_a: Practice
) -> None:
    chart_key = open_session(practice_a, ["clinician"], patient_id=PATIENT)
    text = client.get(url_of("interactions:note", note), {"session_key": chart_key}).text

    assert "/hint-sdk.js" in text
    assert f'data-patient-id="{PATIENT}"' in text
    assert 'class="clinical"' in text


def test_from_the_core_page_the_note_page_is_the_fixed_frame(
    client: Client, note: Note, clinician_key: str
) -> None:
    text = client.get(url_of("interactions:note", note), {"session_key": clinician_key}).text

    assert 'class="frame"' in text
    assert 'id="notes-context"' not in text  # no chart to follow


def test_the_editor_names_the_patient_from_the_mirror_or_the_handshake(
    client: Client, note: Note, practice_a: Practice
) -> None:
    key = open_session(practice_a, ["clinician"], patient_id=PATIENT)
    assert (
        "Draft about this patient"
        in client.get(url_of("interactions:note", note), {"session_key": key}).content.decode()
    )

    from sync.models import Patient

    Note.objects.filter(pk=note.pk).update(
        patient=Patient.objects.create(
            practice=practice_a, hint_id=PATIENT, first_name="Alice", last_name="Ng"
        )
    )
    assert (
        "Draft about Alice Ng"
        in client.get(url_of("interactions:note", note), {"session_key": key}).content.decode()
    )


def test_the_editor_never_nests_a_form_inside_its_form(
    client: Client, note: Note, clinician_key: str
) -> None:
    Note.objects.filter(pk=note.pk).update(sync_state=Note.SyncState.ERROR, sync_error="Refused.")

    text = client.get(url_of("interactions:note", note), {"session_key": clinician_key}).text

    editor = text.split('id="note-form"', 1)[1].split("</form>", 1)[0]
    assert "<form" not in editor
    assert "Try again now" in editor


def test_the_status_line_pushes_only_once_a_retrys_backoff_is_over(
    client: Client, note: Note, clinician_key: str
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    url = url_of("interactions:note-status", note)
    sync = url_of("interactions:note-sync", note)
    Note.objects.filter(pk=note.pk).update(
        sync_state=Note.SyncState.PENDING,
        sync_attempts=2,
        sync_next_attempt_at=timezone.now() + timedelta(minutes=5),
    )
    waiting = client.get(url, {"session_key": clinician_key}).content.decode()
    assert sync not in waiting and 'hx-trigger="every 10s"' in waiting

    Note.objects.filter(pk=note.pk).update(
        sync_next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    due = client.get(url, {"session_key": clinician_key}).content.decode()
    assert sync in due


def test_a_draft_hint_never_saw_can_be_discarded(
    client: Client, practice_a: Practice, staff_key: str
) -> None:
    note = make_note(practice_a)
    assert (
        "Discard draft"
        in client.get(
            url_of("interactions:note", note), {"session_key": staff_key}
        ).content.decode()
    )

    response = client.post(url_of("interactions:note-discard", note), {"session_key": staff_key})

    assert response.status_code == 303
    assert (
        reverse("interactions:patient-notes", kwargs={"patient_id": PATIENT})
        in (response["Location"])
    )
    assert not Note.objects.filter(pk=note.pk).exists()
    assert AuditEntry.objects.filter(action="note.discarded", target_id=str(note.pk)).exists()


@pytest.mark.parametrize(
    "fields",
    [{"hint_interaction_id": "inter-1"}, {"hint_create_attempted": True}, {"status": "signed"}],
)
def test_a_note_hint_may_hold_or_a_signed_one_is_never_discarded(
    client: Client, practice_a: Practice, clinician_key: str, fields: dict
) -> None:
    note = make_note(practice_a, title="Kept", **fields)

    response = client.post(
        url_of("interactions:note-discard", note), {"session_key": clinician_key}
    )

    assert response.status_code == 409
    assert Note.objects.filter(pk=note.pk).exists()
