"""Settings for hintpartner: configuration comes only from environment variables.

`DJANGO_ENV=production` requires every secret; development (the default) fills them from a
git-ignored `.dev-secrets.json` shared with the sandbox. See README "Configuration".
"""

from pathlib import Path

import environ
from csp.constants import NONCE
from django.core.exceptions import ImproperlyConfigured

from hintpartner.devsecrets import load_dev_secrets

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # optional; silently absent

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "test", "production"}:
    raise ImproperlyConfigured(
        f"DJANGO_ENV must be development, test or production (got {DJANGO_ENV!r})."
    )
PRODUCTION = DJANGO_ENV == "production"

REQUIRED_IN_PRODUCTION = (
    "SECRET_KEY",
    "FIELD_ENCRYPTION_KEYS",
    "HINT_API_KEY",
    "HINT_WEBHOOK_SECRET",
    "HINT_PRODUCT_ID",
    "DATABASE_URL",
    "ALLOWED_HOSTS",
)
if PRODUCTION:
    _missing = [name for name in REQUIRED_IN_PRODUCTION if not env.str(name, default="")]
    if _missing:
        raise ImproperlyConfigured(
            "DJANGO_ENV=production needs these environment variables, which are not set: "
            + ", ".join(_missing)
            + ". See README, section Configuration."
        )
    _dev: dict[str, str] = {}
else:
    _dev = load_dev_secrets()

DEBUG = env.bool("DEBUG", default=DJANGO_ENV == "development")
if PRODUCTION and DEBUG:
    # Debug pages show settings, SQL and the request (with its session key) to anyone.
    raise ImproperlyConfigured(
        "DEBUG=true is refused with DJANGO_ENV=production: debug pages would show patient data "
        "and session keys. Unset DEBUG (or set DEBUG=false)."
    )
SECRET_KEY = env.str("SECRET_KEY", default=_dev.get("SECRET_KEY", ""))
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
# Keys for tokens at rest, comma-separated Fernet keys: the first encrypts, all decrypt.
FIELD_ENCRYPTION_KEYS = env.list(
    "FIELD_ENCRYPTION_KEYS", default=[_dev.get("FIELD_ENCRYPTION_KEYS", "")]
)

# --- Hint -------------------------------------------------------------------------------------
SANDBOX_URL = env.str("SANDBOX_URL", default="http://127.0.0.1:8001")
HINT_API_URL = env.str("HINT_API_URL", default="" if PRODUCTION else SANDBOX_URL).rstrip("/")
if PRODUCTION and not HINT_API_URL:
    HINT_API_URL = "https://api.hint.com"
HINT_API_KEY = env.str("HINT_API_KEY", default=_dev.get("HINT_API_KEY", ""))
HINT_PARTNER_ID = env.str("HINT_PARTNER_ID", default=_dev.get("HINT_PARTNER_ID", ""))
HINT_PRODUCT_ID = env.str("HINT_PRODUCT_ID", default=_dev.get("HINT_PRODUCT_ID", ""))
HINT_WEBHOOK_SECRET = env.str("HINT_WEBHOOK_SECRET", default=_dev.get("HINT_WEBHOOK_SECRET", ""))
# The public URL of this app, used for deep links written into Hint (integration_web_link).
APP_URL = env.str("APP_URL", default="http://127.0.0.1:8000").rstrip("/")
# Where Hint delivers webhooks (hint_setup registers it): APP_URL's, or a tunnel's on a laptop.
HINT_WEBHOOK_URL = env.str("HINT_WEBHOOK_URL", default=f"{APP_URL}/hint/webhooks").rstrip("/")
# The name of the app's tab in a practice's settings in Hint (the settings anchor's
# `settings_label`; without one Hint shows the app's generic name). hint_setup registers it.
HINT_SETTINGS_LABEL = env.str("HINT_SETTINGS_LABEL", default="Contacts and sync")

HINT_RATE_LIMIT_PER_SECOND = env.float("HINT_RATE_LIMIT_PER_SECOND", default=100.0)
# Calls a token may make per UTC day; 0 = no budget. Both limits are shared by every process
# through HINT_BUDGET_STORE: "database" (default), "redis" (default when REDIS_URL is set) or
# "process" (one process only). See hintpartner/hint/budget.py.
HINT_DAILY_BUDGET = env.int("HINT_DAILY_BUDGET", default=500_000)
HINT_BUDGET_STORE = env.str("HINT_BUDGET_STORE", default="")
# Calls a day kept for people: a batch pauses when a token's remaining budget falls to this, and
# resumes by itself when the budget renews (00:00 UTC). Default: 5% of HINT_DAILY_BUDGET.
HINT_BATCH_BUDGET_RESERVE = env.int("HINT_BATCH_BUDGET_RESERVE", default=HINT_DAILY_BUDGET // 20)
HINT_CONNECT_TIMEOUT = env.float("HINT_CONNECT_TIMEOUT", default=5.0)
HINT_READ_TIMEOUT = env.float("HINT_READ_TIMEOUT", default=20.0)
HINT_MAX_RETRIES = env.int("HINT_MAX_RETRIES", default=4)
HINT_BACKOFF_BASE = env.float("HINT_BACKOFF_BASE", default=0.5)
HINT_BACKOFF_MAX = env.float("HINT_BACKOFF_MAX", default=30.0)

_default_ancestors = ["https://*.hint.com"]
if not PRODUCTION:
    _default_ancestors += ["http://127.0.0.1:8001", "http://localhost:8001"]
    if "/".join(SANDBOX_URL.split("/")[:3]) not in _default_ancestors:  # sandbox on another port
        _default_ancestors.append("/".join(SANDBOX_URL.split("/")[:3]))
# Who may frame our pages (Content-Security-Policy: frame-ancestors), space or comma separated.
HINT_FRAME_ANCESTORS = [
    a
    for a in env.str("HINT_FRAME_ANCESTORS", default=" ".join(_default_ancestors))
    .replace(",", " ")
    .split()
]

# --- Inside Hint: handshake, sessions, roles, surfaces (handshake app) -------------------------
# A signed handshake whose `timestamp` is further than this from now (either way) is refused,
# and a replay of the same signed body is refused within this window.
HINT_HANDSHAKE_MAX_AGE_SECONDS = env.int("HINT_HANDSHAKE_MAX_AGE_SECONDS", default=300)
HINT_HANDSHAKE_MAX_BYTES = 64 * 1024
HINT_SESSION_IDLE_SECONDS = env.int("HINT_SESSION_IDLE_SECONDS", default=2 * 3600)
HINT_SESSION_MAX_SECONDS = env.int("HINT_SESSION_MAX_SECONDS", default=12 * 3600)
# Localhost mode: the browser on a Hint portal posts the handshake. Origins allowed to read the
# answer; `https://*.hint.com` means any https host under hint.com (the provider and clinical
# portals of production and staging). HINT_CORS_EXTRA_ORIGINS adds exact origins.
_default_cors = ["https://*.hint.com"]
if not PRODUCTION:
    _default_cors += ["http://127.0.0.1:8001", "http://localhost:8001"]
    # A sandbox started on another port (end-to-end tests) is its own origin.
    _sandbox_origin = "/".join(SANDBOX_URL.split("/")[:3])
    if _sandbox_origin not in _default_cors:
        _default_cors.append(_sandbox_origin)
HINT_CORS_ALLOWED_ORIGINS = env.list("HINT_CORS_ALLOWED_ORIGINS", default=_default_cors)
HINT_CORS_EXTRA_ORIGINS = env.list("HINT_CORS_EXTRA_ORIGINS", default=[])

# Roles are custom roles the partner declares in Hint and practice admins assign; rename the keys
# here to match the names created in Hint. Permissions add up across a user's roles.
HINT_ROLE_PERMISSIONS: dict[str, list[str]] = {
    "admin": [
        "view_records",
        "edit_records",
        "unlink_contacts",
        "write_notes",
        "view_settings",
        "administer",
    ],
    "clinician": ["view_records", "edit_records", "unlink_contacts", "write_notes", "sign_notes"],
    "staff": ["view_records", "edit_records", "write_notes"],
}
# A Hint support session (access_context other than "standard") gets this role's reads: never
# `administer` (installation, batches, CSV, sync options, webhook replay, backfill; see
# handshake.roles), and none of the permissions that change patient data unless this is true.
HINT_SUPPORT_ROLE = "admin"
HINT_SUPPORT_CAN_WRITE = env.bool("HINT_SUPPORT_CAN_WRITE", default=False)
HINT_PATIENT_WRITE_PERMISSIONS = ["edit_records", "unlink_contacts", "write_notes", "sign_notes"]

# Surface composition: each surface loads these panels (URL names of htmx partials served by the
# app that owns them, each behind @hint_session).
HINT_SURFACE_PANELS: dict[str, list[str]] = {
    "core_page": ["sync:patients-panel", "sync:contacts-panel", "interactions:my-drafts-panel"],
    "settings": ["sync:backfill-panel", "sync:settings-panel", "webhooks:panel"],
    "clinical_chart": ["interactions:chart-panel"],
    "clinical_interaction": ["interactions:interaction-panel"],
}
# The header's links, on every page: (label, URL name, the permission a user needs to see it,
# URL-name patterns of the pages that belong to it, which mark it as the current page).
HINT_NAV: list[tuple] = [
    ("Home", "handshake:core_page", None, ()),
    ("Patients", "sync:patients", "view_records", ("sync:patient*",)),
    ("Contacts", "sync:contacts", "view_records", ("sync:contact*",)),
    ("My drafts", "interactions:my-drafts", "write_notes", ("interactions:*",)),
    (
        "Settings",
        "handshake:settings",
        "view_settings",
        (
            "handshake:settings*",
            "handshake:activity*",
            "sync:batch*",
            "sync:log*",
            "sync:options",
            "webhooks:*",
        ),
    ),
]
# The audit trail: kept this long (HIPAA asks for six years), then pruned by the worker.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=6 * 366)
# target_type → dotted path of `describe(*, practice, ids) -> {target_id: (words, url)}`: the
# Activity page names each entry's record and links it, without importing the apps that own it.
AUDIT_TARGETS: dict[str, str] = {
    "contact": "sync.audit_targets.contacts_describe",
    "patient": "sync.audit_targets.patients_describe",
    "batch": "sync.audit_targets.batches_describe",
    "note": "interactions.audit_targets.notes_describe",
    "webhook_event": "webhooks.audit_targets.events_describe",
}
# Called as hook(practice=…) after commit whenever a practice becomes connected (code exchange,
# activation, integration.activated): dotted paths, so handshake imports no app above it.
HINT_PRACTICE_CONNECTED_HOOKS: list[str] = ["sync.backfill.backfill_ensure_first"]
# Called with no arguments by `manage.py worker` every WORKER_DISPATCH_SECONDS: work that turns
# rows into queued tasks in bulk (the webhook receiver stores events and queues nothing itself).
WORKER_DISPATCHERS: list[str] = [
    "webhooks.services.events_dispatch",
    "sync.contact_writes.contact_writes_dispatch",  # contact changes owed to Hint, when due
    "handshake.audit.audit_prune_sweep",  # audit entries past retention, at most hourly
    "sync.options.sync_log_sweep",  # sync log entries past their retention, at most hourly
    "handshake.services.expired_sweep",  # expired sessions and replay rows, off the request path
    "sync.batch_control.batches_paused_sweep",  # paused batches, once Hint's budget renews
]
HINT_EXPIRED_SWEEP_SECONDS = env.int("HINT_EXPIRED_SWEEP_SECONDS", default=300)
WORKER_DISPATCH_SECONDS = 0.5
# URL name → WSGI callable answering it without the pages' middleware (`hintpartner/lean.py`):
# the webhook receiver and the handshake, which have throughput targets (README, benchmarks).
WSGI_LEAN_ROUTES: dict[str, str] = {
    "webhooks:receive": "webhooks.wsgi.receive",
    "handshake:handshake": "handshake.wsgi.receive",
}

# --- Django -----------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "hintpartner",
    "handshake",
    "webhooks",
    "sync",
    "interactions",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "hintpartner.security.HintCSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Surfaces opt out with xframe_options_exempt; everything else (admin) stays DENY.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Our 404 page for an Http404 under /hint/ even with DEBUG on (its page shows the session key).
    "handshake.middleware.HintNotFoundMiddleware",
]

ROOT_URLCONF = "hintpartner.urls"
WSGI_APPLICATION = "hintpartner.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "hintpartner.context_processors.hint",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; the timeout rides out short locks.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
# PostgreSQL: the handshake's and the webhook receiver's one statement is prepared once per
# connection (hintpartner/db.py); the ORM's queries never are. Set false behind a PgBouncer in
# transaction mode that does not keep prepared statements (before 1.21).
DB_PREPARED_STATEMENTS = env.bool("DB_PREPARED_STATEMENTS", default=True)
if DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql"):
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "prepare_threshold", (2**31 - 1) if DB_PREPARED_STATEMENTS else None
    )
# Persistent connections on every engine. On SQLite, closing the last connection checkpoints the
# WAL file: done per request, that tripled the handshake's latency (bench/handshake.py).
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"  # storage and logic; people read times in PRACTICE_TIME_ZONE
# The zone every date-time on a page or in a CSV is written in (hintpartner/dates.py). Hint's
# handshake and installation carry no time zone, so it is set per deployment (an IANA name).
PRACTICE_TIME_ZONE = env.str("PRACTICE_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

DATA_UPLOAD_MAX_MEMORY_SIZE = 25 * 1024 * 1024  # CSV uploads up to 20 MB, checked per view
# The most contact ids one CSV upload may hold (its rows are read as a stream up to this).
SYNC_CSV_MAX_ROWS = env.int("SYNC_CSV_MAX_ROWS", default=100_000)
# A batch plan (preview) can be applied for this many hours after it was made.
SYNC_PLAN_TTL_HOURS = env.int("SYNC_PLAN_TTL_HOURS", default=24)

# --- Security headers -------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
# The session key travels in URLs; same-origin keeps it from leaking to other sites.
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp; hintpartner/security.py adds the origin of Hint's SDK to
# script-src). No inline script or style anywhere: templates use static/ files only. Hint's SDK
# talks to Hint's page by postMessage, which connect-src does not govern. The sandbox is its own
# process (sandbox/settings.py) without this middleware: a development tool, it sends no CSP.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # A nonce only on the 500 page, whose styles are inline so that it shows even when the
        # static files are what failed; django-csp adds it only to responses that used it.
        "style-src": ["'self'", NONCE],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
        "frame-ancestors": HINT_FRAME_ANCESTORS or ["'none'"],
    }
}
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # Django admin is the only cookie user, and it is opened directly, never in Hint's iframe.
    SESSION_COOKIE_SAMESITE = "Lax"
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Background tasks -------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
    RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600}}
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
else:
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# The task loop of `manage.py worker` beats every 10 s (RQ's: every 20 s idle, 10 s busy): older
# than this, /readyz says 503 and the task rows its worker left RUNNING are taken over.
WORKER_HEARTBEAT_STALE_SECONDS = env.int("WORKER_HEARTBEAT_STALE_SECONDS", default=60)
# A task running longer ends its worker's process (for a restart), as RQ's job timeout does.
WORKER_TASK_TIMEOUT_SECONDS = env.int("WORKER_TASK_TIMEOUT_SECONDS", default=3600)

# --- Logging ----------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "hintpartner.logfilters.RedactSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Request lines carry the session key in the query: only through the redacting handler.
        "django.server": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "django.request": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "urllib3": {"level": "WARNING"},
    },
}
