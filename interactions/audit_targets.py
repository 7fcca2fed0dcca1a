"""The Activity page's words and links for notes (settings.AUDIT_TARGETS)."""

from typing import Any

from django.urls import reverse

from interactions.models import Note


def notes_describe(*, practice: Any, ids: list[str]) -> dict[str, tuple[str, str]]:
    """Notes by primary key, named by their patient (the title is encrypted clinical text)."""
    pks = [int(i) for i in ids if i.isdigit()]
    notes = Note.objects.for_practice(practice).filter(pk__in=pks).select_related("patient")
    return {
        str(n.pk): (
            f"note on {n.patient.full_name if n.patient else 'a patient'}",
            reverse("interactions:note", args=[n.pk]),
        )
        for n in notes
    }
