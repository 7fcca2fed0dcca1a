"""Typed errors for calls to Hint. Messages never carry tokens, codes or request bodies."""


class HintError(Exception):
    """A call to Hint did not succeed."""

    status: int | None = None
    # Whether Hint may have applied the request although we saw no answer (a timeout).
    uncertain: bool = False
    # Worth trying again later (5xx, 429, timeouts) as opposed to a request Hint refused.
    transient: bool = False

    def __init__(self, message: str, *, status: int | None = None, hint_message: str = "") -> None:
        super().__init__(message)
        self.status = status if status is not None else self.status
        self.hint_message = hint_message


class HintUnauthorized(HintError):
    """401: the token is wrong, expired or revoked."""

    status = 401


class HintWrongKey(HintError):
    """428: a partner key was sent to a provider path, which needs a practice token."""

    status = 428


class HintNotFound(HintError):
    status = 404


class HintBadRequest(HintError):
    """400 or 422: Hint refused the request as invalid; `hint_message` says why."""


class HintRateLimited(HintError):
    """429 after every retry."""

    status = 429
    transient = True


class HintUnavailable(HintError):
    """5xx or a network failure after every retry."""

    transient = True


class HintTimeout(HintUnavailable):
    """No answer in time: Hint may or may not have applied the request."""

    uncertain = True


class HintInvalidResponse(HintError):
    """Hint answered 2xx with a body we cannot read."""


class HintBudgetExhausted(HintError):
    """Today's Hint budget for the token is spent: nothing was sent. Passes at midnight UTC."""

    transient = True

    def __init__(self, message: str, *, used: int = 0) -> None:
        super().__init__(message)
        self.used = used
