"""Settings → Activity: the practice's audit trail, filtered, paged and exported."""

import csv
from collections.abc import Iterator
from typing import Any

from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from handshake import activity
from handshake.audit import ACTIONS, Actor, audit_record
from handshake.context import HintRequest
from handshake.decorators import hint_session
from handshake.links import url_with_session
from handshake.models import AuditEntry, PracticeUser


@require_GET
@hint_session(permission="view_settings")
def activity_page(request: HintRequest) -> HttpResponse:
    """Every entry of the practice, newest first, with filters and keyset pages."""
    hint = request.hint
    wanted = activity.ActivityFilter.from_query(request.GET)
    entries = activity.entries_filter(practice=hint.practice, wanted=wanted)
    page = activity.entries_page(entries, before=request.GET.get("before", ""))
    rows = activity.rows_describe(practice=hint.practice, entries=page.entries)
    here = reverse("handshake:activity")
    key = hint.session_key
    context = {
        "rows": rows,
        "wanted": wanted,
        "actions": ACTIONS.items(),
        "people": _people(hint.practice),
        "chosen": _chosen(request, wanted),
        "older_url": url_with_session(here, key, **wanted.as_query(), before=page.older)
        if page.older
        else "",
        "newest_url": url_with_session(here, key, **wanted.as_query())
        if request.GET.get("before")
        else "",
        "export_url": url_with_session(
            reverse("handshake:activity-export"), key, **wanted.as_query()
        ),
    }
    return render(request, "handshake/activity.html", context)


def _people(practice: Any) -> list[str]:
    """The practice's users for the person field's suggestions (support is typed or clicked)."""
    users = PracticeUser.objects.for_practice(practice).order_by("name", "last_name", "pk")[:500]
    return sorted({u.display_name for u in users})


def _chosen(request: HintRequest, wanted: activity.ActivityFilter) -> list[dict[str, str]]:
    """The record filters, which arrive by link, in words, each with a link that drops it."""
    hint = request.hint
    chosen = []
    for name, target_type, target_id in (
        ("patient", "patient", wanted.patient),
        ("target", *wanted.target.partition(":")[::2]),
    ):
        if not target_id:
            continue
        probe = AuditEntry(target_type=target_type, target_id=target_id)
        (row,) = activity.rows_describe(practice=hint.practice, entries=[probe])
        query = {**wanted.as_query(), name: ""}
        chosen.append(
            {
                "words": row.record or "a record",
                "drop_url": url_with_session(
                    reverse("handshake:activity"), hint.session_key, **query
                ),
            }
        )
    return chosen


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@hint_session(permission="view_settings")
def activity_export(request: HintRequest) -> StreamingHttpResponse:
    """The filtered entries as CSV (formula-safe); the download is itself an entry."""
    hint = request.hint
    wanted = activity.ActivityFilter.from_query(request.GET)
    recorded = audit_record(
        practice=hint.practice,
        actor=Actor.from_hint(hint),
        action="activity.exported",
        target_type="activity",
        detail=wanted.describe(),
    )
    # What matched when the download was asked for, not the download's own entry or later ones.
    entries = activity.entries_filter(practice=hint.practice, wanted=wanted).filter(
        pk__lt=recorded.pk
    )
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        for row in activity.csv_rows(entries):
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="activity.csv"'
    return response
