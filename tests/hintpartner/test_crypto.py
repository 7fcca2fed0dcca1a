import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from handshake.models import Practice
from hintpartner import crypto


def _raw_token(practice: Practice) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT token FROM handshake_practice WHERE id = %s", [practice.pk])
        return cursor.fetchone()[0]


def test_no_plaintext_token_is_stored(practice_a: Practice) -> None:
    raw = _raw_token(practice_a)
    assert "practice-a-token" not in raw
    assert raw.startswith("fernet:")
    assert Practice.objects.get(pk=practice_a.pk).token == "practice-a-token"


def test_reencrypt_moves_every_token_to_the_new_first_key(practice_a: Practice, settings) -> None:
    old = settings.FIELD_ENCRYPTION_KEYS
    new_key = Fernet.generate_key().decode()
    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key, *old]):
        call_command("reencrypt_fields", stdout=open("/dev/null", "w"))  # noqa: SIM115
        assert Practice.objects.get(pk=practice_a.pk).token == "practice-a-token"
    # The old key alone can no longer read it: it was rewritten under the new key.
    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key]):
        assert Practice.objects.get(pk=practice_a.pk).token == "practice-a-token"
    with override_settings(FIELD_ENCRYPTION_KEYS=old), pytest.raises(ValueError):
        Practice.objects.get(pk=practice_a.pk)


def test_a_value_under_an_unknown_key_fails_without_showing_it() -> None:
    stored = crypto.encrypt("secret-value")
    other_key = Fernet.generate_key().decode()
    with override_settings(FIELD_ENCRYPTION_KEYS=[other_key]), pytest.raises(ValueError) as caught:
        crypto.decrypt(stored)
    assert "secret-value" not in str(caught.value)
    assert stored not in str(caught.value)


def test_reencrypt_names_an_unreadable_value_without_showing_it_and_rotates_the_rest(
    practice_a: Practice, practice_b: Practice, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.core.management.base import CommandError

    from hintpartner.management.commands import reencrypt_fields

    monkeypatch.setattr(reencrypt_fields, "BATCH", 1)  # one row per transaction: walk them all
    with connection.cursor() as cursor:  # stored by hand, unencrypted: a mistake to report
        cursor.execute(
            "UPDATE handshake_practice SET token = %s WHERE id = %s",
            ["plain-secret", practice_b.pk],
        )
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, *settings.FIELD_ENCRYPTION_KEYS]
    errors = io.StringIO()
    with pytest.raises(CommandError, match="1 values could not be read"):
        call_command("reencrypt_fields", stdout=io.StringIO(), stderr=errors)
    assert "plain-secret" not in errors.getvalue()
    assert f"handshake_practice {practice_b.pk}: token is unreadable" in errors.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key gone: practice A was rotated
    assert Practice.objects.get(pk=practice_a.pk).token == "practice-a-token"
