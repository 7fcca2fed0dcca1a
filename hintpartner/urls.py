from django.contrib import admin
from django.urls import include, path

from hintpartner import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("hint/", include("handshake.urls")),
    path("hint/", include("webhooks.urls")),  # hint/webhooks and its admin pages
    path("hint/sync/", include("sync.urls")),
    path("hint/notes/", include("interactions.urls")),
    path("hint/", include("handshake.urls_fallback")),  # last: our 404 for any other route
]

handler404 = "handshake.error_pages.page_not_found"
handler403 = "handshake.error_pages.permission_denied"
handler500 = "handshake.error_pages.server_error"
