import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hintpartner.settings")
_django = get_wsgi_application()

from hintpartner.lean import lean_routes  # noqa: E402  (needs the settings configured above)

application = lean_routes(_django)
