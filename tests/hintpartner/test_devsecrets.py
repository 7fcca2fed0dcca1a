"""Development secrets: the file holds only what the environment does not give."""

import json
import stat

from hintpartner.devsecrets import GENERATORS, load_dev_secrets

ALL_GIVEN = {name: f"from-env-{name}" for name in GENERATORS}


def test_it_generates_every_secret_when_the_environment_gives_none(tmp_path):
    path = tmp_path / ".dev-secrets.json"
    secrets = load_dev_secrets(path, environ={})
    assert set(secrets) == set(GENERATORS)
    assert json.loads(path.read_text()) == secrets
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_secret_the_environment_gives_is_never_written(tmp_path):
    path = tmp_path / ".dev-secrets.json"
    environ = {"HINT_API_KEY": "sbx-real-staging-key", "HINT_WEBHOOK_SECRET": "real-secret"}
    secrets = load_dev_secrets(path, environ=environ)
    stored = json.loads(path.read_text())
    assert "HINT_API_KEY" not in stored and "HINT_WEBHOOK_SECRET" not in stored
    assert "sbx-real-staging-key" not in path.read_text()
    assert "real-secret" not in path.read_text()
    assert set(stored) == set(GENERATORS) - set(environ)
    assert secrets == stored


def test_no_file_is_written_when_the_environment_gives_every_secret(tmp_path):
    path = tmp_path / ".dev-secrets.json"
    assert load_dev_secrets(path, environ=ALL_GIVEN) == {}
    assert not path.exists()
    assert not path.with_suffix(".tmp").exists()


def test_a_blank_variable_gives_nothing(tmp_path):
    path = tmp_path / ".dev-secrets.json"
    secrets = load_dev_secrets(path, environ={**ALL_GIVEN, "SECRET_KEY": "  "})
    assert set(secrets) == {"SECRET_KEY"}
    assert json.loads(path.read_text()) == secrets


def test_stored_secrets_are_kept_and_the_file_is_not_rewritten_when_nothing_is_missing(tmp_path):
    path = tmp_path / ".dev-secrets.json"
    first = load_dev_secrets(path, environ={})
    before = path.stat().st_mtime_ns
    assert load_dev_secrets(path, environ={}) == first
    assert path.stat().st_mtime_ns == before


def test_a_secret_missing_from_an_older_file_is_added_without_changing_the_others(tmp_path):
    path = tmp_path / ".dev-secrets.json"
    path.write_text(json.dumps({"SECRET_KEY": "kept", "FIELD_ENCRYPTION_KEYS": "kept-too"}))
    secrets = load_dev_secrets(path, environ={"HINT_API_KEY": "from-env"})
    stored = json.loads(path.read_text())
    assert stored["SECRET_KEY"] == "kept" and stored["FIELD_ENCRYPTION_KEYS"] == "kept-too"
    assert "HINT_API_KEY" not in stored
    assert set(stored) == set(GENERATORS) - {"HINT_API_KEY"}
    assert secrets == stored
