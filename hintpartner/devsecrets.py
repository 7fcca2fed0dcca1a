"""Development secrets: generated once into a git-ignored file, shared by the app and the sandbox.

Only development and test use this. Production reads every secret from the environment.
A secret the environment gives (a real staging key, say) is never generated and never written
here: the file holds only what the environment leaves out, and no file is written when it gives
them all.
"""

import json
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path

from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parent.parent
DEV_SECRETS_FILE = BASE_DIR / ".dev-secrets.json"

GENERATORS: dict[str, Callable[[], str]] = {
    "SECRET_KEY": lambda: secrets.token_urlsafe(50),
    "FIELD_ENCRYPTION_KEYS": lambda: Fernet.generate_key().decode(),
    "HINT_WEBHOOK_SECRET": lambda: secrets.token_hex(32),
    "HINT_API_KEY": lambda: "sbx-partner-" + secrets.token_urlsafe(24),
    "HINT_PARTNER_ID": lambda: "ptr-sandbox",
    "HINT_PRODUCT_ID": lambda: "ppro-sandbox",
}


def _given(environ: Mapping[str, str]) -> set[str]:
    """The secrets the environment sets (a blank variable gives nothing)."""
    return {name for name in GENERATORS if environ.get(name, "").strip()}


def load_dev_secrets(
    path: Path = DEV_SECRETS_FILE, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The development secrets the environment does not give, from the file (mode 0600),
    generating and storing only those the file lacks."""
    environ = os.environ if environ is None else environ
    given = _given(environ)
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    # Values stored on an earlier run are kept (a field key lost would strand encrypted rows);
    # only secrets neither the environment nor the file has are generated.
    missing = {name: make() for name, make in GENERATORS.items() if name not in given | set(stored)}
    if not missing:
        return stored
    stored.update(missing)
    tmp = path.with_suffix(".tmp")
    # Created 0600, never readable by others even for a moment.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(stored, indent=2))
    tmp.chmod(0o600)  # an older .tmp left behind keeps its mode through O_TRUNC
    tmp.replace(path)
    return stored
