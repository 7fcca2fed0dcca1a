"""The audit trail: who did what to which record, within one practice."""

from typing import TYPE_CHECKING

from handshake.models import AuditEntry, Practice, PracticeUser

if TYPE_CHECKING:
    from handshake.context import HintContext


def audit_record(
    *,
    hint: "HintContext | None",
    action: str,
    target_type: str = "",
    target_id: str = "",
    detail: str = "",
    practice: Practice | None = None,
    actor_label: str = "",
    user: PracticeUser | None = None,
    is_support: bool = False,
) -> AuditEntry:
    """Record an action: in a session pass `hint`; background work passes practice and a label."""
    if hint is not None:
        practice = hint.practice
        user = hint.user
        is_support = hint.is_support
        actor_label = hint.actor_label
    if practice is None:
        raise ValueError("audit_record needs `hint` or `practice`.")
    return AuditEntry.objects.create(
        practice=practice,
        user=user,
        is_support=is_support,
        actor_label=(actor_label or "background work")[:300],
        action=action[:100],
        target_type=target_type[:50],
        target_id=str(target_id)[:100],
        detail=detail,
    )
