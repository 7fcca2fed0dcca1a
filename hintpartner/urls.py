from django.contrib import admin
from django.urls import include, path, re_path

from hintpartner import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("hint/", include("handshake.urls")),
    path("hint/", include("webhooks.urls")),  # hint/webhooks and its admin pages
    path("hint/sync/", include("sync.urls")),
    path("hint/notes/", include("interactions.urls")),
    # Last: any other route under hint/ is our 404 page, also with DEBUG on.
    re_path(r"^hint/(?P<rest>.*)$", views.iframe_not_found, name="iframe-not-found"),
]

handler404 = "hintpartner.views.page_not_found"
handler403 = "hintpartner.views.permission_denied"
handler500 = "hintpartner.views.server_error"
