"""`{% load hint %}`: links and forms that carry the Hint session key."""

from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import format_html

from handshake.links import url_with_session

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
