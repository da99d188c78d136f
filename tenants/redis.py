"""Redis going away (DESIGN §10 "degrade, don't fail"): what it raises, and a cache that falls
back instead of failing the request.

``DegradingRedisCache`` is Django's Redis cache (with one redis-py client per connection pool,
below) whose calls answer as a cold cache does while
Redis cannot be reached — a read misses, a write is dropped, a counter starts again at its
first step — so every cache use degrades in one place: cached reads are built from the
database, and rate limits kept in the cache (DRF's throttles, the offers' ``rate_hit``) let
requests through instead of answering 500. Each outage is logged once when it starts and once
when it ends.
"""

import functools
import logging

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient
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


class RedisCacheClient(DjangoRedisCacheClient):
    """Django's ``get_client`` builds a new ``redis.Redis`` for every cache operation, and
    redis-py's constructor fills its table of ~170 response callbacks each time: on the cached
    room detail that was the largest single cost of a hit (a third of the view's CPU). A
    ``redis.Redis`` is safe to share between threads (a connection from its pool per command), so
    each pool gets one, built on first use in each process."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient

    def get_many_trusted(self, keys) -> dict:
        """``get_many`` for keys the code builds itself (short ASCII): without the per-character
        memcached-safety check of every key, a fifth of a hot read's cache time."""
        made = [self.make_key(key) for key in keys]
        values = self._cache.get_client().mget(made)
        loads = self._cache._serializer.loads
        return {key: loads(value) for key, value in zip(keys, values, strict=True) if value is not None}


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
    get_many_trusted = _degrading(lambda *a, **k: {})(RedisCache.get_many_trusted)
    set_many = _degrading(lambda keys, *a, **k: list(keys))(RedisCache.set_many)
    delete_many = _degrading(_none)(RedisCache.delete_many)
    clear = _degrading(_false)(RedisCache.clear)
