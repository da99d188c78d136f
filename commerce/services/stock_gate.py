"""The admission gate in front of stock (DESIGN §10): a sold-out SKU or flash sale is answered
from Redis, without touching its hot row in PostgreSQL.

Each SKU has one Redis hash, ``<prefix>:gate:{b<brand>:sku<id>}`` (its name's ``{…}`` is its hash
slot, so everything of one SKU and its sales stays on one node of a Redis Cluster), holding tokens:
``stock`` (the SKU's units) and ``sale:<id>`` for each of its flash sales (the sale's units left),
and the SKU's ``label`` for the refusal's message. An order takes its tokens in one Lua script (one
round trip, all or none, per SKU) before it reads or writes anything in the database; a buyer the
script turns away gets the same 409 the database would give (``out_of_stock``,
``flash_sale_sold_out``).

PostgreSQL stays the source of truth: the order's claims still take the units there, and its CHECK
constraints still refuse them, so the gate can only turn buyers away early, never sell more.

* A field that is missing (the SKU never sold since Redis started, Redis was flushed or restarted,
  its hash expired) is rebuilt from the database by the order that finds it missing.
* Tokens are given back when the order fails (any error after they were taken) or turns out to
  be a retry of an earlier order; when the database refused the order for want of stock, the gate
  is set to what the database says instead, so a gate that counts too many heals itself there.
* Units that come back in the database (an order cancelled or expired, a refund's restock) are
  added back once that commits; an order placed inside a transaction of its caller's (a group buy,
  or a test) is not gated (a rollback could not give its tokens back) and its units are taken from
  the gate when it commits; a stock adjustment is added to the gate when it commits.
* What can still make the gate count too few (a worker killed between taking and giving back, a
  return lost while Redis was unreachable) lasts at most ``TTL_S``: every hash expires that long
  after it was built and is rebuilt from the database.
* When Redis is unreachable, orders go straight to the database (slower, never oversold); the
  gate is tried again after ``RETRY_AFTER_S``.
* A buyer turned away with an Idempotency-Key may be retrying the order that took the last unit,
  which must answer that order: the script marks each buyer who took tokens (for a day), and only
  a marked buyer's key is looked up in the database. After Redis lost its data, such a retry of
  an order placed before is answered 409 instead (the order stands, in the customer's orders).
* On the embedded default (no ``REDIS_URL``) the gate is off: one process, and SQLite serializes
  every write anyway.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from django.conf import settings
from django.db import connection, transaction

from commerce.models import FlashSale, Sku
from tenants.errors import Conflict

log = logging.getLogger(__name__)

TTL_S = 60  # a hash is rebuilt from the database at least this often
RETRY_AFTER_S = 5  # after Redis failed, orders skip the gate for this long
TIMEOUT_S = 0.5  # connect and read timeout of the gate's Redis calls
STOCK, LABEL = "stock", "label"

# KEYS[1]: a SKU's gate; KEYS[2]: the buyer's mark on it. ARGV: ttl, n, then n pairs (field, units),
# then pairs (field, value) to fill in first where missing (a rebuild). Answers {1} (taken, and the
# buyer marked for a day), {-1} (a field is missing), or {0, i, left, label, marked} (refused by
# the i-th field, which has only ``left``; ``marked``: whether this buyer took tokens here before).
_TAKE = """
local n = tonumber(ARGV[2])
if #ARGV > 2 + 2 * n then
  for i = 3 + 2 * n, #ARGV, 2 do redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) end
  if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
end
local fields = {}
for i = 1, n do fields[i] = ARGV[1 + 2 * i] end
local values = redis.call('HMGET', KEYS[1], unpack(fields))
for i = 1, n do
  if not values[i] then return {-1} end
end
for i = 1, n do
  local left = tonumber(values[i])
  if left < tonumber(ARGV[2 + 2 * i]) then
    return {0, i, left, redis.call('HGET', KEYS[1], 'label') or '', redis.call('EXISTS', KEYS[2])}
  end
end
for i = 1, n do redis.call('HINCRBY', KEYS[1], fields[i], -tonumber(ARGV[2 + 2 * i])) end
redis.call('SET', KEYS[2], 1, 'EX', 86400)
return {1}
"""

# KEYS[1]: a SKU's gate. ARGV: "add" or "set", then pairs (field, value). Only fields that exist
# change: a missing one is rebuilt from the database, which already counts the change.
_ADJUST = """
for i = 2, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then
    if ARGV[1] == 'add' then
      redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
    else
      redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    end
  end
end
"""


def gate_key(brand_id: int, sku_id: int) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:gate:{{b{brand_id}:sku{sku_id}}}"


def buyer_key(brand_id: int, sku_id: int, customer_id: int) -> str:
    """Marks a customer who took tokens of the SKU in the last day: only such a buyer, turned away,
    may be retrying an order already placed, so only theirs is looked up (orders.order_place)."""
    return f"{gate_key(brand_id, sku_id)}:buyer:{customer_id}"


def sale_field(flash_sale_id: int) -> str:
    return f"sale:{flash_sale_id}"


class _Redis:
    """This process's connection to the gate's Redis, and whether it is believed reachable."""

    def __init__(self):
        self.url, self.client, self.take, self.adjust = None, None, None, None
        self.down_until = 0.0
        self.lock = threading.Lock()

    def get(self):
        """The client, or None when the gate is off or Redis failed less than RETRY_AFTER_S ago."""
        url = settings.REDIS_URL
        if not url or time.monotonic() < self.down_until:
            return None
        if self.url != url:
            import redis

            with self.lock:
                client = redis.Redis.from_url(url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)
                self.take, self.adjust = client.register_script(_TAKE), client.register_script(_ADJUST)
                self.client, self.url = client, url
        return self.client

    def failed(self, error: Exception) -> None:
        self.down_until = time.monotonic() + RETRY_AFTER_S
        log.warning("stock gate: Redis unreachable (%s); orders go to the database for %s s", error, RETRY_AFTER_S)


_redis = _Redis()


def _redis_errors():
    import redis

    return (redis.RedisError, OSError)


class Ticket:
    """The tokens one order took: ``{sku_id: {field: units}}``. Nothing when the gate was off."""

    def __init__(self, brand_id: int, taken: dict[int, dict[str, int]] | None):
        self.brand_id, self.taken = brand_id, taken

    @property
    def gated(self) -> bool:
        return self.taken is not None

    def give_back(self) -> None:
        if self.taken:
            _adjust(self.brand_id, self.taken, sign=1)

    def failed(self, error: BaseException) -> None:
        """The order did not go through: give its tokens back, or, when the database refused it for
        want of stock (the gate counted too many), set them to what the database holds."""
        if not self.taken:
            return
        if getattr(error, "code", None) in ("out_of_stock", "flash_sale_sold_out"):
            values = {sku_id: _db_values(self.brand_id, sku_id, fields) for sku_id, fields in self.taken.items()}
            _quietly(lambda: _set(self.brand_id, values))
            return
        self.give_back()


NOT_GATED = Ticket(0, None)


def admit(*, brand_id: int, customer_id: int, lines: Iterable) -> Ticket:
    """Take the tokens of an order's ``lines`` (``sku_id``, ``quantity``, ``flash_sale_id``; merged
    already and checked for quantities), or raise the 409 the database would give. Answers the
    ticket to give them back with if the order fails; NOT_GATED when the gate is off, Redis is
    unreachable, a row is not the brand's (the database answers that), or a transaction is open."""
    client = _redis.get()
    if client is None or connection.in_atomic_block:
        return NOT_GATED
    wanted: dict[int, dict[str, int]] = {}
    for line in lines:
        fields = wanted.setdefault(line.sku_id, {})
        fields[STOCK] = fields.get(STOCK, 0) + line.quantity
        if line.flash_sale_id:
            fields[sale_field(line.flash_sale_id)] = line.quantity
    taken: dict[int, dict[str, int]] = {}
    try:
        for sku_id, fields in sorted(wanted.items()):
            refusal = _take(brand_id, sku_id, customer_id, fields)
            if refusal is False:  # not the brand's SKU or sale: let the database answer
                _adjust(brand_id, taken, sign=1)
                return NOT_GATED
            if refusal is not None:
                _adjust(brand_id, taken, sign=1)
                raise refusal
            taken[sku_id] = fields
    except _redis_errors() as error:
        _redis.failed(error)
        if taken:
            try:
                _adjust(brand_id, taken, sign=1)
            except _redis_errors():
                pass  # healed when the hash expires (TTL_S)
        return NOT_GATED
    return Ticket(brand_id, taken)


def _take(brand_id: int, sku_id: int, customer_id: int, fields: dict[str, int]):
    """None when taken; the Conflict when refused; False when the database has no such row."""
    # The sale's units before the SKU's stock, as the database path checks them.
    ordered = sorted(fields, key=lambda field: field == STOCK)
    key, pairs = gate_key(brand_id, sku_id), [x for field in ordered for x in (field, fields[field])]
    keys = [key, buyer_key(brand_id, sku_id, customer_id)]
    answer = _redis.take(keys=keys, args=[TTL_S, len(fields), *pairs])
    if answer[0] == -1:
        values = _db_values(brand_id, sku_id, fields, label=True)
        if values is None:
            return False
        fill = [x for item in values.items() for x in item]
        answer = _redis.take(keys=keys, args=[TTL_S, len(fields), *pairs, *fill])
    if answer[0] == 1:
        return None
    _, index, left, label, marked = answer
    if ordered[index - 1] == STOCK:
        label = label.decode() if isinstance(label, bytes) else label
        refusal = Conflict("out_of_stock", f"{label} is out of stock.", fields={"sku": sku_id})
    else:
        refusal = Conflict(
            "flash_sale_sold_out", "The flash sale is sold out.", fields={"remaining": max(int(left), 0)}
        )
    refusal.bought_before = bool(marked)
    return refusal


def _db_values(brand_id: int, sku_id: int, fields, *, label: bool = False) -> dict | None:
    """What the database holds for a SKU's gate fields (None if the SKU or a sale is not the brand's)."""
    row = (
        Sku.unscoped.filter(pk=sku_id, brand_id=brand_id).values_list("stock", "spec", "code", "product__name").first()
    )
    if row is None:
        return None
    stock, spec, code, name = row
    values = {STOCK: stock}
    if label:
        values[LABEL] = f"{name} ({spec or code})"
    sale_ids = [int(field.partition(":")[2]) for field in fields if field.startswith("sale:")]
    if sale_ids:
        sales = FlashSale.unscoped.filter(pk__in=sale_ids, brand_id=brand_id, sku_id=sku_id)
        left = {pk: quantity - sold for pk, quantity, sold in sales.values_list("pk", "quantity", "sold")}
        if set(left) != set(sale_ids):
            return None
        values.update({sale_field(pk): units for pk, units in left.items()})
    return values


def _adjust(brand_id: int, changes: dict[int, dict[str, int]], *, sign: int) -> None:
    for sku_id, fields in changes.items():
        _redis.adjust(
            keys=[gate_key(brand_id, sku_id)], args=["add", *(x for f, u in fields.items() for x in (f, sign * u))]
        )


def _set(brand_id: int, values: dict[int, dict | None]) -> None:
    for sku_id, fields in values.items():
        if fields:
            _redis.adjust(
                keys=[gate_key(brand_id, sku_id)], args=["set", *(x for item in fields.items() for x in item)]
            )


def _quietly(change) -> None:
    """Run a change of the gate, if it is on and Redis answers; otherwise the hash's TTL heals it."""
    if _redis.get() is None:
        return
    try:
        change()
    except _redis_errors() as error:
        _redis.failed(error)


def units_changed_on_commit(
    *, brand_id: int, sku_units: dict[int, int], sale_units: dict[int, tuple[int, int]], sign: int
) -> None:
    """Once the current transaction commits, add (``sign`` 1: units came back) or take (-1: an
    order not gated was placed; a stock adjustment) ``sku_units`` ({sku_id: units}) and ``sale_units``
    ({flash_sale_id: (sku_id, units)}) in the gate."""
    if not settings.REDIS_URL:
        return
    changes: dict[int, dict[str, int]] = {}
    for sku_id, units in sku_units.items():
        changes.setdefault(sku_id, {})[STOCK] = units
    for sale_id, (sku_id, units) in sale_units.items():
        changes.setdefault(sku_id, {})[sale_field(sale_id)] = units
    if changes:
        transaction.on_commit(lambda: _quietly(lambda: _adjust(brand_id, changes, sign=sign)))
