"""Headless Chromium (the Debian package) for `browser` tests; skipped when it is absent.

Every page opened through `browser` (or a browser wrapped by `csp_watched`) records the
Content-Security-Policy violations it sees in `CSP_VIOLATIONS`: Chromium's own console message
("Refused to … because it violates the following Content Security Policy directive …") and the
page's `securitypolicyviolation` events, in every frame. The autouse fixture `no_csp_violations`
(tests/conftest.py) fails any test that left one there.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

CSP_VIOLATIONS: list[str] = []
CSP_EVENT_PREFIX = "CSP violation:"
# Runs in every frame before the page's own scripts (Playwright injects it outside the policy).
_REPORT_EVENTS = (
    'document.addEventListener("securitypolicyviolation", function (e) {'
    f'  console.error("{CSP_EVENT_PREFIX} " + e.violatedDirective + " blocked "'
    '    + (e.blockedURI || "?") + " in " + e.documentURI + ":" + e.lineNumber);'
    "});"
)


def _record(message: Any) -> None:
    text = message.text
    if text.startswith(CSP_EVENT_PREFIX) or "Content Security Policy" in text:
        CSP_VIOLATIONS.append(text)


def csp_watch(context: Any) -> Any:
    """Record the CSP violations of every page of a Playwright BrowserContext."""
    context.add_init_script(_REPORT_EVENTS)
    context.on("console", _record)
    return context


class CspWatchedBrowser:
    """A Playwright Browser whose new pages and contexts are watched by `csp_watch`."""

    def __init__(self, browser: Any) -> None:
        self._browser = browser

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)

    def new_context(self, **kwargs: Any) -> Any:
        return csp_watch(self._browser.new_context(**kwargs))

    def new_page(self, **kwargs: Any) -> Any:
        page = self._browser.new_page(**kwargs)  # its own context, closed with the page
        csp_watch(page.context)
        return page


def csp_watched(browser: Any) -> CspWatchedBrowser:
    return CspWatchedBrowser(browser)


# Module scope: Playwright's sync API allows one instance at a time, and other modules may
# start their own.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A Playwright Browser on /usr/bin/chromium (never `playwright install`), CSP-watched."""
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield csp_watched(chromium)
        chromium.close()


@pytest.fixture
def frame_page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A CSP-watched page at Hint's frame size (1024x768) for tests against `live_server`."""
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop in this thread; the test's ORM calls are still
    # plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with playwright_api.sync_playwright() as pw:
        chromium = csp_watched(
            pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        )
        try:
            yield chromium.new_page(viewport={"width": 1024, "height": 768})
        finally:
            chromium.close()
