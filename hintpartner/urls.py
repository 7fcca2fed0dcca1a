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
]
