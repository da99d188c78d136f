"""The claims of customer tokens this process has verified, for the hot reads that need only the
brand (the shared room detail): a token is verified in full (``CustomerAccessToken``: signature,
type, expiry) the first time a process sees it, then found here until it expires. A viewer's
mini-program asks for the room again on every push and sale of the show with the same token;
PyJWT's decoding was a quarter of such a request's CPU. Access tokens are not revocable (no
blacklist), so what was valid stays valid until its ``exp``, which is checked on every use."""

import threading
import time
from collections import OrderedDict

from rest_framework_simplejwt.exceptions import TokenError

from tenants.auth import CustomerAccessToken

MAX_TOKENS = 20_000  # per process: a few MB at most

_verified: OrderedDict = OrderedDict()  # raw token → (customer_id, brand_id, exp)
_lock = threading.Lock()


def customer_claims(raw: str) -> tuple[int, int] | None:
    """``(customer_id, brand_id)`` of a valid customer token, or None."""
    known = _verified.get(raw)
    if known is not None and known[2] > time.time():
        return known[0], known[1]
    try:
        token = CustomerAccessToken(raw)
        claims = int(token["customer_id"]), int(token["brand_id"]), float(token["exp"])
    except (TokenError, KeyError, TypeError, ValueError):
        return None
    with _lock:
        _verified[raw] = claims
        while len(_verified) > MAX_TOKENS:
            _verified.popitem(last=False)
    return claims[0], claims[1]
