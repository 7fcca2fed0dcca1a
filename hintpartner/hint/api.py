"""One small function per Hint endpoint. Decoding is permissive: unknown fields are ignored."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings

from hintpartner.hint import errors
from hintpartner.hint.client import HintClient, partner_client
from hintpartner.hint.paths import (
    ADDRESS_SHAPES,
    ANCHOR_WRAPPER,
    APP_WRAPPER,
    DATE_HEADER,
    PARTNER_PRODUCT_ID,
    PARTNER_WRAPPER,
    WEBHOOK_URL,
    updated_after_params,
)


@dataclass(frozen=True)
class Installation:
    """What a code exchange (either flow) tells us about a practice's installation."""

    id: str
    status: str
    practice_id: str
    practice_name: str
    product_id: str
    token: str

    def __repr__(self) -> str:  # never show the token
        return (
            f"Installation(id={self.id!r}, status={self.status!r}, practice={self.practice_id!r})"
        )


def installation_from_answer(data: Any) -> Installation:
    """Read Hint's installation (new flow) or token answer (older OAuth flow)."""
    if not isinstance(data, dict):
        raise errors.HintInvalidResponse("Hint's installation answer is not a JSON object.")
    token = ""
    keys = data.get("api_keys")
    if isinstance(keys, list) and keys and isinstance(keys[0], dict):
        token = str(keys[0].get("token") or "")
    token = token or str(data.get("access_token") or "")
    practice = data.get("practice") if isinstance(data.get("practice"), dict) else {}
    product = data.get("product") if isinstance(data.get("product"), dict) else {}
    practice_id = str(practice.get("id") or data.get("practice_id") or "")
    if not practice_id:
        raise errors.HintInvalidResponse("Hint's installation answer names no practice.")
    status = str(data.get("status") or "active")
    if status == "connected":  # the older flow's word for an active installation
        status = "active"
    return Installation(
        id=str(data.get("id") or ""),
        status=status,
        practice_id=practice_id,
        practice_name=str(practice.get("name") or ""),
        product_id=str(product.get("id") or ""),
        token=token,
    )


def address_shape_of(patient: Any) -> str:
    """Which of Hint's two names for the street lines this patient object uses ("" if none)."""
    if not isinstance(patient, dict):
        return ""
    for shape, keys in ADDRESS_SHAPES.items():
        if any(key in patient for key in keys):
            return shape
    return ""


# --- partner key ------------------------------------------------------------------------------


def installation_connect(*, code: str, activate: bool | None = None) -> Installation:
    """Exchange a one-time install code for the installation and its practice token."""
    body: dict[str, Any] = {"code": code}
    if activate is not None:
        body["activate"] = activate
    return installation_from_answer(partner_client().call("installation_connect", json=body).data)


def installation_activate(*, installation_id: str) -> Installation:
    data = partner_client().call("installation_activate", path_params={"id": installation_id}).data
    return installation_from_answer(data)


def installation_deactivate(*, installation_id: str) -> None:
    partner_client().call("installation_deactivate", path_params={"id": installation_id})


def webhook_endpoint_register(*, url: str) -> dict[str, Any]:
    data = partner_client().call("webhook_endpoint_create", json={WEBHOOK_URL: url}).data
    return data if isinstance(data, dict) else {}


def webhook_event_types() -> list[str]:
    """The event types Hint can send (strings, or objects with a `type`/`name`)."""
    data = partner_client().call("webhook_events").data
    items = data if isinstance(data, list) else (data or {}).get("data", [])
    types = []
    for item in items:
        if isinstance(item, str):
            types.append(item)
        elif isinstance(item, dict):
            types.append(str(item.get("type") or item.get("name") or item.get("id") or ""))
    return [t for t in types if t]


# --- partner key: the app's registration with Hint (hint_setup, hint_doctor) -----------------


def _unwrap(data: Any, wrapper: str) -> dict[str, Any]:
    """`{"<wrapper>": {…}}` or the bare object (Hint's answers come in both shapes)."""
    if isinstance(data, dict) and isinstance(data.get(wrapper), dict):
        return data[wrapper]
    return data if isinstance(data, dict) else {}


def _items(data: Any) -> list[Any]:
    """A bare array, or one wrapped as `{"data": […]}`."""
    if isinstance(data, dict):
        data = data.get("data") or data.get("items") or []
    return data if isinstance(data, list) else []


def partner_get() -> tuple[dict[str, Any], str]:
    """Hint's partner record (auth type, redirect URL…) and the answer's `Date` header."""
    answer = partner_client().call("partner")
    return _unwrap(answer.data, PARTNER_WRAPPER), str(answer.headers.get(DATE_HEADER) or "")


def partner_update(*, fields: dict[str, Any]) -> dict[str, Any]:
    data = partner_client().call("partner_update", json={PARTNER_WRAPPER: fields}).data
    return _unwrap(data, PARTNER_WRAPPER)


def app_get() -> dict[str, Any]:
    """Hint's record of this app (handshake URL, role mappings…)."""
    return _unwrap(partner_client().call("app").data, APP_WRAPPER)


def app_update(*, fields: dict[str, Any]) -> dict[str, Any]:
    data = partner_client().call("app_update", json={APP_WRAPPER: fields}).data
    return _unwrap(data, APP_WRAPPER)


def app_anchors() -> list[dict[str, Any]]:
    """The app's anchors, one per surface (items bare or wrapped as `{"anchor": {…}}`)."""
    items = _items(partner_client().call("app_anchors").data)
    return [_unwrap(item, ANCHOR_WRAPPER) for item in items if isinstance(item, dict)]


def app_anchor_create(*, fields: dict[str, Any]) -> dict[str, Any]:
    data = partner_client().call("app_anchor_create", json={ANCHOR_WRAPPER: fields}).data
    return _unwrap(data, ANCHOR_WRAPPER)


def app_anchor_update(*, anchor_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    data = (
        partner_client()
        .call("app_anchor_update", path_params={"id": anchor_id}, json={ANCHOR_WRAPPER: fields})
        .data
    )
    return _unwrap(data, ANCHOR_WRAPPER)


def app_services() -> list[dict[str, Any]]:
    """Hint-hosted deployments of the app (empty when the partner hosts it)."""
    return [s for s in _items(partner_client().call("app_services").data) if isinstance(s, dict)]


def webhook_endpoints() -> list[dict[str, Any]]:
    """The registered webhook endpoints, newest first as Hint lists them."""
    items = _items(partner_client().call("webhook_endpoints").data)
    return [e for e in items if isinstance(e, dict)]


def webhook_endpoint_url(endpoint: dict[str, Any]) -> str:
    return str(endpoint.get(WEBHOOK_URL) or endpoint.get("url") or "")


def webhook_requests() -> list[dict[str, Any]]:
    """Hint's failed webhook deliveries, one page as Hint sends it.

    Hint documents the route but not its answer, so this accepts a bare array (Hint's list
    shape, as the sandbox answers) or one wrapped as `{"data" | "webhook_requests" | "items":
    […]}`, and leaves each object as it came: `webhooks.registration` reads the fields it knows
    under either of their likely names (time, event type, status, error, practice id).
    """
    data = partner_client().call("webhook_requests").data
    if isinstance(data, dict) and isinstance(data.get("webhook_requests"), list):
        data = data["webhook_requests"]
    return [item for item in _items(data) if isinstance(item, dict)]


# --- practice or session token ----------------------------------------------------------------


def patients_iter(
    *, token: str, updated_after: datetime | None = None, params: dict[str, Any] | None = None
) -> Iterator[dict[str, Any]]:
    """Every patient of the practice (optionally only those updated after a time)."""
    query = dict(params or {})
    if updated_after is not None:
        query.update(updated_after_params(updated_after))
    yield from HintClient(token).paginate("patients", params=query)


def patients_search(*, token: str, limit: int = 20, **filters: str) -> list[dict[str, Any]]:
    """One page of patients filtered by Hint's case-insensitive string filters."""
    params = {k: v for k, v in filters.items() if v}
    params["limit"] = limit
    data = HintClient(token).call("patients", params=params).data
    return data if isinstance(data, list) else []


def patient_get(*, token: str, patient_id: str) -> dict[str, Any]:
    return HintClient(token).call("patient", path_params={"id": patient_id}).data or {}


def patient_create(*, token: str, fields: dict[str, Any]) -> dict[str, Any]:
    return HintClient(token).call("patient_create", json=fields).data or {}


def patient_update(*, token: str, patient_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    data = HintClient(token).call("patient_update", path_params={"id": patient_id}, json=fields)
    return data.data or {}


def patient_matching(*, token: str, demographics: dict[str, Any]) -> list[dict[str, Any]]:
    """Hint's own demographic match. A read, so safe to retry."""
    data = HintClient(token).call("patient_matching", json=demographics, retry_unsafe=True).data
    if isinstance(data, dict):
        data = data.get("data") or data.get("patients") or []
    return data if isinstance(data, list) else []


def interaction_create(
    *, token: str, patient_id: str, fields: dict[str, Any], in_session: bool
) -> dict[str, Any]:
    """Create a partner interaction. Not retried on timeout: the caller checks before retrying."""
    body = dict(fields)
    if not in_session and settings.HINT_PRODUCT_ID:
        body[PARTNER_PRODUCT_ID] = settings.HINT_PRODUCT_ID
    client = HintClient(token)
    return (
        client.call("interaction_create", path_params={"patient_id": patient_id}, json=body).data
        or {}
    )


def interaction_update(
    *, token: str, patient_id: str, interaction_id: str, fields: dict[str, Any], in_session: bool
) -> dict[str, Any]:
    body = dict(fields)
    if not in_session and settings.HINT_PRODUCT_ID:
        body[PARTNER_PRODUCT_ID] = settings.HINT_PRODUCT_ID
    path_params = {"patient_id": patient_id, "id": interaction_id}
    return (
        HintClient(token).call("interaction_update", path_params=path_params, json=body).data or {}
    )


def interactions_list(*, token: str, patient_id: str) -> list[dict[str, Any]]:
    params = {"patient_id": patient_id, "type": "partner"}
    return list(HintClient(token).paginate("interactions", params=params))


def patients_page(
    *, token: str, offset: int, limit: int = 100, params: dict[str, Any] | None = None
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of the practice's patients and Hint's total count (None when not sent)."""
    query = {**(params or {}), "limit": limit, "offset": offset}
    answer = HintClient(token).call("patients", params=query)
    items = answer.data
    if isinstance(items, dict):  # tolerate a wrapped list ({"data": […]})
        items = items.get("data") or items.get("items") or []
    return (items if isinstance(items, list) else []), answer.total_count
