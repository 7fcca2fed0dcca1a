"""Django admin (staff login, not inside Hint): the audit trail, to read only."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from handshake.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Append-only: no add, change or delete, whoever the staff user is."""

    list_display = ("created_at", "practice", "actor_label", "is_support", "action", "target_type")
    list_filter = ("action", "is_support")
    search_fields = ("actor_label", "target_id", "patient_hint_id")
    readonly_fields = [f.name for f in AuditEntry._meta.fields]
    actions = None  # the bulk "delete selected" action included

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
