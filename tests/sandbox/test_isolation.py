"""The sandbox stays out of the app: own settings, own database, one shared module."""

import ast
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
APPS = ("hintpartner", "handshake", "webhooks", "sync", "interactions")
ALLOWED_FROM_OURS = {"hintpartner.hint.signing", "hintpartner.devsecrets"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            # `from hintpartner.hint import signing` counts as hintpartner.hint.signing
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_apps_settings_never_install_the_sandbox():
    assert "sandbox" not in settings.INSTALLED_APPS
    assert not any(app.startswith("sandbox") for app in settings.INSTALLED_APPS)


def test_the_sandbox_imports_only_signing_and_the_dev_secrets_of_our_code():
    for path in (ROOT / "sandbox").rglob("*.py"):
        ours = {
            n if not n.startswith("hintpartner.devsecrets.") else "hintpartner.devsecrets"
            for n in _imports(path)
            if n.split(".")[0] in APPS
        }
        assert ours <= ALLOWED_FROM_OURS, f"{path} imports {ours - ALLOWED_FROM_OURS}"


def test_manage_py_runs_sandbox_commands_under_the_sandbox_settings():
    source = (ROOT / "manage.py").read_text()
    assert '"sandbox.settings"' in source
    for command in ("runsandbox", "sandbox_migrate", "sandbox_seed", "sandbox_trigger"):
        assert f'"{command}"' in source
