"""The audit trail: who did what to which record, within one practice.

Entries are written by the service that makes the change, inside its transaction, with the
`Actor` the view passed in; background work acts as `Actor.background(...)`.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from handshake.models import AuditEntry, Practice, PracticeUser

if TYPE_CHECKING:
    from handshake.context import HintContext


@dataclass(frozen=True)
class Actor:
    """Who acts: a practice user, a Hint support session (no user row), or background work."""

    label: str
    user: PracticeUser | None = None
    is_support: bool = False

    @classmethod
    def from_hint(cls, hint: "HintContext") -> "Actor":
        """The person behind an open session (support sessions are marked as such)."""
        return cls(label=hint.actor_label, user=hint.user, is_support=hint.is_support)

    @classmethod
    def background(cls, label: str) -> "Actor":
        """Work nobody started by hand right now: a batch, a retry, Hint's own event."""
        return cls(label=label)

    def __str__(self) -> str:
        return self.label


def audit_record(
    *,
    practice: Practice | int,
    actor: Actor,
    action: str,
    target_type: str = "",
    target_id: object = "",
    detail: str = "",
) -> AuditEntry:
    """Record an action of `actor` in `practice`; call it inside the change's transaction."""
    return AuditEntry.objects.create(
        practice_id=getattr(practice, "pk", practice),
        user=actor.user,
        is_support=actor.is_support,
        actor_label=(actor.label or "background work")[:300],
        action=action[:100],
        target_type=target_type[:50],
        target_id=str(target_id)[:100],
        detail=detail,
    )
