"""Hint's API with a practice's own token, for background work (webhooks, batches, retries).

The one place where "Hint refused the practice's token" turns into "the practice is
disconnected": every call made through `practice_api` does it, so callers only decide what the
refusal means for their own work.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any

from handshake import services
from handshake.models import Practice
from hintpartner.hint import api, budget, errors, policy

NotInstalled = services.NotInstalled


class PracticeApi:
    """Each function of `hintpartner.hint.api`, called with the practice's token.

    A refused token (401, or 428 for a wrong kind of key) marks the practice disconnected, then
    the HintError is raised as usual for the caller to explain.
    """

    def __init__(self, practice: Practice) -> None:
        self.practice = practice
        self._token = services.practice_token(practice)  # NotInstalled when there is none

    def batch_room(self) -> bool:
        """Whether batch work may still spend the practice's Hint budget today
        (`budget.batch_room`)."""
        return budget.batch_room(self._token)

    def __repr__(self) -> str:  # never show the token
        return f"<PracticeApi {self.practice.pk}>"

    def __getattr__(self, name: str) -> Callable[..., Any]:
        call = getattr(api, name)

        @wraps(call)
        def with_token(**kwargs: Any) -> Any:
            with self._refusal_disconnects():
                result = call(token=self._token, **kwargs)
            # A paging iterator (`patients_iter`) calls Hint as it is read: watch it there too.
            return self._watched(result) if isinstance(result, Iterator) else result

        return with_token

    @contextmanager
    def _refusal_disconnects(self) -> Iterator[None]:
        try:
            yield
        except errors.HintError as exc:
            if policy.is_token_refused(exc):
                services.practice_mark_disconnected(practice=self.practice)
            raise

    def _watched(self, items: Iterator[Any]) -> Iterator[Any]:
        with self._refusal_disconnects():
            yield from items


def practice_api(practice: Practice) -> PracticeApi:
    """Hint's API for background work of `practice`; raises NotInstalled when not connected."""
    return PracticeApi(practice)
