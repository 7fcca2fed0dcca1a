"""`request.hint`: what a view knows about the Hint session it serves."""

from dataclasses import dataclass

from django.http import HttpRequest

from handshake.models import HintSession, Practice, PracticeUser


@dataclass(frozen=True)
class HintContext:
    """The current embed session: practice, user (None for Hint support), permissions, token."""

    practice: Practice
    user: PracticeUser | None
    is_support: bool
    permissions: frozenset[str]
    session_key: str
    # The session-scoped Hint key from the handshake; the practice token when the handshake
    # carried none and the practice is installed; "" otherwise.
    token: str
    # "session" (the handshake's key), "practice" (the installation's), or "" (none): on a 401
    # from Hint, a session token means "reopen the app"; only a practice token means the practice
    # is disconnected (handshake.services.practice_mark_disconnected).
    token_source: str
    patient_id: str
    patient_name: str
    interaction_id: str
    access_context: str
    actor_label: str
    session: HintSession

    def has(self, permission: str) -> bool:
        return permission in self.permissions

    @property
    def can(self) -> dict[str, bool]:
        """For templates: `{% if hint.can.administer %}`; a permission not held reads as false."""
        return dict.fromkeys(self.permissions, True)

    @property
    def read_only_reason(self) -> str:
        """One sentence beside a control this session may see but not use."""
        if self.is_support:
            return "Hint support sessions are read-only."
        return "Your roles in Hint let you see this, not change it."

    def __repr__(self) -> str:  # never show the key or the token
        return f"<HintContext practice={self.practice.hint_id} support={self.is_support}>"


class HintRequest(HttpRequest):
    """For type hints on views decorated with @hint_session."""

    hint: HintContext
