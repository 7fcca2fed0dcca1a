"""Django admin (staff login, not inside Hint): the inbox, including unrouted events."""

from django.contrib import admin

from webhooks.models import UnroutedWebhookEvent, WebhookEvent


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ("received_at", "practice", "type", "status", "attempts")
    list_filter = ("status", "type")
    search_fields = ("event_id",)
    readonly_fields = [f.name for f in WebhookEvent._meta.fields]


@admin.register(UnroutedWebhookEvent)
class UnroutedWebhookEventAdmin(admin.ModelAdmin):
    list_display = ("received_at", "hint_practice_id", "type")
    search_fields = ("event_id", "hint_practice_id")
    readonly_fields = [f.name for f in UnroutedWebhookEvent._meta.fields]
