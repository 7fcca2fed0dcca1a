"""Development secrets: generated once into a git-ignored file, shared by the app and the sandbox.

Only development and test use this. Production reads every secret from the environment.
"""

import json
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parent.parent
DEV_SECRETS_FILE = BASE_DIR / ".dev-secrets.json"


def _generate() -> dict[str, str]:
    return {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "HINT_WEBHOOK_SECRET": secrets.token_hex(32),
        "HINT_API_KEY": "sbx-partner-" + secrets.token_urlsafe(24),
        "HINT_PARTNER_ID": "ptr-sandbox",
        "HINT_PRODUCT_ID": "ppro-sandbox",
    }


def load_dev_secrets(path: Path = DEV_SECRETS_FILE) -> dict[str, str]:
    """Read the development secrets file, creating it (mode 0600) on first use."""
    if path.exists():
        stored = json.loads(path.read_text())
        fresh = _generate()
        missing = {k: v for k, v in fresh.items() if k not in stored}
        if not missing:
            return stored
        stored.update(missing)
    else:
        stored = _generate()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(stored, indent=2))
    tmp.chmod(0o600)
    tmp.replace(path)
    return stored
