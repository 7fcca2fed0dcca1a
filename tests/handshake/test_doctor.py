"""`hint_doctor`'s checks that need no running app (the rest run against the live sandbox in
tests/e2e/test_hint_setup_doctor_e2e.py)."""

import email.utils
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from handshake import doctor
from handshake.models import Practice
from tests.sync.helpers import patient_json

NOW = datetime(2026, 12, 2, 9, 0, 0, tzinfo=UTC)


def _http_date(delta: timedelta) -> str:
    return email.utils.format_datetime(NOW + delta, usegmt=True)


def test_a_clock_close_to_hints_passes():
    check = doctor._clock(_http_date(timedelta(seconds=-2)), now=NOW)

    assert check.ok and check.detail == "this machine is 2 s ahead of Hint"


def test_a_clock_far_from_hints_fails_and_says_to_synchronise_it():
    check = doctor._clock(_http_date(timedelta(minutes=5)), now=NOW)

    assert not check.ok
    assert check.detail == "this machine is 300 s behind Hint"
    assert "NTP" in check.fix


def test_a_refused_partner_key_fails_and_stops_the_checks(mocked_hint, hint_url, db):
    mocked_hint.get(f"{hint_url}/api/partner/partner", json={"message": "no"}, status=401)

    checks = list(doctor.checks())

    assert [c.name for c in checks] == ["Partner key"]
    assert not checks[0].ok and "partner API key" in checks[0].fix


def test_the_command_exits_non_zero_and_prints_what_to_do(mocked_hint, hint_url, db):
    mocked_hint.get(f"{hint_url}/api/partner/partner", json={"message": "no"}, status=401)
    out = StringIO()

    with pytest.raises(SystemExit) as exited:
        call_command("hint_doctor", stdout=out)

    assert exited.value.code == 1
    text = out.getvalue()
    assert "FAIL  Partner key" in text and "what to do:" in text and "1 of 1 checks failed" in text


def _patients(mocked, hint_url, patient, status=200):
    mocked.get(f"{hint_url}/api/provider/patients", json=[patient], status=status)


def test_a_practice_whose_hint_returns_the_remembered_shape_passes(
    practice_a, mocked_hint, hint_url
):
    _patients(mocked_hint, hint_url, patient_json())

    check = doctor._practice(practice_a)

    assert check.ok
    assert "street lines address_line1, sex/gender, phones array" in check.detail


def test_a_practice_whose_hint_returns_the_other_shape_fails_once_then_is_remembered(
    practice_a, mocked_hint, hint_url
):
    other = patient_json()
    other["address_line_1"] = other.pop("address_line1")
    other["address_line_2"] = other.pop("address_line2")
    _patients(mocked_hint, hint_url, other)

    first = doctor._practice(practice_a)
    second = doctor._practice(Practice.objects.get(pk=practice_a.pk))

    assert not first.ok
    assert "Hint returns street lines address_line_1" in first.detail
    assert "written as address_line1" in first.detail
    assert second.ok
    assert Practice.objects.get(pk=practice_a.pk).address_shape == "address_line_1"


def test_a_refused_practice_token_fails_and_says_to_reinstall(practice_a, mocked_hint, hint_url):
    mocked_hint.get(f"{hint_url}/api/provider/patients", json={"message": "revoked"}, status=401)

    check = doctor._practice(practice_a)

    assert not check.ok and "Reinstall" in check.fix
    assert "practice-a-token" not in check.detail


def test_a_hint_hosted_service_that_is_not_active_fails(mocked_hint, hint_url):
    mocked_hint.get(
        f"{hint_url}/api/partner/app/services",
        json=[
            {"id": "svc-1", "service_url": "https://a.hint.app", "status": "active"},
            {"id": "svc-2", "service_url": "https://b.hint.app", "status": "failed"},
        ],
    )

    check = doctor._services()

    assert not check.ok and check.detail == "https://b.hint.app is failed"


def test_no_hint_hosted_service_passes(mocked_hint, hint_url):
    mocked_hint.get(f"{hint_url}/api/partner/app/services", json=[])

    assert doctor._services().ok
