from django.apps import AppConfig


class HintpartnerConfig(AppConfig):
    name = "hintpartner"
    verbose_name = "hintpartner core"
    default_auto_field = "django.db.models.BigAutoField"
