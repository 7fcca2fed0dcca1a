from django.http import HttpRequest

from hintpartner.security import hint_sdk_url


def hint(request: HttpRequest) -> dict[str, object]:
    """Expose the current Hint session (if any) and the SDK URL to every template."""
    return {
        "hint": getattr(request, "hint", None),
        "HINT_SDK_URL": hint_sdk_url(),
    }
