"""The surfaces load the notes panels, and the panels answer for the session's patient."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from handshake.models import Practice
from interactions.models import Note
from tests.conftest import open_session
from tests.interactions.conftest import PATIENT, make_note

pytestmark = pytest.mark.django_db


def panel_urls(html: str) -> list[str]:
    return [u.replace("&amp;", "&") for u in re.findall(r'hx-get="([^"]+)"', html)]


@pytest.mark.parametrize(
    ("surface", "panel"),
    [
        ("core_page", "interactions:my-drafts-panel"),
        ("clinical_chart", "interactions:chart-panel"),
        ("clinical_interaction", "interactions:interaction-panel"),
    ],
)
def test_each_surface_loads_its_notes_panel(
    client: Client, practice_a: Practice, surface: str, panel: str
) -> None:
    key = open_session(practice_a, ["clinician"], patient_id=PATIENT)
    html = client.get(reverse(f"handshake:{surface}"), {"session_key": key}).content.decode()
    assert f"{reverse(panel)}?session_key={key}" in panel_urls(html)


def test_a_clinician_goes_from_the_chart_to_a_new_note_and_back_from_the_interaction(
    client: Client, practice_a: Practice
) -> None:
    chart_key = open_session(practice_a, ["clinician"], patient_id=PATIENT)
    chart = client.get(reverse("handshake:clinical_chart"), {"session_key": chart_key})
    (panel,) = [u for u in panel_urls(chart.content.decode()) if "panels/chart" in u]
    assert "New note" in client.get(panel).content.decode()

    client.post(reverse("interactions:note-new"), {"session_key": chart_key, "patient_id": PATIENT})
    note = Note.objects.get()
    Note.objects.filter(pk=note.pk).update(hint_interaction_id="inter-Back1", title="Visit")

    key = open_session(practice_a, ["clinician"], patient_id=PATIENT, interaction_id="inter-Back1")
    surface = client.get(reverse("handshake:clinical_interaction"), {"session_key": key})
    (panel,) = [u for u in panel_urls(surface.content.decode()) if "panels/interaction" in u]
    opened = client.get(panel, HTTP_HX_REQUEST="true")
    assert opened["HX-Redirect"].startswith(reverse("interactions:note", args=[note.pk]))
    assert client.get(opened["HX-Redirect"]).status_code == 200


def test_my_drafts_on_the_core_page_are_this_users_only(
    client: Client, practice_a: Practice
) -> None:
    make_note(practice_a, title="Nobody's draft")
    key = open_session(practice_a, ["clinician"])
    text = client.get(reverse("interactions:my-drafts-panel"), {"session_key": key}).content
    assert b"Nobody's draft" not in text
    assert b"no unsigned drafts" in text
