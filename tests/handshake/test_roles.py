"""Roles and permissions, the @hint_session decorator, and links that carry the key."""

import pytest
from django.http import HttpRequest, HttpResponse
from django.template import Context, Template
from django.test import Client, RequestFactory

from handshake.decorators import HintRequest, hint_session
from handshake.links import redirect_with_session
from handshake.models import HintSession, Practice
from handshake.services import context_build, key_hash
from tests.conftest import open_session

pytestmark = pytest.mark.django_db

ALL = {
    "view_records",
    "edit_records",
    "unlink_contacts",
    "write_notes",
    "sign_notes",
    "view_settings",
    "administer",
}
# DESIGN.md's table, written out here so a change to settings has to change this test too.
ADMIN_READS = {"view_records", "view_settings"}
PATIENT_WRITES = {"edit_records", "unlink_contacts", "write_notes"}
EXPECTED = {
    "admin": ADMIN_READS | PATIENT_WRITES | {"administer"},
    "clinician": {"view_records", "edit_records", "unlink_contacts", "write_notes", "sign_notes"},
    "staff": {"view_records", "edit_records", "write_notes"},
}


def hint_for(key: str):
    return context_build(session=HintSession.objects.get(key_hash=key_hash(key)), key=key)


def guarded(permission: str):
    @hint_session(permission=permission)
    def view(request: HintRequest) -> HttpResponse:
        return HttpResponse("ok")

    return view


@pytest.mark.parametrize("role", ["admin", "clinician", "staff"])
def test_each_role_sees_exactly_its_permissions(practice_a: Practice, role: str) -> None:
    key = open_session(practice_a, [role])
    assert hint_for(key).permissions == EXPECTED[role]


@pytest.mark.parametrize("role", ["admin", "clinician", "staff"])
@pytest.mark.parametrize("permission", sorted(ALL))
def test_the_decorator_lets_through_exactly_the_permitted(
    rf: RequestFactory, practice_a: Practice, role: str, permission: str
) -> None:
    key = open_session(practice_a, [role])
    response = guarded(permission)(rf.get("/x", {"session_key": key}))
    assert response.status_code == (200 if permission in EXPECTED[role] else 403)


def test_permissions_add_up_across_roles(practice_a: Practice) -> None:
    key = open_session(practice_a, ["staff", "clinician"])
    assert hint_for(key).permissions == EXPECTED["staff"] | EXPECTED["clinician"]


def test_an_unknown_role_grants_nothing(practice_a: Practice) -> None:
    assert hint_for(open_session(practice_a, ["owner"])).permissions == frozenset()


def test_renamed_roles_come_from_settings(practice_a: Practice, settings) -> None:
    settings.HINT_ROLE_PERMISSIONS = {"Doctor": ["view_records", "sign_notes"]}
    key = open_session(practice_a, ["Doctor"])
    assert hint_for(key).permissions == {"view_records", "sign_notes"}


def test_staff_cannot_sign_and_the_page_names_the_role_to_ask_for(
    rf: RequestFactory, staff_key: str
) -> None:
    response = guarded("sign_notes")(rf.get("/x", {"session_key": staff_key}))
    assert response.status_code == 403
    text = response.content.decode()
    assert "sign notes" in text and "the role “clinician”" in text
    assert "“admin”" not in text


def test_clinician_cannot_administer_and_is_told_to_ask_for_admin(
    rf: RequestFactory, clinician_key: str
) -> None:
    response = guarded("administer")(rf.get("/x", {"session_key": clinician_key}))
    assert response.status_code == 403
    assert "“admin”" in response.content.decode()


def test_empty_roles_are_denied_not_an_error(rf: RequestFactory, practice_a: Practice) -> None:
    key = open_session(practice_a, [])
    response = guarded("view_records")(rf.get("/x", {"session_key": key}))
    assert response.status_code == 403
    assert "no role" in response.content.decode()


def test_a_support_session_has_the_admins_reads_and_nothing_else(practice_a: Practice) -> None:
    key = open_session(practice_a, [], access_context="platform_support")
    hint = hint_for(key)
    assert hint.is_support and hint.user is None
    assert hint.permissions == ADMIN_READS


def test_the_setting_opens_patient_writes_to_support_but_never_administer(
    practice_a: Practice, settings
) -> None:
    settings.HINT_SUPPORT_CAN_WRITE = True
    key = open_session(practice_a, [], access_context="platform_support")
    assert hint_for(key).permissions == ADMIN_READS | PATIENT_WRITES
    assert "administer" not in hint_for(key).permissions


def test_support_never_administers_even_as_a_role_that_does(practice_a: Practice, settings) -> None:
    settings.HINT_SUPPORT_ROLE = "boss"
    settings.HINT_ROLE_PERMISSIONS = {"boss": ["view_settings", "administer"]}
    key = open_session(practice_a, [], access_context="platform_support")
    assert hint_for(key).permissions == {"view_settings"}


def test_support_is_told_it_is_read_only_when_it_tries_an_installation_change(
    rf: RequestFactory, practice_a: Practice
) -> None:
    key = open_session(practice_a, [], access_context="platform_support")
    response = guarded("administer")(rf.post("/x", {"session_key": key}))
    assert response.status_code == 403
    assert "Hint support sessions can look but not" in response.content.decode()


def test_a_permission_per_method_reads_with_one_and_changes_with_the_other(
    rf: RequestFactory, practice_a: Practice
) -> None:
    @hint_session(permission={"GET": "view_settings", "POST": "administer"})
    def view(request: HintRequest) -> HttpResponse:
        return HttpResponse("ok")

    key = open_session(practice_a, [], access_context="platform_support")
    assert view(rf.get("/x", {"session_key": key})).status_code == 200
    assert view(rf.post("/x", {"session_key": key})).status_code == 403


def test_the_decorator_records_its_permission_for_the_route_table() -> None:
    view = guarded("sign_notes")
    assert (view.hint_route_access, view.hint_permission) == ("session", "sign_notes")


def test_the_template_flags_read_as_false_for_a_permission_not_held(staff_key: str) -> None:
    html = Template("{% if hint.can.administer %}yes{% else %}no{% endif %}").render(
        Context({"hint": hint_for(staff_key)})
    )
    assert html == "no"


def test_a_support_session_is_told_it_is_read_only(
    rf: RequestFactory, practice_a: Practice
) -> None:
    key = open_session(practice_a, [], access_context="platform_support")
    response = guarded("edit_records")(rf.get("/x", {"session_key": key}))
    assert response.status_code == 403
    assert "Hint support sessions" in response.content.decode()


def test_the_key_can_come_from_a_form_field(client: Client, admin_key: str) -> None:
    @hint_session()
    def view(request: HintRequest) -> HttpResponse:
        return HttpResponse(request.hint.practice.name)

    rf = RequestFactory()
    assert view(rf.post("/x", {"session_key": admin_key})).content == b"Practice A"


def test_a_post_needs_no_csrf_cookie_but_needs_the_key(admin_key: str) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/hint/settings/connect", {"code": ""})
    assert response.status_code == 401
    response = client.post("/hint/settings/connect", {"code": "", "session_key": admin_key})
    assert response.status_code == 400  # reached the view: the code is empty


def test_an_htmx_request_without_a_session_reloads_the_surface(client: Client) -> None:
    response = client.get("/hint/core_page", HTTP_HX_REQUEST="true")
    assert response.status_code == 401
    assert response["HX-Refresh"] == "true"


def test_the_context_never_shows_its_key_or_token(admin_key: str) -> None:
    hint = hint_for(admin_key)
    assert admin_key not in repr(hint) and hint.token not in repr(hint)


def test_the_context_uses_the_session_token_first(practice_a: Practice) -> None:
    hint = hint_for(open_session(practice_a, ["staff"], access_token="sess-tok"))
    assert (hint.token, hint.token_source) == ("sess-tok", "session")


def test_the_context_falls_back_to_the_practice_token(practice_a: Practice) -> None:
    from handshake.services import session_open

    payload = {"user": {"id": "u1"}, "practice": {"id": practice_a.hint_id}}
    opened = session_open(payload=payload)
    hint = context_build(session=opened.session, key=opened.key)
    assert (hint.token, hint.token_source) == ("practice-a-token", "practice")


def test_the_context_has_no_token_before_installation_without_a_session_token() -> None:
    from handshake.services import session_open

    payload = {"user": {"id": "u1"}, "practice": {"id": "pra-new"}}
    opened = session_open(payload=payload)
    hint = context_build(session=opened.session, key=opened.key)
    assert (hint.token, hint.token_source) == ("", "")


def test_hint_url_and_hint_key_field_carry_the_key(rf: RequestFactory, admin_key: str) -> None:
    template = Template(
        '{% load hint %}<a href="{% hint_url "handshake:settings" %}">s</a>{% hint_key_field %}'
    )
    html = template.render(Context({"hint": hint_for(admin_key)}))
    assert f'href="/hint/settings?session_key={admin_key}"' in html
    assert f'<input type="hidden" name="session_key" value="{admin_key}">' in html


def test_redirect_with_session_keeps_the_key(rf: RequestFactory, admin_key: str) -> None:
    request: HttpRequest = rf.post("/x")
    request.hint = hint_for(admin_key)  # type: ignore[attr-defined]
    response = redirect_with_session(request, "handshake:core_page")
    assert response.status_code == 303
    assert response["Location"] == f"/hint/core_page?session_key={admin_key}"
