"""Whether a brand serves its customers, cached for the hot reads that verify a customer's token
but do not load the customer (the shared room detail): one key per brand, forgotten when the
brand is suspended or reactivated, and kept ``TTL`` seconds at most otherwise."""

from django.core.cache import cache
from django.db import transaction

TTL = 30


def key(brand_id: int) -> str:
    return f"brand:{brand_id}:active"


def remember(brand_id: int, active: bool) -> None:
    cache.set(key(brand_id), 1 if active else 0, timeout=TTL)


def forget_on_commit(brand_id: int) -> None:
    transaction.on_commit(lambda: cache.delete(key(brand_id)))
