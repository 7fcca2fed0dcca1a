"""`{% hint_budget_line practice %}`: today's calls to Hint with the practice's token."""

from typing import Any

from django import template
from django.conf import settings
from django.utils.html import format_html

from hintpartner.hint import budget

register = template.Library()


@register.simple_tag
def hint_budget_line(practice: Any) -> str:
    used = budget.used_today(getattr(practice, "token", "") or "")
    daily = settings.HINT_DAILY_BUDGET
    if not daily:
        return format_html(
            "{} calls to Hint so far today (the budget's day starts at midnight Greenwich time); "
            "no daily budget is set.",
            f"{used:,}",
        )
    return format_html(
        "{} of {} calls to Hint so far today (the budget's day starts at midnight Greenwich "
        "time), shared by every process of this app.",
        f"{used:,}",
        f"{daily:,}",
    )
