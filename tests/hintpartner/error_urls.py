"""The app's URLconf plus views that fail, for the error-page tests."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from handshake.decorators import hint_session
from hintpartner.urls import handler403, handler404, handler500  # noqa: F401
from hintpartner.urls import urlpatterns as app_urlpatterns


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret-detail pra-aaaa /internal/route")


@hint_session()
def boom_in_session(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret-detail pra-aaaa /internal/route")


urlpatterns = [
    path("test-boom", boom),
    path("test-boom-in-session", boom_in_session),
    *app_urlpatterns,
]
