"""The patients pages: list, live search, detail; one practice's patients only."""

from typing import Any

import pytest
from django.test import Client, TestCase
from django.urls import reverse

from handshake.models import Practice
from sync import mirror
from sync.models import BackfillRun, Patient
from tests.webhooks.conftest import load_event

pytestmark = pytest.mark.django_db


def make_patient(practice: Practice, **overrides: Any) -> Patient:
    practitioner = {"id": "pct-1", "name": "Dr. Grace Hopper"}
    data = {**load_event("patient_created")["object"], "practitioner": practitioner, **overrides}
    return mirror.patient_apply(practice=practice, data=data).patient


@pytest.fixture
def patients(practice_a: Practice) -> dict[str, Patient]:
    BackfillRun.objects.create(practice=practice_a, status="done")  # a pull has run
    return {
        "zoe": make_patient(practice_a),
        "ada": make_patient(
            practice_a,
            id="pat-ada",
            first_name="Ada",
            last_name="Lovelace",
            dob="1815-12-10",
            email="ada@engines.example",
        ),
        "alan": make_patient(
            practice_a,
            id="pat-alan",
            first_name="Alan",
            last_name="Turing",
            dob="1912-06-23",
            email="alan@bletchley.example",
        ),
    }


def _list(client: Client, key: str, **query: Any) -> str:
    response = client.get(reverse("sync:patients"), {"session_key": key, **query})
    assert response.status_code == 200
    return response.content.decode()


def test_the_list_shows_the_practices_patients(
    client: Client, staff_key: str, patients: dict[str, Patient]
) -> None:
    html = _list(client, staff_key)
    assert "Lovelace" in html and "Turing" in html and "O&#x27;Brien-Smith" in html
    assert "3 patients" in html
    detail = reverse("sync:patient", args=[patients["ada"].pk])
    assert f'href="{detail}?session_key={staff_key}"' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("love", {"Lovelace"}),
        ("LOVELACE", {"Lovelace"}),
        ("a", {"Lovelace", "Turing"}),  # first name Ada / Alan
        ("ada love", {"Lovelace"}),
        ("lovelace, ada", {"Lovelace"}),
        ("zoe obrien", {"O&#x27;Brien-Smith"}),  # accents and punctuation do not matter
        ("1815-12-10", {"Lovelace"}),
        ("06/23/1912", {"Turing"}),
        ("1984", {"O&#x27;Brien-Smith"}),
        ("alan@bl", {"Turing"}),
        ("zzz", set()),
        ("!!!", set()),
    ],
)
def test_search_matches_names_dates_of_birth_and_emails_by_prefix(
    client: Client, staff_key: str, patients: dict[str, Patient], query: str, expected: set[str]
) -> None:
    response = client.get(
        reverse("sync:patients"),
        {"q": query},
        HTTP_HX_REQUEST="true",
        HTTP_X_HINT_SESSION_KEY=staff_key,
    )
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html  # htmx gets only the results
    found = {name for name in ("Lovelace", "Turing", "O&#x27;Brien-Smith") if name in html}
    assert found == expected


def test_the_list_is_paginated(client: Client, staff_key: str, practice_a: Practice) -> None:
    BackfillRun.objects.create(practice=practice_a, status="done")
    for i in range(30):
        make_patient(practice_a, id=f"pat-{i}", last_name=f"Person{i:02d}")
    first = _list(client, staff_key)
    second = _list(client, staff_key, page=2)
    assert "Person00" in first and "Person29" not in first
    assert "Person29" in second and "page 2" in second
    assert "?session_key=" in first and "page=2" in first and "page=3" not in second


def test_a_page_past_the_end_offers_the_way_back(
    client: Client, staff_key: str, patients: dict[str, Patient]
) -> None:
    html = _list(client, staff_key, page=7)
    assert "No more patients" in html and "page=6" in html
    assert "Lovelace" in _list(client, staff_key, page="not-a-number")


def test_a_large_result_is_counted_only_up_to_a_cap(
    client: Client, staff_key: str, patients: dict[str, Patient], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sync import views_patients

    monkeypatch.setattr(views_patients, "COUNT_CAP", 2)
    assert "More than 2 patients" in _list(client, staff_key)
    assert "1 patient" in _list(client, staff_key, q="lovelace")


def test_destroyed_patients_are_hidden(
    client: Client, staff_key: str, patients: dict[str, Patient], practice_a: Practice
) -> None:
    mirror.patient_apply(practice=practice_a, data={"id": "pat-ada"}, kind=mirror.DESTROYED)
    assert "Lovelace" not in _list(client, staff_key)
    url = reverse("sync:patient", args=[patients["ada"].pk])
    assert client.get(url, {"session_key": staff_key}).status_code == 404


def test_the_detail_links_to_the_chart_in_hints_top_window(
    client: Client, staff_key: str, patients: dict[str, Patient]
) -> None:
    url = reverse("sync:patient", args=[patients["zoe"].pk])
    html = client.get(url, {"session_key": staff_key}).content.decode()
    assert 'href="https://app.hint.com/patients/pat-8Hs2LwQ4" target="_top"' in html
    assert "Dr. Grace Hopper" in html


def test_practice_b_sees_none_of_practice_as_patients(
    client: Client, outsider_key: str, patients: dict[str, Patient]
) -> None:
    assert "Lovelace" not in _list(client, outsider_key)
    assert "Lovelace" not in _list(client, outsider_key, q="love")
    url = reverse("sync:patient", args=[patients["ada"].pk])
    assert client.get(url, {"session_key": outsider_key}).status_code == 404


@pytest.mark.parametrize("name", ["sync:patients", "sync:patients-panel", "sync:patient"])
def test_patient_pages_need_a_session_and_a_get(
    client: Client, staff_key: str, patients: dict[str, Patient], name: str
) -> None:
    url = reverse(name, args=[patients["zoe"].pk] if name == "sync:patient" else [])
    assert client.get(url).status_code == 401
    assert client.post(url, {"session_key": staff_key}).status_code == 405


def test_a_user_without_any_role_is_refused_the_patients(
    client: Client, practice_a: Practice
) -> None:
    from tests.conftest import open_session

    key = open_session(practice_a, [])
    assert client.get(reverse("sync:patients"), {"session_key": key}).status_code == 403


def test_the_panel_shows_search_and_patients(
    client: Client, staff_key: str, patients: dict[str, Patient]
) -> None:
    response = client.get(reverse("sync:patients-panel"), {"session_key": staff_key})
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert 'name="q"' in html and "Lovelace" in html


# The first pull is queued when the practice connects (test_backfill_on_connect.py).
def test_viewing_the_patients_queues_no_pull_and_says_none_has_started(
    client: Client, staff_key: str, practice_a: Practice
) -> None:
    html = _list(client, staff_key)
    assert "first copy of the practice's patients from Hint has not started" in html
    assert not BackfillRun.objects.for_practice(practice_a).exists()


# --- backfill panel and "Refresh from Hint" ---------------------------------------------------


def test_an_admin_refreshes_from_hint_and_sees_the_result(
    client: Client, admin_key: str, practice_a: Practice, mocked_hint: Any, hint_url: str
) -> None:
    mocked_hint.get(
        f"{hint_url}/api/provider/patients", json=[load_event("patient_created")["object"]]
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(reverse("sync:backfill-start"), {"session_key": admin_key})
    assert response.status_code == 303
    assert Patient.objects.for_practice(practice_a).count() == 1
    panel = client.get(reverse("sync:backfill-panel"), {"session_key": admin_key})
    assert "1 patient read, 1 new or changed" in panel.content.decode()


def test_refresh_while_one_runs_shows_its_progress(
    client: Client, admin_key: str, practice_a: Practice
) -> None:
    BackfillRun.objects.create(practice=practice_a, status="running", fetched=200)
    response = client.post(
        reverse("sync:backfill-start"), {"session_key": admin_key}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "200 read so far" in html and 'hx-trigger="every 2s"' in html
    assert BackfillRun.objects.count() == 1


def test_refresh_for_a_disconnected_practice_says_what_to_do(
    client: Client, admin_key: str, practice_a: Practice
) -> None:
    Practice.objects.filter(pk=practice_a.pk).update(installation_status="deactivated")
    response = client.post(reverse("sync:backfill-start"), {"session_key": admin_key})
    assert response.status_code == 409
    assert "not connected" in response.content.decode()
    assert not BackfillRun.objects.exists()


def test_the_backfill_panel_and_button_are_for_admins_only(
    client: Client, staff_key: str, clinician_key: str
) -> None:
    for key in (staff_key, clinician_key):
        assert client.post(reverse("sync:backfill-start"), {"session_key": key}).status_code == 403
        assert client.get(reverse("sync:backfill-panel"), {"session_key": key}).status_code == 403
    assert client.post(reverse("sync:backfill-start")).status_code == 401
    assert client.get(reverse("sync:backfill-start"), {"session_key": staff_key}).status_code == 405
    assert not BackfillRun.objects.exists()


def test_one_practice_refreshing_never_starts_anothers_pull(
    client: Client, outsider_key: str, practice_a: Practice
) -> None:
    client.post(reverse("sync:backfill-start"), {"session_key": outsider_key})
    assert not BackfillRun.objects.for_practice(practice_a).exists()


def test_core_page_carries_the_patients_panel_and_nav_and_settings_the_admin_panels(
    client: Client, admin_key: str
) -> None:
    core = client.get(reverse("handshake:core_page"), {"session_key": admin_key}).content.decode()
    assert f"{reverse('sync:patients-panel')}?session_key={admin_key}" in core
    assert f"{reverse('sync:patients')}?session_key={admin_key}" in core
    settings_page = client.get(reverse("handshake:settings"), {"session_key": admin_key})
    html = settings_page.content.decode()
    assert reverse("sync:backfill-panel") in html and reverse("webhooks:panel") in html


def test_few_matches_and_many_are_ordered_and_paged_alike(
    client: Client, staff_key: str, practice_a: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Below the count cap the page is ordered in Python, above it by the database: same order."""
    from sync import views_patients

    BackfillRun.objects.create(practice=practice_a, status="done")
    names = [f"Case{n:02d}" for n in range(30)]
    for i, last in enumerate(reversed(names)):  # created out of order
        first = "Bea" if i % 2 else "Abe"  # ties on the last name's prefix sort by first name
        make_patient(practice_a, id=f"pat-{i}", last_name=last, first_name=first)

    def shown(html: str) -> list[str]:
        return sorted((n for n in names if n in html), key=html.index)

    pages = {}
    for cap in (1000, 5):
        monkeypatch.setattr(views_patients, "COUNT_CAP", cap)
        pages[cap] = [shown(_list(client, staff_key, q="case", page=p)) for p in (1, 2)]
    assert pages[1000] == pages[5] == [names[:25], names[25:]]
