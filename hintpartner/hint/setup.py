"""This deployment's registration with Hint: what Hint holds, what it should hold, the changes.

Read by `manage.py hint_setup` (which applies the changes with `--apply`) and `manage.py
hint_doctor` (which only reports them). Hint's partner API holds four things (hint-platform,
"Registering the app with Hint"): the partner (activation mode, where install codes go), the app
(handshake URL), one anchor per surface, and the webhook endpoints.

Localhost mode: with an `http://` APP_URL (a laptop), Hint takes the laptop's URLs in its
`localhost_*` fields (sandbox partners only) and the https fields are left as production has
them.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from hintpartner.hint import api, errors
from hintpartner.hint.paths import (
    ANCHOR_SETTINGS_LABEL,
    ANCHOR_SOURCE_URL,
    ANCHOR_TYPE,
    APP_HANDSHAKE_URL,
    AUTH_TYPE_WANTED,
    CONNECT_PATH,
    HANDSHAKE_PATH,
    LOCALHOST_FIELDS,
    PARTNER_AUTH_TYPE,
    PARTNER_REDIRECT_URL,
    PARTNER_WEBHOOK_URL,
    SETTINGS_SURFACE,
    SURFACES,
)


def is_localhost_mode(app_url: str) -> bool:
    """A plain-http APP_URL is a laptop: Hint's `localhost_*` fields are the ones to fill."""
    return urlsplit(app_url).scheme == "http"


@dataclass(frozen=True)
class Wanted:
    """What Hint should hold for this deployment."""

    localhost: bool
    partner: dict[str, str]
    app: dict[str, str]
    anchor_field: str  # source_url, or localhost_source_url
    anchors: dict[str, str]  # surface -> URL
    webhook_url: str
    # surface -> its label in Hint's menus (the same field in localhost mode)
    anchor_labels: dict[str, str] = field(default_factory=dict)


def wanted(*, app_url: str | None = None, webhook_url: str | None = None) -> Wanted:
    """This deployment's registration, from APP_URL and HINT_WEBHOOK_URL."""
    base = (app_url or settings.APP_URL).rstrip("/")
    hook = (webhook_url or settings.HINT_WEBHOOK_URL).rstrip("/")
    localhost = is_localhost_mode(base)

    def name(field_name: str) -> str:
        return LOCALHOST_FIELDS[field_name] if localhost else field_name

    partner = {PARTNER_AUTH_TYPE: AUTH_TYPE_WANTED, name(PARTNER_REDIRECT_URL): base + CONNECT_PATH}
    if localhost:
        partner[name(PARTNER_WEBHOOK_URL)] = hook
    return Wanted(
        localhost=localhost,
        partner=partner,
        app={name(APP_HANDSHAKE_URL): base + HANDSHAKE_PATH},
        anchor_field=name(ANCHOR_SOURCE_URL),
        anchors={surface: f"{base}/hint/{surface}" for surface in SURFACES},
        webhook_url=hook,
        anchor_labels={SETTINGS_SURFACE: settings.HINT_SETTINGS_LABEL},
    )


@dataclass
class Registration:
    """What Hint holds, as read with the partner key."""

    partner: dict[str, Any]
    app: dict[str, Any]
    anchors: list[dict[str, Any]]
    endpoints: list[dict[str, Any]]
    date: str = ""  # the `Date` header of Hint's answer (clock skew)

    def anchor(self, surface: str) -> dict[str, Any] | None:
        return next((a for a in self.anchors if a.get(ANCHOR_TYPE) == surface), None)

    @property
    def webhook_urls(self) -> list[str]:
        return [api.webhook_endpoint_url(e) for e in self.endpoints]


def registration_read() -> Registration:
    """Read the partner, the app, its anchors and the webhook endpoints (four GETs)."""
    partner, date = api.partner_get()
    return Registration(
        partner=partner,
        app=api.app_get(),
        anchors=api.app_anchors(),
        endpoints=api.webhook_endpoints(),
        date=date,
    )


@dataclass(frozen=True)
class Difference:
    """One thing Hint holds otherwise than this deployment needs."""

    where: str  # "partner", "app", "anchor", "anchor label", "webhook endpoint"
    name: str  # the field, or the surface for an anchor and its label
    has: str  # what Hint holds ("" when nothing)
    wants: str

    def sentence(self) -> str:
        held = repr(self.has) if self.has else "nothing"
        return f"{self.where} {self.name}: Hint has {held}, this deployment needs {self.wants!r}"


def differences(registration: Registration, want: Wanted) -> list[Difference]:
    """Every field of Hint's registration that differs from `want`, in a stable order."""
    found = []
    for name, value in want.partner.items():
        has = str(registration.partner.get(name) or "")
        if has != value:
            found.append(Difference("partner", name, has, value))
    for name, value in want.app.items():
        has = str(registration.app.get(name) or "")
        if has != value:
            found.append(Difference("app", name, has, value))
    for surface, url in want.anchors.items():
        anchor = registration.anchor(surface) or {}
        has = str(anchor.get(want.anchor_field) or "")
        if has != url:
            found.append(Difference("anchor", surface, has, url))
    for surface, label in want.anchor_labels.items():
        has = str((registration.anchor(surface) or {}).get(ANCHOR_SETTINGS_LABEL) or "")
        if label and has != label:
            found.append(Difference("anchor label", surface, has, label))
    if want.webhook_url not in registration.webhook_urls:
        has = ", ".join(u for u in registration.webhook_urls if u)
        found.append(Difference("webhook endpoint", "webhook_url", has, want.webhook_url))
    return found


@dataclass
class Applied:
    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def registration_apply(registration: Registration, want: Wanted) -> Applied:
    """Change in Hint only what differs; a second run finds nothing to change."""
    result = Applied()
    todo = differences(registration, want)
    partner = {d.name: d.wants for d in todo if d.where == "partner"}
    if partner:
        _attempt(result, f"partner {', '.join(partner)}", api.partner_update, fields=partner)
    app = {d.name: d.wants for d in todo if d.where == "app"}
    if app:
        _attempt(result, f"app {', '.join(app)}", api.app_update, fields=app)
    labels = {d.name: d.wants for d in todo if d.where == "anchor label"}
    for d in todo:
        if d.where == "anchor":
            anchor = registration.anchor(d.name)
            # A label owed to this anchor goes with it (a new anchor has no id to patch yet).
            extra = {ANCHOR_SETTINGS_LABEL: labels.pop(d.name)} if d.name in labels else {}
            label = f"anchor {d.name}" + (f" and its {ANCHOR_SETTINGS_LABEL}" if extra else "")
            _attempt(result, label, _anchor_set, anchor=anchor, d=d, want=want, extra=extra)
        elif d.where == "webhook endpoint":
            _attempt(
                result, f"webhook endpoint {d.wants}", api.webhook_endpoint_register, url=d.wants
            )
    for surface, label in labels.items():  # anchors whose URL was right: patched by id
        anchor_id = str((registration.anchor(surface) or {}).get("id") or "")
        _attempt(
            result,
            f"anchor {surface} {ANCHOR_SETTINGS_LABEL}",
            api.app_anchor_update,
            anchor_id=anchor_id,
            fields={ANCHOR_SETTINGS_LABEL: label},
        )
    return result


def _attempt(result: Applied, label: str, call: Callable[..., Any], **kwargs: Any) -> None:
    try:
        call(**kwargs)
    except errors.HintError as exc:
        result.failed.append(f"{label}: {exc}")
    else:
        result.done.append(label)


def _anchor_set(
    *, anchor: dict[str, Any] | None, d: Difference, want: Wanted, extra: dict[str, str]
) -> None:
    """POST the surface's anchor (with `extra` fields). Hint keeps one per surface: when it
    refuses a second POST (422), the existing anchor is patched instead."""
    fields = {ANCHOR_TYPE: d.name, want.anchor_field: d.wants, **extra}
    try:
        api.app_anchor_create(fields=fields)
    except errors.HintBadRequest:
        anchor_id = str((anchor or {}).get("id") or "")
        if not anchor_id:
            raise
        api.app_anchor_update(anchor_id=anchor_id, fields={want.anchor_field: d.wants, **extra})
