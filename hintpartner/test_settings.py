"""Settings for the test suite: the app's settings with the immediate task backend.

`TEST_TASKS_BACKEND=real` keeps the configured backend (database, or RQ with REDIS_URL), which
`.ci/run` uses to run the task tests once on Redis.
"""

import os

from hintpartner.settings import *  # noqa: F403
from hintpartner.settings import TASKS

if os.environ.get("TEST_TASKS_BACKEND") != "real":
    TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests never call the real Hint; `responses` intercepts this host.
HINT_API_URL = "https://api.hint.test"
APP_URL = "https://partner.test"
HINT_RATE_LIMIT_PER_SECOND = 10_000.0
# Unit tests call the client without a database; tests/hintpartner/test_budget.py covers the
# shared stores.
HINT_BUDGET_STORE = "process"
HINT_BACKOFF_BASE = 0.0
HINT_BACKOFF_MAX = 0.0
