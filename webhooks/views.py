"""The signed webhook receiver. Admin pages live in views_admin.py.

Under gunicorn the same URL is answered by the lean WSGI route (`webhooks.wsgi`), which skips
the middleware of the pages; both call `receiver.delivery_answer`.
"""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from hintpartner.hint import signing
from hintpartner.routes import route_access
from webhooks import receiver


@route_access("signed")
@csrf_exempt  # signed by Hint, not a browser form: the signature is the protection
@require_POST  # 405 otherwise; Hint only POSTs
def webhook_receive(request: HttpRequest) -> HttpResponse:
    """Verify, store once, acknowledge: no other work inside the request."""
    status, answer = receiver.delivery_answer(
        declared_length=request.META.get("CONTENT_LENGTH"),
        read_body=lambda _size: request.body,
        signature=request.headers.get(signing.SIGNATURE_HEADER),
    )
    return JsonResponse(answer, status=status)
