from django.conf import settings
from django.http import HttpRequest

from hintpartner.security import hint_sdk_url


def hint(request: HttpRequest) -> dict[str, object]:
    """Expose the current Hint session (if any), the SDK URL and the practice's time zone (for
    the one time our JavaScript writes) to every template."""
    return {
        "hint": getattr(request, "hint", None),
        "HINT_SDK_URL": hint_sdk_url(),
        "PRACTICE_TIME_ZONE": settings.PRACTICE_TIME_ZONE,
    }
