"""Installation: the code exchange (idempotent), activation, disconnection, token loss."""

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from handshake.models import AuditEntry, Practice
from handshake.services import (
    NotInstalled,
    practice_installation_event,
    practice_mark_disconnected,
    practice_token,
)
from tests.conftest import open_session

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parent.parent / "data" / "handshake"
CONNECT = "/api/partner/installations/connect"
CODE = "code-Secret-123"


@pytest.fixture(autouse=True)
def _product(settings) -> None:
    settings.HINT_PRODUCT_ID = "ppro-sandbox"


def installation(**changes: Any) -> dict[str, Any]:
    data = json.loads((DATA / "installation_active.json").read_text())
    data.update(changes)
    return data


def answer(mocked_hint, hint_url: str, body: Any, status: int = 200, path: str = CONNECT) -> None:
    mocked_hint.post(hint_url + path, json=body, status=status)


def test_connect_stores_the_installation_and_the_token(
    client: Client, mocked_hint, hint_url: str
) -> None:
    answer(mocked_hint, hint_url, installation())
    response = client.post(f"/hint/connect/{CODE}")
    assert response.status_code == 200
    assert response.json() == {"status": "active"}
    practice = Practice.objects.get(hint_id="pra-cccc")
    assert (practice.name, practice.installation_id, practice.product_id) == (
        "Practice C",
        "inst-9001",
        "ppro-sandbox",
    )
    assert practice.token == "practice-c-token" and practice.is_connected
    sent = mocked_hint.calls[0].request
    assert json.loads(sent.body) == {"code": CODE}
    assert sent.headers["Hint-Version"] == "marketplace_endpoints"


def test_the_practice_token_is_encrypted_at_rest(client: Client, mocked_hint, hint_url) -> None:
    answer(mocked_hint, hint_url, installation())
    client.post(f"/hint/connect/{CODE}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT token FROM handshake_practice WHERE hint_id = 'pra-cccc'")
        (raw,) = cursor.fetchone()
    assert "practice-c-token" not in raw and raw.startswith("fernet:")


def test_connect_stores_the_token_once_however_often_it_is_called(
    client: Client, mocked_hint, hint_url: str
) -> None:
    answer(mocked_hint, hint_url, installation())
    for _ in range(3):
        assert client.post(f"/hint/connect/{CODE}").status_code == 200
    first_write = Practice.objects.get().updated_at
    assert client.get(f"/hint/connect/{CODE}").status_code == 200
    practice = Practice.objects.get()
    assert practice.updated_at == first_write
    assert practice.token == "practice-c-token"
    assert AuditEntry.objects.filter(action="installation.connected").count() == 1


def test_a_code_hint_no_longer_accepts_changes_nothing(
    client: Client, practice_a: Practice, mocked_hint, hint_url: str
) -> None:
    answer(mocked_hint, hint_url, {"status": 422, "message": "Code already used"}, status=422)
    response = client.post(f"/hint/connect/{CODE}")
    assert response.status_code == 400
    assert "already" in response.json()["error"]
    practice_a.refresh_from_db()
    assert practice_a.token == "practice-a-token" and practice_a.is_connected
    assert Practice.objects.count() == 1


def test_hint_being_down_changes_nothing_and_says_try_again(
    client: Client, mocked_hint, hint_url: str
) -> None:
    answer(mocked_hint, hint_url, {"message": "down"}, status=503)
    response = client.post(f"/hint/connect/{CODE}")
    assert response.status_code == 503
    assert "Try again" in response.json()["error"]
    assert not Practice.objects.exists()


def test_a_refused_partner_key_is_reported_without_changes(
    client: Client, mocked_hint, hint_url: str
) -> None:
    answer(mocked_hint, hint_url, {"message": "bad key"}, status=401)
    assert client.post(f"/hint/connect/{CODE}").status_code == 502
    assert not Practice.objects.exists()


def test_a_second_install_of_the_same_practice_replaces_the_first(
    client: Client, mocked_hint, hint_url: str
) -> None:
    answer(mocked_hint, hint_url, installation())
    client.post(f"/hint/connect/{CODE}")
    mocked_hint.replace(
        "POST",
        hint_url + CONNECT,
        json=installation(
            id="inst-9002", api_keys=[{"token": "practice-c-token-2"}], status="pending"
        ),
    )
    client.post("/hint/connect/another-code")
    practice = Practice.objects.get()
    assert (practice.installation_id, practice.installation_status, practice.token) == (
        "inst-9002",
        "pending",
        "practice-c-token-2",
    )


def test_a_code_for_another_product_is_refused(client: Client, mocked_hint, hint_url) -> None:
    answer(mocked_hint, hint_url, installation(product={"id": "ppro-other"}))
    assert client.post(f"/hint/connect/{CODE}").status_code == 400
    assert not Practice.objects.exists()


def test_a_code_that_cannot_be_one_is_refused_without_calling_hint(
    client: Client, mocked_hint
) -> None:
    assert client.post("/hint/connect/" + "x" * 600).status_code == 400
    assert not mocked_hint.calls


def test_a_browser_arriving_with_a_code_sees_the_result(
    client: Client, mocked_hint, hint_url: str
) -> None:
    answer(mocked_hint, hint_url, installation())
    response = client.get(f"/hint/connect/{CODE}")
    assert response.status_code == 200
    text = response.content.decode()
    assert "The app is installed" in text and "Practice C" in text
    assert CODE not in text and "practice-c-token" not in text


def test_a_browser_with_a_used_code_sees_what_to_do(client: Client, mocked_hint, hint_url) -> None:
    answer(mocked_hint, hint_url, {"message": "used"}, status=400)
    response = client.get(f"/hint/connect/{CODE}")
    assert response.status_code == 400
    assert "did not complete" in response.content.decode()


def test_connect_refuses_other_methods(client: Client) -> None:
    assert client.put(f"/hint/connect/{CODE}").status_code == 405


def test_codes_and_tokens_never_reach_the_logs(
    client: Client, mocked_hint, hint_url: str, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    answer(mocked_hint, hint_url, {"message": "down"}, status=503)
    client.post(f"/hint/connect/{CODE}")
    answer(mocked_hint, hint_url, {"message": "nope"}, status=422)
    client.get(f"/hint/connect/{CODE}")
    mocked_hint.replace("POST", hint_url + CONNECT, json=installation())
    client.post(f"/hint/connect/{CODE}")
    assert CODE not in caplog.text and "practice-c-token" not in caplog.text


def test_a_pending_installation_is_activated_from_settings(
    client: Client, mocked_hint, hint_url: str
) -> None:
    practice = Practice.objects.create(
        hint_id="pra-cccc", installation_id="inst-9001", installation_status="pending"
    )
    key = open_session(practice, ["admin"])
    answer(
        mocked_hint, hint_url, installation(), path="/api/partner/installations/inst-9001/activate"
    )
    response = client.post("/hint/settings/activate", {"session_key": key})
    assert response.status_code == 303
    assert response["Location"].startswith(f"/hint/settings?session_key={key}")
    practice.refresh_from_db()
    assert practice.is_connected


def test_an_admin_can_paste_a_code_in_settings(client: Client, mocked_hint, hint_url: str) -> None:
    practice = Practice.objects.create(hint_id="pra-cccc", name="Practice C")
    key = open_session(practice, ["admin"])
    answer(mocked_hint, hint_url, installation())
    response = client.post("/hint/settings/connect", {"session_key": key, "code": CODE})
    assert response.status_code == 303
    practice.refresh_from_db()
    assert practice.is_connected
    page = client.get(response["Location"]).content.decode()
    assert "code was accepted" in page


def test_a_pasted_code_of_another_practice_is_refused(
    client: Client, admin_key: str, mocked_hint, hint_url: str
) -> None:
    answer(mocked_hint, hint_url, installation())  # names pra-cccc, not practice A
    response = client.post("/hint/settings/connect", {"session_key": admin_key, "code": CODE})
    assert response.status_code == 400
    assert "another practice" in response.content.decode()
    assert not Practice.objects.filter(hint_id="pra-cccc").exists()


@pytest.mark.parametrize("action", ["connect", "activate", "disconnect"])
def test_settings_actions_need_administer(client: Client, staff_key: str, action: str) -> None:
    response = client.post(f"/hint/settings/{action}", {"session_key": staff_key, "code": CODE})
    assert response.status_code == 403


@pytest.mark.parametrize("action", ["connect", "activate", "disconnect"])
def test_settings_actions_need_a_session(client: Client, action: str) -> None:
    assert client.post(f"/hint/settings/{action}", {"code": CODE}).status_code == 401


@pytest.mark.parametrize("action", ["connect", "activate", "disconnect"])
def test_settings_actions_refuse_get(client: Client, admin_key: str, action: str) -> None:
    assert client.get(f"/hint/settings/{action}", {"session_key": admin_key}).status_code == 405


def test_an_admin_can_disconnect_and_the_data_is_kept(
    client: Client, practice_a: Practice, admin_key: str, mocked_hint, hint_url: str
) -> None:
    mocked_hint.post(hint_url + "/api/partner/installations/inst-a/deactivate", json={})
    response = client.post("/hint/settings/disconnect", {"session_key": admin_key})
    assert response.status_code == 303
    practice_a.refresh_from_db()
    assert practice_a.installation_status == "deactivated"
    assert not practice_a.is_connected
    assert (
        AuditEntry.objects.for_practice(practice_a)
        .filter(action="installation.deactivated", actor_label="Admin Tester")
        .exists()
    )


def test_disconnecting_while_hint_is_down_changes_nothing(
    client: Client, practice_a: Practice, admin_key: str, mocked_hint, hint_url: str
) -> None:
    mocked_hint.post(hint_url + "/api/partner/installations/inst-a/deactivate", status=503)
    response = client.post("/hint/settings/disconnect", {"session_key": admin_key})
    assert response.status_code == 503
    practice_a.refresh_from_db()
    assert practice_a.is_connected


def test_activating_without_an_installation_says_to_install_first(
    client: Client, practice_a: Practice
) -> None:
    practice = Practice.objects.create(hint_id="pra-none")
    key = open_session(practice, ["admin"])
    response = client.post("/hint/settings/activate", {"session_key": key})
    assert response.status_code == 400
    assert "install the app from Hint first" in response.content.decode()


def test_practice_token_is_given_only_for_an_active_installation(practice_a: Practice) -> None:
    assert practice_token(practice_a) == "practice-a-token"
    with pytest.raises(NotInstalled):
        practice_token(Practice.objects.create(hint_id="pra-x"))


def test_a_token_hint_rejects_marks_the_practice_disconnected(practice_a: Practice) -> None:
    practice_mark_disconnected(practice=practice_a)
    practice_mark_disconnected(practice=practice_a)
    practice_a.refresh_from_db()
    assert practice_a.installation_status == "disconnected" and practice_a.token == ""
    with pytest.raises(NotInstalled):
        practice_token(practice_a)
    assert AuditEntry.objects.filter(action="installation.disconnected").count() == 1


def test_integration_events_update_the_status(practice_a: Practice) -> None:
    practice_installation_event(practice=practice_a, status="deactivated")
    assert not Practice.objects.get(pk=practice_a.pk).is_connected
    practice_installation_event(practice=practice_a, status="active")
    assert Practice.objects.get(pk=practice_a.pk).is_connected


CALLS: list[str] = []


def connected_hook(*, practice: Practice) -> None:
    CALLS.append(practice.hint_id)


def failing_hook(*, practice: Practice) -> None:
    raise RuntimeError("boom")


@pytest.fixture
def hooks(settings) -> list[str]:
    CALLS.clear()
    settings.HINT_PRACTICE_CONNECTED_HOOKS = [
        "tests.handshake.test_installation.failing_hook",
        "tests.handshake.test_installation.connected_hook",
    ]
    return CALLS


def test_a_newly_connected_practice_runs_the_hooks_once(
    client: Client, mocked_hint, hint_url: str, hooks: list[str], django_capture_on_commit_callbacks
) -> None:
    answer(mocked_hint, hint_url, installation())
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/hint/connect/{CODE}")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/hint/connect/{CODE}")
    assert hooks == ["pra-cccc"]
    assert Practice.objects.get().is_connected  # a failing hook does not undo the install


def test_an_activation_event_runs_the_hooks(
    practice_a: Practice, hooks: list[str], django_capture_on_commit_callbacks
) -> None:
    practice_installation_event(practice=practice_a, status="deactivated")
    with django_capture_on_commit_callbacks(execute=True):
        practice_installation_event(practice=practice_a, status="active")
    assert hooks == ["pra-aaaa"]
