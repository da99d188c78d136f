"""The project's one rate limiter for actions (README, "Layers"): a fixed-window counter per
(action, who) in the shared cache, so every process counts together when the cache is Redis.

Comments, product clicks, lottery joins, gift-box opens, group-buy joins and bargain helps count
here; each caller names its action and its limit, and answers ``429`` with its own error code.
Like every cache use it degrades (tenants/redis.py): while Redis cannot be reached the counter
lets the action through rather than answering 500. Logins are throttled by DRF's scoped
throttle (``DEFAULT_THROTTLE_RATES``) on the same cache.
"""

import time

from django.core.cache import cache

from tenants.errors import RateLimited
from tenants.redis import UNAVAILABLE


def hit(action: str, who, window_s: int = 60) -> int:
    """Count one ``action`` by ``who`` (an id) and answer how many it made in this window."""
    key = f"rate:{action}:{who}:{int(time.time() // window_s)}"
    client = _redis_client()
    if client is None:
        cache.add(key, 0, window_s + 1)
        return cache.incr(key)
    full_key = cache.make_and_validate_key(key)
    try:
        pipe = client.pipeline(transaction=False)  # one round trip: count, and expire the window
        pipe.incr(full_key)
        pipe.expire(full_key, window_s + 1)
        return int(pipe.execute()[0])
    except UNAVAILABLE:
        return 0


def limit(action: str, who, *, per_window: int, code: str, message: str, window_s: int = 60) -> None:
    """Refuse (``429 code``) the ``per_window``-th-plus-one ``action`` of ``who`` in a window."""
    if hit(action, who, window_s) > per_window:
        raise RateLimited(code, message)


def _redis_client():
    backend = getattr(cache, "_cache", None)
    get_client = getattr(backend, "get_client", None)
    return get_client(write=True) if get_client is not None else None
