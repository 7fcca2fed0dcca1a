"""`hint_setup`: what Hint holds against this deployment, changed only with --apply.

Hint is faked with `responses`; the whole round trip against the sandbox is in
tests/e2e/test_hint_setup_doctor_e2e.py.
"""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from hintpartner.hint import setup

APP = "https://partner.example.com"
SURFACES = ("core_page", "settings", "clinical_chart", "clinical_interaction")
LABEL = "Contacts and sync"  # HINT_SETTINGS_LABEL's default


def _registered(base: str = APP, *, localhost: bool = False) -> dict:
    """Hint's four answers for an app registered at `base`."""
    prefix = "localhost_" if localhost else ""
    return {
        "partner": {
            "partner": {
                "name": "Acme",
                "email": "dev@acme.test",
                "auth_type": "automatic_headless",
                f"{prefix}redirect_url": f"{base}/hint/connect/",
                **({"localhost_webhook_url": f"{base}/hint/webhooks"} if localhost else {}),
            }
        },
        "app": {"app": {f"{prefix}handshake_url": f"{base}/hint/handshake"}},
        "anchors": [
            {
                "id": f"anc-{s}",
                "type": s,
                f"{prefix}source_url": f"{base}/hint/{s}",
                **({"settings_label": LABEL} if s == "settings" else {}),
            }
            for s in SURFACES
        ],
        "endpoints": [{"id": "whe-1", "webhook_url": f"{base}/hint/webhooks"}],
    }


def _serve(mocked, hint_url: str, answers: dict) -> None:
    api = f"{hint_url}/api/partner"
    mocked.get(f"{api}/partner", json=answers["partner"])
    mocked.get(f"{api}/app", json=answers["app"])
    mocked.get(f"{api}/app/anchors", json=answers["anchors"])
    mocked.get(f"{api}/webhook_endpoints", json=answers["endpoints"])


def _writes(mocked) -> list:
    return [c for c in mocked.calls if c.request.method != "GET"]


def _run(*args: str) -> str:
    out = StringIO()
    call_command("hint_setup", *args, stdout=out, stderr=out)
    return out.getvalue()


def test_an_https_deployment_wants_the_plain_fields():
    want = setup.wanted(app_url=APP, webhook_url=f"{APP}/hint/webhooks")

    assert not want.localhost
    assert want.partner == {
        "auth_type": "automatic_headless",
        "redirect_url": f"{APP}/hint/connect/",
    }
    assert want.app == {"handshake_url": f"{APP}/hint/handshake"}
    assert want.anchor_field == "source_url"
    assert want.anchors["clinical_interaction"] == f"{APP}/hint/clinical_interaction"


def test_a_laptop_on_http_wants_hints_localhost_fields():
    want = setup.wanted(
        app_url="http://localhost:8000", webhook_url="https://t.trycloudflare.com/hint/webhooks"
    )

    assert want.localhost
    assert want.partner["localhost_redirect_url"] == "http://localhost:8000/hint/connect/"
    assert want.partner["localhost_webhook_url"] == "https://t.trycloudflare.com/hint/webhooks"
    assert "redirect_url" not in want.partner
    assert want.app == {"localhost_handshake_url": "http://localhost:8000/hint/handshake"}
    assert want.anchor_field == "localhost_source_url"


@override_settings(APP_URL=APP, HINT_WEBHOOK_URL=f"{APP}/hint/webhooks")
def test_a_matching_registration_has_nothing_to_change(mocked_hint, hint_url):
    _serve(mocked_hint, hint_url, _registered())

    out = _run("--apply")

    assert "nothing to change" in out
    assert _writes(mocked_hint) == []


@override_settings(APP_URL=APP, HINT_WEBHOOK_URL=f"{APP}/hint/webhooks")
def test_bare_answers_are_read_like_wrapped_ones(mocked_hint, hint_url):
    answers = _registered()
    answers["partner"] = answers["partner"]["partner"]
    answers["app"] = answers["app"]["app"]
    answers["anchors"] = [{"anchor": a} for a in answers["anchors"]]
    _serve(mocked_hint, hint_url, answers)

    assert "nothing to change" in _run()


@override_settings(APP_URL=APP, HINT_WEBHOOK_URL=f"{APP}/hint/webhooks")
def test_a_dry_run_prints_each_difference_and_changes_nothing(mocked_hint, hint_url):
    _serve(mocked_hint, hint_url, _registered("https://old.example.com"))

    out = _run()

    assert "What differs (7):" in out
    assert (
        "app handshake_url: Hint has 'https://old.example.com/hint/handshake', this deployment "
        f"needs '{APP}/hint/handshake'" in out
    )
    assert "anchor settings:" in out and "webhook endpoint webhook_url:" in out
    assert "Dry run: nothing changed" in out
    assert _writes(mocked_hint) == []


@override_settings(APP_URL=APP, HINT_WEBHOOK_URL=f"{APP}/hint/webhooks")
def test_apply_sets_only_what_differs(mocked_hint, hint_url):
    old = _registered()
    old["app"] = {"app": {"handshake_url": "https://old.example.com/hint/handshake"}}
    old["anchors"] = [a for a in old["anchors"] if a["type"] != "clinical_chart"]
    old["endpoints"] = []
    api = f"{hint_url}/api/partner"
    # First the old registration, then (re-read after applying) the new one.
    for answers in (old, _registered()):
        _serve(mocked_hint, hint_url, answers)
    mocked_hint.patch(f"{api}/app", json={"app": {}})
    mocked_hint.post(f"{api}/app/anchors", json={}, status=201)
    mocked_hint.post(f"{api}/webhook_endpoints", json={}, status=201)

    out = _run("--apply")

    writes = [
        (c.request.method, c.request.url, json.loads(c.request.body)) for c in _writes(mocked_hint)
    ]
    assert writes == [
        ("PATCH", f"{api}/app", {"app": {"handshake_url": f"{APP}/hint/handshake"}}),
        (
            "POST",
            f"{api}/app/anchors",
            {"anchor": {"type": "clinical_chart", "source_url": f"{APP}/hint/clinical_chart"}},
        ),
        ("POST", f"{api}/webhook_endpoints", {"webhook_url": f"{APP}/hint/webhooks"}),
    ]
    assert "Done: Hint's registration matches this deployment." in out


@override_settings(APP_URL=APP, HINT_WEBHOOK_URL=f"{APP}/hint/webhooks")
def test_a_hint_refusing_a_second_anchor_for_a_surface_gets_the_anchor_patched(
    mocked_hint, hint_url
):
    old = _registered()
    old["anchors"][0]["source_url"] = "https://old.example.com/hint/core_page"
    for answers in (old, _registered()):
        _serve(mocked_hint, hint_url, answers)
    api = f"{hint_url}/api/partner"
    mocked_hint.post(
        f"{api}/app/anchors",
        json={"status": 422, "message": "Validation failed: Type has already been taken"},
        status=422,
    )
    mocked_hint.patch(f"{api}/app/anchors/anc-core_page", json={"anchor": {}})

    _run("--apply")

    patch = _writes(mocked_hint)[-1]
    assert patch.request.method == "PATCH"
    assert json.loads(patch.request.body) == {"anchor": {"source_url": f"{APP}/hint/core_page"}}


@override_settings(APP_URL=APP, HINT_WEBHOOK_URL=f"{APP}/hint/webhooks")
def test_the_settings_tab_gets_its_label_on_the_anchor_hint_has(mocked_hint, hint_url):
    old = _registered()
    old["anchors"][1].pop("settings_label")  # Hint then shows the app's generic name
    api = f"{hint_url}/api/partner"
    _serve(mocked_hint, hint_url, old)
    assert f"anchor label settings: Hint has nothing, this deployment needs '{LABEL}'" in _run()
    for answers in (old, _registered()):
        _serve(mocked_hint, hint_url, answers)
    mocked_hint.patch(f"{api}/app/anchors/anc-settings", json={"anchor": {}})

    out = _run("--apply")

    writes = [(c.request.url, json.loads(c.request.body)) for c in _writes(mocked_hint)]
    assert writes == [(f"{api}/app/anchors/anc-settings", {"anchor": {"settings_label": LABEL}})]
    assert "Done: Hint's registration matches this deployment." in out


@override_settings(
    APP_URL=APP, HINT_WEBHOOK_URL=f"{APP}/hint/webhooks", HINT_SETTINGS_LABEL="Acme sync"
)
def test_a_new_settings_anchor_is_created_with_its_label_in_one_request(mocked_hint, hint_url):
    old = _registered()
    old["anchors"] = [a for a in old["anchors"] if a["type"] != "settings"]
    new = _registered()
    new["anchors"][1]["settings_label"] = "Acme sync"
    for answers in (old, new):
        _serve(mocked_hint, hint_url, answers)
    api = f"{hint_url}/api/partner"
    mocked_hint.post(f"{api}/app/anchors", json={}, status=201)

    _run("--apply")

    writes = [(c.request.method, json.loads(c.request.body)) for c in _writes(mocked_hint)]
    wanted = {"type": "settings", "source_url": f"{APP}/hint/settings"}
    assert writes == [("POST", {"anchor": {**wanted, "settings_label": "Acme sync"}})]


@override_settings(APP_URL=APP, HINT_WEBHOOK_URL=f"{APP}/hint/webhooks")
def test_what_hint_refuses_is_reported_and_the_command_fails(mocked_hint, hint_url):
    old = _registered()
    old["partner"]["partner"]["auth_type"] = "manual"
    for _ in range(2):
        _serve(mocked_hint, hint_url, old)
    mocked_hint.patch(
        f"{hint_url}/api/partner/partner",
        json={"status": 422, "message": "Auth type is not allowed"},
        status=422,
    )

    with pytest.raises(CommandError, match="still differs"):
        _run("--apply")


@override_settings(HINT_API_KEY="sbx-very-secret-partner-key")
def test_a_refused_partner_key_stops_it_without_showing_the_key(mocked_hint, hint_url):
    mocked_hint.get(
        f"{hint_url}/api/partner/partner", json={"status": 401, "message": "nope"}, status=401
    )

    with pytest.raises(CommandError) as refused:
        _run()

    assert "401" in str(refused.value)
    assert "sbx-very-secret" not in str(refused.value)


def test_dry_run_and_apply_cannot_be_combined():
    with pytest.raises(CommandError):
        _run("--apply", "--dry-run")
