"""The live stack for end-to-end tests: the app, its worker and the sandbox over real HTTP.

Mark tests `e2e` (and `browser` for Chromium). No `db` fixture is needed: the live processes use
their own temporary SQLite files.
"""

from collections.abc import Iterator

import pytest

from tests.e2e.live import LiveStack, Processes, app_start, free_port, fresh_secrets, sandbox_start


@pytest.fixture(scope="session")
def live_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    """The app (`runserver --noreload` + `worker`, DJANGO_ENV=development, a fresh migrated
    SQLite file, HINT_API_URL = the sandbox) and the sandbox (fresh database seeded with
    `pra-sbx-maple` and `pra-sbx-riverside`, 50 patients each, and the users of
    `tests.e2e.live.USERS`), on free ports, sharing freshly generated secrets.

    Helpers on the yielded `LiveStack`:
    - `app_url`, `sandbox_url`, `secrets` (HINT_WEBHOOK_SECRET, HINT_API_KEY, HINT_PRODUCT_ID…)
    - `install(practice_hint_id, mode="instant") -> practice token`: the sandbox posts a one-time
      code to the app's `/hint/connect/<code>`; idempotent; `last_install` has the details
    - `uninstall(practice_hint_id)`
    - `handshake(practice, user, surface, patient_id=None, interaction_id=None) -> iframe URL`
      (`user` is a key of USERS, e.g. "admin", "clinician", "support", or a user id)
    - `provider(practice) -> requests.Session` with the practice token (use full URLs)
    - `patients(practice, **params)`: one page of the Provider API's patient list
    - `partner() -> requests.Session` with the partner key
    - `trigger(practice, kind, patient_id="", fields=None)`: change a patient in the sandbox
      (create/update/delete/deactivate), which sends the webhook to the app
    - `events(type=None)`: the sandbox's webhook events with their delivery attempts
    - `faults(**values)`: a context manager setting faults/switches (rate_limit_per_second,
      fault_error_rate, fault_latency_ms, webhook_duplicates, …) for a block
    - `wait_for(predicate, timeout=10)`: poll until truthy, return the value
    """
    workdir = tmp_path_factory.mktemp("live-stack")
    procs = Processes(workdir)
    shared = fresh_secrets()
    app_port = free_port()
    try:
        sandbox_url = sandbox_start(procs, shared, app_url=f"http://127.0.0.1:{app_port}")
        app_url = app_start(procs, shared, sandbox_url=sandbox_url, port=app_port)
        yield LiveStack(app_url=app_url, sandbox_url=sandbox_url, secrets=shared, processes=procs)
    finally:
        procs.stop()
