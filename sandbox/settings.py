"""Settings for the sandbox, a local stand-in for Hint. Its own process, its own database.

Never imported by the app's settings. `manage.py` selects this module for the sandbox's commands
(`runsandbox`, `sandbox_migrate`, `sandbox_seed`, `sandbox_trigger`). Secrets are the development
ones the app uses too (`hintpartner.devsecrets`), environment variables win.
"""

import os
from pathlib import Path

import environ

from hintpartner.devsecrets import load_dev_secrets

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
_dev = load_dev_secrets()


def _secret(name: str) -> str:
    return os.environ.get(name) or _dev.get(name, "")


# The secrets the sandbox shares with the app: it signs handshakes and webhooks with the first,
# accepts the second as the partner key, and names the third as the installed product.
HINT_WEBHOOK_SECRET = _secret("HINT_WEBHOOK_SECRET")
HINT_API_KEY = _secret("HINT_API_KEY")
HINT_PRODUCT_ID = _secret("HINT_PRODUCT_ID") or "ppro-sandbox"
HINT_PARTNER_ID = _secret("HINT_PARTNER_ID") or "ptr-sandbox"

# Where the app runs (runsandbox --app-url overrides) and where this sandbox is reachable.
SANDBOX_APP_URL = env.str("SANDBOX_APP_URL", default="http://127.0.0.1:8000").rstrip("/")
SANDBOX_PUBLIC_URL = env.str("SANDBOX_URL", default="http://127.0.0.1:8001").rstrip("/")
SANDBOX_RATE_LIMIT = env.float("SANDBOX_RATE_LIMIT", default=100.0)
# Seconds before a failed webhook delivery is retried: base * 2**attempt, capped.
SANDBOX_WEBHOOK_BACKOFF = env.float("SANDBOX_WEBHOOK_BACKOFF", default=1.0)
SANDBOX_WEBHOOK_BACKOFF_MAX = env.float("SANDBOX_WEBHOOK_BACKOFF_MAX", default=300.0)
SANDBOX_WEBHOOK_MAX_ATTEMPTS = env.int("SANDBOX_WEBHOOK_MAX_ATTEMPTS", default=12)
SANDBOX_WEBHOOK_TIMEOUT = env.float("SANDBOX_WEBHOOK_TIMEOUT", default=10.0)
SANDBOX_SESSION_TOKEN_MINUTES = env.int("SANDBOX_SESSION_TOKEN_MINUTES", default=60)

DEBUG = env.bool("SANDBOX_DEBUG", default=False)
SECRET_KEY = _secret("SECRET_KEY") or "sandbox-development-only"
ALLOWED_HOSTS = ["*"]  # a development tool on loopback

INSTALLED_APPS = ["django.contrib.staticfiles", "sandbox"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "sandbox.urls"
WSGI_APPLICATION = None
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

DATABASES = {
    "default": env.db("SANDBOX_DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'sandbox.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web threads and the webhook delivery thread share one file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
USE_I18N = False

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]  # the app's brand tokens (hintpartner/app.css)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # SANDBOX_ACCESS_LOG=1 logs every request it answers (bench/scaleout counts them).
        "django.server": {
            "handlers": ["console"],
            "propagate": False,
            "level": "INFO" if env.bool("SANDBOX_ACCESS_LOG", False) else "WARNING",
        },
        "urllib3": {"level": "WARNING"},
    },
}
