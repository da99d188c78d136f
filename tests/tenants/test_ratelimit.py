"""The project's one rate limiter (tenants.ratelimit): a fixed window per action and who, in the
shared cache; the (n+1)-th action of a window answers 429 with the caller's code."""

import pytest
import time_machine

from tenants import ratelimit
from tenants.errors import RateLimited


def test_counts_per_action_and_who_within_a_window():
    with time_machine.travel(1_800_000_000, tick=False):
        assert [ratelimit.hit("poke", 7) for _ in range(3)] == [1, 2, 3]
        assert ratelimit.hit("poke", 8) == 1
        assert ratelimit.hit("nudge", 7) == 1
    with time_machine.travel(1_800_000_060, tick=False):  # the next minute starts again
        assert ratelimit.hit("poke", 7) == 1


def test_the_action_past_the_limit_is_refused_with_the_callers_code():
    with time_machine.travel(1_800_000_000, tick=False):
        for _ in range(2):
            ratelimit.limit("poke", 1, per_window=2, code="poke_rate_limited", message="Slow down.")
        with pytest.raises(RateLimited) as refused:
            ratelimit.limit("poke", 1, per_window=2, code="poke_rate_limited", message="Slow down.")
    assert refused.value.code == "poke_rate_limited" and refused.value.status_code == 429
