"""Encryption at rest: Fernet keys from FIELD_ENCRYPTION_KEYS (first encrypts, all decrypt)."""

from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "fernet:"


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys or not all(keys):
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: set at least one Fernet key.")
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key "
            "(32 url-safe base64-encoded bytes)."
        ) from exc


def _keys() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    """Encrypt text under the first key; the result is ASCII, safe for a text column."""
    return PREFIX + _keys().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    """Decrypt text written by `encrypt` under any configured key."""
    if not ciphertext.startswith(PREFIX):
        raise ValueError("value is not encrypted")
    try:
        return _keys().decrypt(ciphertext[len(PREFIX) :].encode()).decode()
    except InvalidToken as exc:
        # Never include the ciphertext: it would help nobody and leak material.
        raise ValueError(
            "cannot decrypt a stored secret with FIELD_ENCRYPTION_KEYS (key missing?)"
        ) from exc


def rotate(ciphertext: str) -> str:
    """Re-encrypt a stored value under the first key."""
    return PREFIX + _keys().rotate(ciphertext[len(PREFIX) :].encode()).decode()


class EncryptedTextField(models.TextField):
    """A text field stored encrypted; reads give back the plaintext. Empty stays empty."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)
