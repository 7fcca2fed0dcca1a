"""Included last under hint/: any other route there is our 404 page, also with DEBUG on."""

from django.urls import re_path

from handshake.error_pages import iframe_not_found

urlpatterns = [re_path(r"^(?P<rest>.*)$", iframe_not_found, name="iframe-not-found")]
