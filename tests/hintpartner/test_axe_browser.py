"""axe-core on every page, at Hint's 1024 px frame and at a phone's 393 px: nothing serious or
critical. With SCREENSHOTS_DIR set (`make screenshots`), each page is also saved as a PNG."""

import os
import shutil
from pathlib import Path

import pytest

from handshake.models import Practice
from tests.conftest import open_session
from tests.e2e.browser import csp_watched
from tests.pages import PATIENT_ID, page_catalogue

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
WIDTHS = (1024, 393)
BLOCKING = ("serious", "critical")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Chromium"),
]


@pytest.fixture
def browser(monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield csp_watched(chromium)
        finally:
            chromium.close()


def _blocking(results: dict) -> list[str]:
    return [
        f"{v['id']} ({v['impact']}): {node['target']}"
        for v in results["violations"]
        if v["impact"] in BLOCKING
        for node in v["nodes"]
    ]


def _axe_over(browser, base_url: str, pages: list[tuple[str, str]], key: str | None) -> dict:
    """Blocking axe violations of each (name, path) at each width, opened with `key` if any."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    shots = Path(os.environ["SCREENSHOTS_DIR"]) if os.environ.get("SCREENSHOTS_DIR") else None
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
    found: dict[str, list[str]] = {}
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 768})
        # Hint's SDK host does not exist here: answer at once instead of waiting on DNS.
        context.route("**/hint-sdk.js", lambda route: route.fulfill(body="", status=200))
        page = context.new_page()
        for name, path in pages:
            joiner = "&" if "?" in path else "?"
            page.goto(f"{base_url}{path}{joiner}session_key={key}" if key else base_url + path)
            page.wait_for_load_state("networkidle")
            response = axe.run(page).response
            if os.environ.get("AXE_DEBUG"):
                print(name, width, [(v["id"], v["impact"]) for v in response["violations"]])
            problems = _blocking(response)
            if problems:
                found[f"{name} at {width}"] = problems
            if shots:
                slug = name.replace(" ", "-")
                page.screenshot(path=str(shots / f"{slug}-{width}.png"), full_page=True)
        context.close()
    return found


def test_every_page_has_no_serious_or_critical_axe_violation_at_1024_and_393(
    browser, live_server, practice_a: Practice
) -> None:
    pages = page_catalogue(practice_a)
    key = open_session(practice_a, ["admin"])
    found = _axe_over(browser, live_server.url, pages, key)
    assert not found, found


def test_every_page_as_staff_and_the_denial_and_reopen_pages_have_no_serious_axe_violation(
    browser, live_server, practice_a: Practice
) -> None:
    pages = page_catalogue(practice_a)
    staff = open_session(practice_a, ["staff"])
    found = _axe_over(browser, live_server.url, [(f"staff {n}", p) for n, p in pages], staff)
    # No role: the denial page, in the chart's strip and full size.
    denied = [
        ("denied clinical chart", f"/hint/clinical_chart?patient_id={PATIENT_ID}"),
        ("denied home", "/hint/core_page"),
    ]
    found |= _axe_over(browser, live_server.url, denied, open_session(practice_a, []))
    # No session, or an expired one: the page that says to open the app again from Hint.
    reopen = [("reopen clinical chart", "/hint/clinical_chart"), ("reopen home", "/hint/core_page")]
    found |= _axe_over(browser, live_server.url, reopen, None)
    assert not found, found
