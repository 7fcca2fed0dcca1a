"""Hint's rate limit (per token) and the injected faults, for the API views."""

import hashlib
import math
import random
import threading
import time

from sandbox.models import Config

_CACHE_SECONDS = 0.5
_lock = threading.Lock()
_config: tuple[float, Config] | None = None
_buckets: dict[str, tuple[float, float]] = {}  # token hash -> (tokens left, last refill)


def config_cached() -> Config:
    """The configuration row, re-read at most twice a second (the host page may change it)."""
    global _config
    now = time.monotonic()
    with _lock:
        if _config is not None and now - _config[0] < _CACHE_SECONDS:
            return _config[1]
    config = Config.get()
    with _lock:
        _config = (now, config)
    return config


def config_forget() -> None:
    global _config
    with _lock:
        _config = None


def rate_limit_wait(token: str, rate: float) -> float:
    """0 when the request may proceed; else the seconds to wait (a token bucket, burst = rate)."""
    if rate <= 0:
        return 0.0
    key = hashlib.sha256(token.encode()).hexdigest()
    now = time.monotonic()
    with _lock:
        tokens, last = _buckets.get(key, (rate, now))
        tokens = min(rate, tokens + (now - last) * rate)
        if tokens >= 1:
            _buckets[key] = (tokens - 1, now)
            return 0.0
        _buckets[key] = (tokens, now)
        return (1 - tokens) / rate


def retry_after_header(wait: float) -> str:
    return str(max(1, math.ceil(wait)))


def roll(rate: float) -> bool:
    return rate > 0 and random.random() < rate
