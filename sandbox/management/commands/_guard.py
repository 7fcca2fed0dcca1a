"""Sandbox commands refuse to run under the app's settings (production never has the sandbox)."""

from django.conf import settings
from django.core.management.base import CommandError


def require_sandbox_settings() -> None:
    if settings.ROOT_URLCONF != "sandbox.urls":
        raise CommandError(
            "Run sandbox commands through manage.py, which selects DJANGO_SETTINGS_MODULE="
            "sandbox.settings."
        )
