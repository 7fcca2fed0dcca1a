"""`{% load hint %}`: links and forms that carry the Hint session key, the header's links, and
the one way dates are written (`hint_date`, `hint_datetime`, `hint_ago`: hintpartner.dates)."""

from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import format_html

from handshake.links import url_with_session
from handshake.nav import NavItem, nav_items
from hintpartner import dates

register = template.Library()


def _key(context: template.Context) -> str:
    hint = context.get("hint")
    if hint is None and context.get("request") is not None:
        hint = getattr(context["request"], "hint", None)
    return getattr(hint, "session_key", "") or ""


@register.simple_tag(takes_context=True)
def hint_url(context: template.Context, viewname: str, *args: Any, **kwargs: Any) -> str:
    """`{% hint_url "app:name" arg %}`: the URL with `?session_key=…` appended."""
    return url_with_session(reverse(viewname, args=args, kwargs=kwargs), _key(context))


@register.simple_tag(takes_context=True)
def hint_key_field(context: template.Context) -> str:
    """`{% hint_key_field %}`: the hidden input every form inside Hint carries."""
    return format_html('<input type="hidden" name="session_key" value="{}">', _key(context))


@register.simple_tag(takes_context=True)
def hint_session_url(context: template.Context, url: str) -> str:
    """`{% hint_session_url url %}`: a URL built elsewhere, with `?session_key=…` appended."""
    return url_with_session(url, _key(context))


@register.simple_tag(takes_context=True)
def hint_nav(context: template.Context) -> list[NavItem]:
    """`{% hint_nav as nav %}`: the header's links for this session (handshake.nav)."""
    return nav_items(context.get("request"))


@register.filter
def hint_date(value: Any) -> str:
    """`{{ contact.dob|hint_date }}` → `Jul 7, 1956`."""
    return dates.date_text(value)


@register.filter
def hint_datetime(value: Any) -> str:
    """`{{ note.last_saved_at|hint_datetime }}` → `Dec 2, 2026, 4:49 AM MST` (practice's zone)."""
    return dates.datetime_text(value)


@register.filter
def hint_ago(value: Any) -> str:
    """`{{ run.finished_at|hint_ago }}` → `just now` or `5 minutes ago`."""
    return dates.ago_text(value)
