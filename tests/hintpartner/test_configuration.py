"""Start-up configuration: production refuses to start without its secrets, or with DEBUG."""

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HINT_", "DJANGO", "SECRET"))}
    base.pop("DATABASE_URL", None)
    base.pop("REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "hintpartner.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "x7#k2p!q9z" * 6,
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "HINT_API_KEY": "partner-key",
    "HINT_WEBHOOK_SECRET": "whsec",
    "HINT_PRODUCT_ID": "ppro-1",
    "DATABASE_URL": "sqlite:////tmp/hintpartner-deploy-check.sqlite3",
    "ALLOWED_HOSTS": "partner.example.com",
}


def test_production_without_secrets_stops_with_the_names_of_the_missing_variables() -> None:
    result = _manage("check", env={"DJANGO_ENV": "production"})
    assert result.returncode != 0
    for name in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "HINT_API_KEY", "HINT_WEBHOOK_SECRET"):
        assert name in result.stderr


def test_production_names_just_the_one_variable_that_is_missing() -> None:
    env = {**PRODUCTION}
    del env["HINT_WEBHOOK_SECRET"]
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "HINT_WEBHOOK_SECRET" in result.stderr
    assert "SECRET_KEY," not in result.stderr


def test_check_deploy_is_clean_with_production_variables() -> None:
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_debug() -> None:
    result = _manage("check", env={**PRODUCTION, "DEBUG": "true"})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DEBUG=true is refused with DJANGO_ENV=production" in result.stderr


def test_production_starts_with_debug_set_to_false() -> None:
    result = _manage("check", env={**PRODUCTION, "DEBUG": "false"})
    assert result.returncode == 0, result.stdout + result.stderr
