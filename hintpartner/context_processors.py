from django.conf import settings
from django.http import HttpRequest


def hint(request: HttpRequest) -> dict[str, object]:
    """Expose the current Hint session (if any) and the SDK URL to every template."""
    return {
        "hint": getattr(request, "hint", None),
        "HINT_SDK_URL": f"{settings.HINT_API_URL}/hint-sdk.js",
    }
