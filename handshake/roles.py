"""Roles → permissions, from settings.HINT_ROLE_PERMISSIONS (renamable by the partner)."""

from collections.abc import Iterable

from django.conf import settings


def permissions_for_roles(roles: Iterable[str]) -> frozenset[str]:
    """The union of the permissions of `roles`; unknown role names grant nothing."""
    granted: set[str] = set()
    for role in roles:
        granted.update(settings.HINT_ROLE_PERMISSIONS.get(role, ()))
    return frozenset(granted)


# Changes to the installation and to the practice's data in bulk: a Hint support session never
# holds these, whatever HINT_SUPPORT_ROLE and HINT_SUPPORT_CAN_WRITE say.
SUPPORT_NEVER = frozenset({"administer"})


def permissions_for_support() -> frozenset[str]:
    """A Hint support session: the admin's reads; patient writes only when a setting allows."""
    granted = permissions_for_roles([settings.HINT_SUPPORT_ROLE]) - SUPPORT_NEVER
    if not settings.HINT_SUPPORT_CAN_WRITE:
        granted -= frozenset(settings.HINT_PATIENT_WRITE_PERMISSIONS)
    return granted


def roles_granting(permission: str | None) -> list[str]:
    """The role names that carry `permission` (any role at all when `permission` is None)."""
    return [
        role
        for role, perms in settings.HINT_ROLE_PERMISSIONS.items()
        if permission is None or permission in perms
    ]


def clean_roles(raw: object) -> list[str]:
    """`partner_roles` as Hint sent it, decoded permissively into a list of names."""
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        return []
    return sorted({str(r).strip() for r in raw if isinstance(r, str | int) and str(r).strip()})


# What each permission lets a user do, in the words of the denial page.
PERMISSION_LABELS = {
    "view_records": "see patients, contacts and notes",
    "edit_records": "edit contacts and sync them with Hint",
    "unlink_contacts": "unlink a contact from its Hint patient",
    "write_notes": "write draft notes",
    "sign_notes": "sign notes",
    "view_settings": "see this app's settings, users, batches, sync log and webhook log",
    "administer": "change the installation, run batches, change sync options or replay updates",
}
