"""The one place that speaks HTTP to Hint.

One `requests.Session`, a bearer token per call, timeouts, retries (429 honouring Retry-After, and
502/503/504 with exponential backoff for idempotent calls), a rate limit and daily budget per
token shared by every process (`budget`), a pagination iterator, and typed errors. Tokens never
appear in logs or exception text.
"""

import email.utils
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from django.conf import settings

from hintpartner.hint import budget, errors, policy
from hintpartner.hint.paths import (
    COUNT_HEADER,
    MARKETPLACE_PATH_PREFIXES,
    MARKETPLACE_VERSION_HEADER,
    PAGE_SIZE,
    PATHS,
    TOTAL_COUNT_HEADER,
)

logger = logging.getLogger("hintpartner.hint")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"})
RETRYABLE_STATUSES = frozenset({502, 503, 504})
RETRY_AFTER_CAP_SECONDS = 60.0

_session = requests.Session()
_session.headers.update({"Accept": "application/json", "User-Agent": "hintpartner/0.1"})
_sleep = time.sleep  # tests replace this to observe waits without waiting


@dataclass
class HintResponse:
    status: int
    data: Any
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def total_count(self) -> int | None:
        raw = self.headers.get(TOTAL_COUNT_HEADER) or self.headers.get(COUNT_HEADER)
        try:
            return int(raw) if raw is not None else None
        except ValueError:
            return None


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is None:
            return None
        return max(0.0, parsed.timestamp() - time.time())


def _backoff(attempt: int) -> float:
    """Seconds to wait after failed try number `attempt` (0 for the first) of one call."""
    return policy.backoff(attempt + 1, policy.http_schedule()).total_seconds()


def _hint_message(response: requests.Response) -> str:
    """Hint's explanation from `{"message": …}` or `{"error": {"message": …}}`, if any."""
    try:
        body = response.json()
    except ValueError:
        return ""
    message: Any = ""
    if isinstance(body, dict):
        message = body.get("message") or body.get("error") or ""
        if isinstance(message, dict):
            message = message.get("message", "")
    return str(message)[:300]


class HintClient:
    """Calls Hint with one bearer token: the partner key, a practice token, or a session's."""

    def __init__(self, token: str, *, base_url: str | None = None) -> None:
        if not token:
            raise errors.HintUnauthorized("No Hint token is available for this call.")
        self._token = token
        self.base_url = (base_url or settings.HINT_API_URL).rstrip("/")

    def __repr__(self) -> str:  # never show the token
        return f"<HintClient {self.base_url}>"

    def call(
        self,
        name: str,
        *,
        path_params: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        retry_unsafe: bool = False,
    ) -> HintResponse:
        """Call the endpoint `name` of the paths table; raise a HintError unless it answers 2xx."""
        method, template = PATHS[name]
        path = template.format(
            **{k: requests.utils.quote(str(v), safe="") for k, v in (path_params or {}).items()}
        )
        return self.request(method, path, params=params, json=json, retry_unsafe=retry_unsafe)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        retry_unsafe: bool = False,
    ) -> HintResponse:
        """Send one request with the retry rules; `retry_unsafe` allows retrying a safe POST."""
        if path.startswith("/api/provider") and self._token == settings.HINT_API_KEY:
            raise errors.HintWrongKey(
                "The partner key cannot call the Provider API; use the practice's token."
            )
        headers = {"Authorization": f"Bearer {self._token}"}
        if path.startswith(MARKETPLACE_PATH_PREFIXES):
            headers[MARKETPLACE_VERSION_HEADER[0]] = MARKETPLACE_VERSION_HEADER[1]
        may_retry = method in IDEMPOTENT_METHODS or retry_unsafe
        label = f"{method} {path}"
        attempts = settings.HINT_MAX_RETRIES + 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            # The token's slot, shared by every process (`budget`); raises when today's budget
            # is spent, before anything is sent.
            wait = budget.take(self._token)
            if wait > 0:
                _sleep(wait)
            try:
                response = _session.request(
                    method,
                    self.base_url + path,
                    params=params,
                    json=json,
                    headers=headers,
                    timeout=(settings.HINT_CONNECT_TIMEOUT, settings.HINT_READ_TIMEOUT),
                )
            except requests.ConnectTimeout as exc:
                # Never reached Hint: always safe to try again.
                if last:
                    raise errors.HintUnavailable(
                        f"Hint did not accept a connection for {label}."
                    ) from exc
                _sleep(_backoff(attempt))
                continue
            except requests.Timeout as exc:
                if not may_retry or last:
                    raise errors.HintTimeout(f"Hint did not answer {label} in time.") from exc
                _sleep(_backoff(attempt))
                continue
            except requests.ConnectionError as exc:
                if not may_retry or last:
                    err = errors.HintUnavailable(f"Could not reach Hint for {label}.")
                    err.uncertain = not may_retry
                    raise err from exc
                _sleep(_backoff(attempt))
                continue

            status = response.status_code
            if status == 429:
                # Hint did not process a rate-limited request: retrying is safe for any method.
                if last:
                    raise errors.HintRateLimited(f"Hint kept answering 429 to {label}.", status=429)
                wait = _retry_after_seconds(response.headers.get("Retry-After"))
                delay = (
                    min(wait, RETRY_AFTER_CAP_SECONDS) if wait is not None else _backoff(attempt)
                )
                logger.info("Hint rate-limited %s; retrying in %.2fs", label, delay)
                _sleep(delay)
                continue
            if status in RETRYABLE_STATUSES and may_retry and not last:
                logger.info("Hint answered %s to %s; retrying", status, label)
                _sleep(_backoff(attempt))
                continue
            return self._result(response, label)
        raise AssertionError("unreachable")  # pragma: no cover

    def _result(self, response: requests.Response, label: str) -> HintResponse:
        status = response.status_code
        if 200 <= status < 300:
            if not response.content:
                return HintResponse(status, None, response.headers)
            try:
                return HintResponse(status, response.json(), response.headers)
            except ValueError as exc:
                raise errors.HintInvalidResponse(
                    f"Hint answered {label} with a body that is not JSON.", status=status
                ) from exc
        message = _hint_message(response)
        detail = f": {message}" if message else ""
        if status == 401:
            raise errors.HintUnauthorized(
                f"Hint refused the token for {label} (401){detail}.", hint_message=message
            )
        if status == 428:
            raise errors.HintWrongKey(
                f"Hint answered 428 to {label}{detail}. A partner key was sent where a practice "
                "token is required.",
                hint_message=message,
            )
        if status == 404:
            raise errors.HintNotFound(
                f"Hint has no such record ({label}){detail}.", hint_message=message
            )
        if status in (400, 409, 422):
            raise errors.HintBadRequest(
                f"Hint refused {label} ({status}){detail}.", status=status, hint_message=message
            )
        if status == 429:
            raise errors.HintRateLimited(f"Hint kept answering 429 to {label}.")
        if status >= 500:
            raise errors.HintUnavailable(
                f"Hint answered {status} to {label}{detail}.", status=status, hint_message=message
            )
        raise errors.HintError(
            f"Hint answered {status} to {label}{detail}.", status=status, hint_message=message
        )

    def paginate(
        self,
        name: str,
        *,
        params: Mapping[str, Any] | None = None,
        page_size: int = PAGE_SIZE,
        path_params: Mapping[str, str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield every item of a list endpoint, page by page.

        Hint caps a page at its own size (which may be below `page_size`), so when it sends
        `X-Total-Count` the walk goes on until the offset reaches that total; a short page ends
        it only when the header is absent. An empty page always ends it (no endless loop when
        the total is wrong or rows vanish while we walk).
        """
        offset = 0
        while True:
            page_params = {**(params or {}), "limit": page_size, "offset": offset}
            response = self.call(name, params=page_params, path_params=path_params)
            items = response.data
            if isinstance(items, dict):  # tolerate a wrapped list ({"data": […]})
                items = items.get("data") or items.get("items") or []
            if not isinstance(items, list):
                raise errors.HintInvalidResponse(f"Hint's list {name} is not a JSON array.")
            yield from items
            offset += len(items)
            total = _header_int(response.headers, TOTAL_COUNT_HEADER)
            if not items:
                return
            if total is not None:
                if offset >= total:
                    return
            elif len(items) < page_size:
                return


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name) if headers else None
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def partner_client() -> HintClient:
    """A client authenticated with the partner-wide key (partner routes and code exchanges)."""
    return HintClient(settings.HINT_API_KEY)
