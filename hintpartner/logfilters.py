"""Keep secrets out of log lines that carry request URLs (runserver, gunicorn, Django's 4xx/5xx).

The session key travels in `?session_key=…` and the one-time install code in
`/hint/connect/<code>`; both would otherwise be written verbatim by request loggers.
"""

import logging
import re

_PATTERNS = (
    (re.compile(r"(session_key=)[^&\s\"']+"), r"\1[redacted]"),
    (re.compile(r"(/hint/connect/)[^\s?\"'/]+"), r"\1[redacted]"),
    (re.compile(r"(Bearer\s+)[^\s\"']+", re.IGNORECASE), r"\1[redacted]"),
)


def redact(text: str) -> str:
    """`text` with session keys, install codes and bearer tokens replaced by [redacted]."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Rewrites each record's final message through `redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
