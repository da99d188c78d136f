"""Redis going away (DESIGN §10 "degrade, don't fail"): what it raises, and a cache that falls
back instead of failing the request.

``DegradingRedisCache`` is Django's Redis cache whose calls answer as a cold cache does while
Redis cannot be reached — a read misses, a write is dropped, a counter starts again at its
first step — so every cache use degrades in one place: cached reads are built from the
database, and rate limits kept in the cache (DRF's throttles, the offers' ``rate_hit``) let
requests through instead of answering 500. Each outage is logged once when it starts and once
when it ends.
"""

import functools
import logging

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as _RedisDown
from redis.exceptions import TimeoutError as _RedisSlow

UNAVAILABLE: tuple[type[Exception], ...] = (_RedisDown, _RedisSlow)
"""What redis-py raises when Redis cannot be reached (down, restarting, too slow)."""

logger = logging.getLogger("siyu.redis")


def _degrading(fallback):
    def wrap(method):
        @functools.wraps(method)
        def call(self, *args, **kwargs):
            try:
                result = method(self, *args, **kwargs)
            except UNAVAILABLE:
                if not self.degraded:
                    logger.warning("Cache unreachable: answering as a cold cache until it is back", exc_info=True)
                self.degraded = True
                return fallback(*args, **kwargs)
            if self.degraded:
                logger.warning("Cache reachable again")
                self.degraded = False
            return result

        return call

    return wrap


def _default(key, default=None, *args, **kwargs):
    return default


def _false(*args, **kwargs):
    return False


def _none(*args, **kwargs):
    return None


def _delta(key, delta=1, *args, **kwargs):
    return delta


class DegradingRedisCache(RedisCache):
    degraded = False

    get = _degrading(_default)(RedisCache.get)
    set = _degrading(_false)(RedisCache.set)
    add = _degrading(_false)(RedisCache.add)
    touch = _degrading(_false)(RedisCache.touch)
    delete = _degrading(_false)(RedisCache.delete)
    has_key = _degrading(_false)(RedisCache.has_key)
    incr = _degrading(_delta)(RedisCache.incr)
    get_many = _degrading(lambda *a, **k: {})(RedisCache.get_many)
    set_many = _degrading(lambda keys, *a, **k: list(keys))(RedisCache.set_many)
    delete_many = _degrading(_none)(RedisCache.delete_many)
    clear = _degrading(_false)(RedisCache.clear)
