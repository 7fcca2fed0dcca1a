from django.urls import path

from handshake import views, views_activity
from handshake.links import redirect_with_session, url_with_session

__all__ = ["redirect_with_session", "url_with_session"]

app_name = "handshake"

urlpatterns = [
    path("handshake", views.handshake, name="handshake"),
    path("connect/<str:code>", views.connect, name="connect"),
    # One explicit path per surface, so hint/webhooks, hint/sync/… stay reachable.
    path("core_page", views.core_page, name="core_page"),
    path("settings", views.settings_page, name="settings"),
    path("clinical_chart", views.clinical_chart, name="clinical_chart"),
    path("clinical_interaction", views.clinical_interaction, name="clinical_interaction"),
    path("settings/connect", views.settings_connect, name="settings-connect"),
    path("settings/activate", views.settings_activate, name="settings-activate"),
    path("settings/disconnect", views.settings_disconnect, name="settings-disconnect"),
    path("settings/activity", views_activity.activity_page, name="activity"),
    path("settings/activity.csv", views_activity.activity_export, name="activity-export"),
]
