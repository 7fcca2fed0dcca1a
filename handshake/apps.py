from django.apps import AppConfig


class HandshakeConfig(AppConfig):
    name = "handshake"
    default_auto_field = "django.db.models.BigAutoField"
