"""The four surfaces: states, framing headers, no cookies, panels, nav, practice isolation."""

import pytest
from django.test import Client

from handshake.models import HintSession, Practice, PracticeUser
from handshake.services import key_hash, practice_mark_disconnected
from tests.conftest import open_session

pytestmark = pytest.mark.django_db

SURFACES = ["core_page", "settings", "clinical_chart", "clinical_interaction"]


def get(client: Client, surface: str, key: str, **params: str):
    return client.get(f"/hint/{surface}", {"session_key": key, **params})


@pytest.mark.parametrize("surface", SURFACES)
def test_each_surface_opens_with_a_session(client: Client, admin_key: str, surface: str) -> None:
    assert get(client, surface, admin_key).status_code == 200


@pytest.mark.parametrize("surface", SURFACES)
def test_each_surface_refuses_another_method(client: Client, admin_key: str, surface: str) -> None:
    assert client.post(f"/hint/{surface}", {"session_key": admin_key}).status_code == 405


@pytest.mark.parametrize("surface", SURFACES)
def test_each_surface_denies_a_user_without_roles(
    client: Client, practice_a: Practice, surface: str
) -> None:
    assert get(client, surface, open_session(practice_a, [])).status_code == 403


@pytest.mark.parametrize("surface", SURFACES)
def test_surfaces_are_frameable_by_hint_only_and_set_no_cookie(
    client: Client, admin_key: str, surface: str
) -> None:
    response = get(client, surface, admin_key)
    assert "frame-ancestors https://*.hint.com" in response["Content-Security-Policy"]
    assert "X-Frame-Options" not in response
    assert "Set-Cookie" not in response
    assert not response.cookies
    assert response["Referrer-Policy"] == "same-origin"
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize("surface", SURFACES)
def test_the_reopen_and_denial_pages_set_no_cookie_either(
    client: Client, practice_a: Practice, surface: str
) -> None:
    assert not client.get(f"/hint/{surface}").cookies
    assert not get(client, surface, open_session(practice_a, [])).cookies


def test_the_core_page_greets_the_user_and_names_the_practice(
    client: Client, clinician_key: str
) -> None:
    text = get(client, "core_page", clinician_key).content.decode()
    assert "Hello, Clinician" in text
    assert "Practice A" in text
    # Every link carries the key (no cookie will).
    assert f"/hint/notes/mine?session_key={clinician_key}" in text
    assert f"X-Hint-Session-Key&quot;: &quot;{clinician_key}" in text or (
        f'"X-Hint-Session-Key": "{clinician_key}"' in text
    )


def test_the_core_page_says_when_the_installation_is_not_complete(client: Client) -> None:
    practice = Practice.objects.create(hint_id="pra-new", name="New Practice")
    text = get(client, "core_page", open_session(practice, ["staff"])).content.decode()
    assert "installation of this app is not complete yet" in text


def test_a_disconnected_practice_is_told_how_to_reconnect(
    client: Client, practice_a: Practice, staff_key: str
) -> None:
    practice_mark_disconnected(practice=practice_a)
    text = get(client, "core_page", staff_key).content.decode()
    assert "no longer accepts" in text and "installs the app again" in text


def test_a_pending_installation_says_an_admin_can_activate_it(client: Client) -> None:
    practice = Practice.objects.create(
        hint_id="pra-p", name="P", installation_status="pending", installation_id="inst-p"
    )
    key = open_session(practice, ["admin"])
    text = get(client, "settings", key).content.decode()
    assert "waiting for activation" in text
    assert "Activate the installation" in text


def test_a_support_session_shows_the_banner_on_every_surface(
    client: Client, practice_a: Practice
) -> None:
    key = open_session(practice_a, [], access_context="platform_support")
    for surface in SURFACES:
        assert "Hint support session" in get(client, surface, key).content.decode()


def test_settings_show_admins_the_users_with_roles_and_last_visit(
    client: Client, practice_a: Practice, admin_key: str, staff_key: str
) -> None:
    text = get(client, "settings", admin_key).content.decode()
    assert "Users" in text
    assert "Staff Tester" in text and ">staff<" in text
    assert "Install" in text and 'name="code"' in text
    assert "active" in text


def test_settings_hide_users_and_the_code_form_from_staff(client: Client, staff_key: str) -> None:
    text = get(client, "settings", staff_key).content.decode()
    assert "Installation" in text
    assert 'name="code"' not in text
    assert "Users" not in text


def test_a_session_of_practice_b_sees_nothing_of_practice_a(
    client: Client, admin_key: str, outsider_key: str, practice_a: Practice
) -> None:
    text = get(client, "settings", outsider_key).content.decode()
    assert "Practice B" in text
    assert "Practice A" not in text
    assert "Admin Tester" in text  # B's own admin
    assert PracticeUser.objects.for_practice(practice_a).count() == 1
    assert "user-pra-aaaa" not in text


def test_a_key_is_bound_to_its_practice(client: Client, admin_key: str, outsider_key: str) -> None:
    assert "Practice A" in get(client, "core_page", admin_key).content.decode()
    assert "Practice A" not in get(client, "core_page", outsider_key).content.decode()


def test_the_clinical_chart_names_the_patient_and_loads_the_sdk(
    client: Client, practice_a: Practice, settings
) -> None:
    key = open_session(practice_a, ["clinician"], patient={"id": "pat-1", "name": "Jordan Smith"})
    response = get(client, "clinical_chart", key)
    text = response.content.decode()
    assert "Jordan Smith" in text
    assert f'src="{settings.HINT_API_URL}/hint-sdk.js"' in text
    assert 'class="clinical"' in text
    assert "hintpartner/surface.js" in text


def test_the_clinical_interaction_knows_its_interaction(
    client: Client, practice_a: Practice
) -> None:
    key = open_session(practice_a, ["clinician"], patient_id="pat-1", interaction_id="inter-9")
    text = get(client, "clinical_interaction", key).content.decode()
    assert "clinical interaction open in Hint" in text


def test_a_clinical_surface_without_a_patient_says_so(client: Client, clinician_key: str) -> None:
    text = get(client, "clinical_chart", clinician_key).content.decode()
    assert "No patient is open" in text


def test_a_patient_change_reported_by_the_sdk_follows_the_chart(
    client: Client, practice_a: Practice
) -> None:
    key = open_session(practice_a, ["clinician"], patient_id="pat-1", interaction_id="inter-9")
    assert get(client, "clinical_chart", key, patient_id="pat-2").status_code == 200
    session = HintSession.objects.get(key_hash=key_hash(key))
    assert (session.patient_id, session.interaction_id) == ("pat-2", "")


def test_surfaces_render_their_panels_with_the_key(
    client: Client, admin_key: str, settings
) -> None:
    settings.HINT_SURFACE_PANELS = {**settings.HINT_SURFACE_PANELS, "core_page": ["healthz"]}
    text = get(client, "core_page", admin_key).content.decode()
    assert f'hx-get="/healthz?session_key={admin_key}"' in text
    assert 'hx-trigger="load"' in text


def test_nav_entries_come_from_settings(client: Client, admin_key: str, settings) -> None:
    settings.HINT_NAV = [("Health", "healthz")]
    text = get(client, "core_page", admin_key).content.decode()
    assert f'href="/healthz?session_key={admin_key}"' in text


def test_every_configured_panel_and_nav_entry_is_a_url_name(settings) -> None:
    from django.urls import reverse

    for names in settings.HINT_SURFACE_PANELS.values():
        for name in names:
            assert reverse(name)
    for _label, name, *_ in settings.HINT_NAV:
        assert reverse(name)


def test_a_misnamed_panel_is_skipped_not_fatal(client: Client, admin_key: str, settings) -> None:
    settings.HINT_SURFACE_PANELS = {"core_page": ["nowhere:panel", "healthz"]}
    response = get(client, "core_page", admin_key)
    assert response.status_code == 200
    assert "/healthz?session_key=" in response.content.decode()
