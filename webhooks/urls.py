from django.urls import path

from webhooks import views, views_admin

app_name = "webhooks"
urlpatterns = [
    # Hint posts here: the one URL registered with /api/partner/webhook_endpoints.
    path("webhooks", views.webhook_receive, name="receive"),
    path("webhooks/panel", views_admin.webhooks_panel, name="panel"),
    path("webhooks/hint", views_admin.hint_page, name="hint"),
    path("webhooks/hint/register", views_admin.endpoint_register, name="register"),
    path("webhooks/events", views_admin.events_page, name="events"),
    path("webhooks/events/replay-failed", views_admin.events_replay_failed, name="replay-failed"),
    path("webhooks/events/<int:pk>", views_admin.event_page, name="event"),
    path("webhooks/events/<int:pk>/replay", views_admin.event_replay, name="event-replay"),
]
