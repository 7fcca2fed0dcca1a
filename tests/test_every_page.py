"""Every page, rendered: one header navigation, one title pattern, one date format, plain words."""

import re
from html.parser import HTMLParser

import pytest
from django.test import Client

from handshake.models import Practice
from hintpartner.dates import DATE_PATTERN, DATETIME_PATTERN
from tests.conftest import open_session
from tests.pages import CLINICAL_SURFACES, page_catalogue

pytestmark = pytest.mark.django_db

# What a date or a time looks like in any other format than hintpartner.dates writes.
OTHER_DATES = re.compile(
    r"\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}|\b[ap]\.m\.|\bUTC\b|\b0 minutes ago"
    r"|\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.? \d"
)
# Words for the code, not for people.
INTERNAL_WORDS = ("Search key", "line1", "line2", "Hipaa", "manage.py")


class _Text(HTMLParser):
    """The text a person reads (no scripts, no attributes), and the page's title and h1."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.title = ""
        self.h1 = ""
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self._in.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._in:
            while self._in and self._in.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if "script" in self._in or "style" in self._in:
            return
        if "title" in self._in:
            self.title += data
            return
        if "h1" in self._in:
            self.h1 += data
        self.parts.append(data)

    @property
    def text(self) -> str:
        return re.sub(r"\s+", " ", "".join(self.parts))


def _read(html: str) -> _Text:
    parser = _Text()
    parser.feed(html)
    return parser


@pytest.fixture
def pages(practice_a: Practice) -> list[tuple[str, str]]:
    return page_catalogue(practice_a)


def _open(client: Client, path: str, key: str) -> str:
    joiner = "&" if "?" in path else "?"
    response = client.get(f"{path}{joiner}session_key={key}")
    assert response.status_code in (200, 404), (path, response.status_code)
    return response.content.decode()


def test_every_page_has_the_one_navigation_and_the_one_title_pattern(
    client: Client, practice_a: Practice, pages: list[tuple[str, str]]
) -> None:
    key = open_session(practice_a, ["admin"])
    for name, path in pages:
        html = _open(client, path, key)
        if name in CLINICAL_SURFACES:
            assert "data-app-nav" not in html, name
            continue
        assert html.count("data-app-nav") == 1, name
        assert html.count('class="app-header"') == 1, name
        nav = html[html.index("data-app-nav") : html.index("</nav>", html.index("data-app-nav"))]
        assert nav.count('aria-current="page"') == (0 if name == "not found" else 1), name
        read = _read(html)
        assert read.h1.strip(), name
        assert read.title.strip() == f"{read.h1.strip()} · hintpartner", name


def test_every_page_writes_dates_one_way_in_plain_words(
    client: Client, practice_a: Practice, pages: list[tuple[str, str]]
) -> None:
    key = open_session(practice_a, ["admin"])
    seen_dates = 0
    for name, path in pages:
        text = _read(_open(client, path, key)).text
        seen_dates += len(re.findall(DATETIME_PATTERN + "|" + DATE_PATTERN, text))
        rest = re.sub(DATETIME_PATTERN, "", text)
        rest = re.sub(DATE_PATTERN, "", rest)
        assert not OTHER_DATES.search(rest), (name, OTHER_DATES.search(rest).group(0))
        assert not re.search(r"\s[.,]", text), (name, re.search(r".{20}\s[.,]", text))
        for word in INTERNAL_WORDS:
            assert word not in text, (name, word)
    assert seen_dates > 10  # the pages do show dates, in the one format


def test_staff_see_no_settings_link_and_admins_do(
    client: Client, practice_a: Practice, pages: list[tuple[str, str]]
) -> None:
    staff = open_session(practice_a, ["staff"])
    admin = open_session(practice_a, ["admin"])
    home = dict(pages)["home"]
    staff_nav = _open(client, home, staff).split("data-app-nav", 1)[1].split("</nav>", 1)[0]
    admin_nav = _open(client, home, admin).split("data-app-nav", 1)[1].split("</nav>", 1)[0]
    assert ">Settings<" not in staff_nav and ">Contacts<" in staff_nav
    assert ">Settings<" in admin_nav
