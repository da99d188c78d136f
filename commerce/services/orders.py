"""Orders: placement, the state machine, expiry and completion.

Stock is taken by the database (``UPDATE … SET stock = stock - n``, refused by the SKU's CHECK
constraint below zero), never read and then written, once per SKU and in SKU id order so that two
orders never deadlock. Stock and flash-sale units come back exactly once: only the transition
that moves an order out of ``pending_payment`` (a conditional UPDATE on its status) gives them
back, so expiry, a cancellation and a late payment cannot both win.
"""

import hashlib
import json
import secrets
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from commerce.hooks import ORDER_CANCELLED, ORDER_PAID, OrderCancelled, OrderPaid, products_changed
from commerce.models import FlashSale, Order, OrderEvent, OrderLine, Product, Sku
from commerce.services import flash_sales, stock_gate
from commerce.services.pricing import PricedLine, price_order
from coupons import services as coupon_services
from guides.models import Store
from guides.services import attribution_for
from livestream import sales as room_sales
from livestream.models import LiveRoom, RoomProduct
from livestream.sources import DIRECT, SCENE, EntrySource, resolve_entry_source, scene_of
from tenants.auth import TokenCustomer
from tenants.errors import Conflict, InvalidInput, NotFound
from tenants.models import Brand, Customer
from tenants.scoping import brand_scope, platform_scope
from tenants.sql import Claim, Inserter, RowLoader, batch, claim_refusal, reserve_id, select, writes_together

Status = Order.Status
Actor = OrderEvent.Actor

MAX_LINES = 50
MAX_QUANTITY = 99
ADDRESS_FIELDS = {"name": 20, "phone": 20, "province": 20, "city": 20, "district": 20, "detail": 120}
OFFER_ROOM_SELLS = (LiveRoom.Status.LIVE, LiveRoom.Status.PAUSED, LiveRoom.Status.ENDED)


@dataclass(frozen=True)
class LineRequest:
    sku_id: int
    quantity: int
    flash_sale_id: int | None = None


@dataclass(frozen=True)
class OfferPrice:
    """A group-buy seat or a bargain bought by an order: one unit of ``sku_id`` at ``unit_price``.
    ``hold(order, now)`` records the order with its offer inside the order's transaction (a seat
    taken by a conditional UPDATE); raising there rolls the whole order back. ``key`` names the
    offer in the order's idempotency hash."""

    sku_id: int
    unit_price: int
    key: str
    hold: Callable[[Order, object], None]


def get_order(order_id, *, customer: Customer | None = None) -> Order:
    """An order of the brand in scope (and of ``customer``, if named); otherwise not found."""
    orders = Order.objects.filter(pk=order_id)
    if customer is not None:
        orders = orders.filter(customer=customer)
    order = orders.first()
    if order is None:
        raise NotFound("order_not_found", "No such order.")
    return order


# --- placement -----------------------------------------------------------------------------------


def order_place(
    *,
    brand: Brand,
    customer: Customer | TokenCustomer,
    lines: list[LineRequest],
    room_id: int | None = None,
    source: str = "",
    delivery: str = Order.Delivery.SHIP,
    address: dict | None = None,
    pickup_store_id: int | None = None,
    note: str = "",
    idempotency_key: str = "",
    coupon_id: int | None = None,
    offer: OfferPrice | None = None,
) -> tuple[Order, bool]:
    """Place an order; answers ``(order, created)``. The same ``idempotency_key`` with the same
    request answers the first order (``created`` False); with another request, 409. A coupon
    (``coupon_id``) is held for the order until it is paid (used) or cancelled (given back).

    ``customer`` may be a TokenCustomer: their row is read once the stock gate has admitted the
    order, so a buyer turned away from sold-out units costs no query (the flash sale's hot path)."""
    # A coupon or an offer joins the hash only when named, so orders without them hash as before.
    extras = [coupon_id] if coupon_id is not None else []
    extras += [offer.key] if offer is not None else []
    request_hash = _request_hash(lines, room_id, source, delivery, address, pickup_store_id, note, *extras)
    merged = _checked_lines(lines)
    with brand_scope(brand):
        try:
            ticket = stock_gate.admit(brand_id=brand.pk, customer_id=customer.pk, lines=merged)
        except Conflict as refusal:  # a sold-out SKU or sale ends here; a retry answers its order
            if idempotency_key and refusal.bought_before and _key_used(customer, idempotency_key):
                return _earlier_order(customer, idempotency_key, request_hash), False
            raise
        place = partial(
            _place, brand, merged=merged, room_id=room_id, source=source, delivery=delivery, address=address,
            pickup_store_id=pickup_store_id, note=note, idempotency_key=idempotency_key, request_hash=request_hash,
            coupon_id=coupon_id, offer=offer,
        )  # fmt: skip
        try:
            if isinstance(customer, TokenCustomer):
                customer = customer.load()
            place = partial(place, customer=customer)
            order, created = _placed_or_earlier(place, customer, idempotency_key, request_hash)
        except BaseException as error:
            ticket.failed(error)
            raise
        if not created:
            ticket.give_back()
        elif not ticket.gated:
            _taken_from_gate_on_commit(order)
        return order, created


def _placed_or_earlier(place, customer, idempotency_key, request_hash) -> tuple[Order, bool]:
    """``place()``, or the earlier order of a retry."""
    for attempt in range(2):
        try:
            return place()
        except (Conflict, NotFound, IntegrityError) as error:
            # A retry of an order placed before answers that order, even when it could not be
            # placed again now (its flash sale sold out since). An INSERT that met a unique key
            # (everything was rolled back) is either that, with a parallel request with the key
            # committing first, or a random order number already taken (try once more).
            earlier = _earlier_order(customer, idempotency_key, request_hash) if idempotency_key else None
            if earlier is not None:
                return earlier, False
            if not isinstance(error, IntegrityError) or attempt:
                raise
    raise AssertionError("unreachable")


def _request_hash(*parts) -> str:
    canonical = json.dumps(
        [[(line.sku_id, line.quantity, line.flash_sale_id) for line in parts[0]], *parts[1:]],
        sort_keys=True,
        default=str,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


_KEY_USED = "SELECT 1 FROM commerce_order WHERE brand_id = %s AND customer_id = %s AND idempotency_key = %s"


def _key_used(customer: Customer | TokenCustomer, key: str) -> bool:
    """Whether the customer placed an order with this Idempotency-Key: asked of every buyer the
    stock gate turns away with a key, so written out once (its index: order_idempotency_uniq)."""
    with connection.cursor() as cursor:
        cursor.execute(_KEY_USED, [customer.brand_id, customer.pk, key])
        return cursor.fetchone() is not None


def _earlier_order(customer: Customer | TokenCustomer, key: str, request_hash: str) -> Order | None:
    """The order placed before with this Idempotency-Key; the key with another request: 409."""
    earlier = Order.objects.filter(customer_id=customer.pk, idempotency_key=key).first()
    if earlier is not None and earlier.request_hash != request_hash:
        raise Conflict("idempotency_key_reused", "This Idempotency-Key was used for a different order.")
    return earlier


def _checked_lines(line_requests: list[LineRequest]) -> list[LineRequest]:
    """The cart's lines, merged, once their count and quantities are within bounds."""
    if not line_requests:
        raise InvalidInput("empty_cart", "An order needs at least one line.", fields={"lines": ["Empty."]})
    if len(line_requests) > MAX_LINES:
        raise InvalidInput("invalid", f"At most {MAX_LINES} lines.", fields={"lines": [f"At most {MAX_LINES}."]})
    for index, line in enumerate(line_requests):
        if not 1 <= line.quantity <= MAX_QUANTITY:
            raise InvalidInput(
                "invalid_quantity",
                f"A quantity is 1 to {MAX_QUANTITY}.",
                fields={"lines": {index: {"quantity": [f"1 to {MAX_QUANTITY}."]}}},
            )
    return _merge(line_requests)


def _taken_from_gate_on_commit(order: Order) -> None:
    """An order placed without the gate (inside a transaction, or while Redis was unreachable)
    takes its units from the gate when it commits."""
    sku_units, sale_units = {}, {}
    for line in order.placed_lines:
        sku_units[line.sku_id] = sku_units.get(line.sku_id, 0) + line.quantity
        if line.flash_sale_id:
            sale_units[line.flash_sale_id] = (line.sku_id, line.quantity)
    stock_gate.units_changed_on_commit(brand_id=order.brand_id, sku_units=sku_units, sale_units=sale_units, sign=-1)


def _place(
    brand,
    customer,
    merged,
    room_id,
    source,
    delivery,
    address,
    pickup_store_id,
    note,
    idempotency_key,
    request_hash,
    coupon_id=None,
    offer=None,
) -> tuple[Order, bool]:
    with batch():  # these reads in one round trip
        skus_and_sales = _skus_with_sales(
            brand, {line.sku_id for line in merged}, {line.flash_sale_id for line in merged if line.flash_sale_id}
        )
        credit = attribution_for(brand=brand, customer=customer, scene=scene_of(source))
        order_id = reserve_id(Order)
    (skus, sales), credit = skus_and_sales(), credit()
    room = _room(room_id) if room_id is not None else None
    if room is not None:
        _check_room_sells(room, merged, sales, offer)
    entry = resolve_entry_source(room, source) if room is not None else _roomless_source(source)
    priced = [_priced_line(line, skus, room, customer) for line in merged]
    if offer is not None:
        _apply_offer(offer, priced, coupon_id)
    if room is not None:
        _check_listed(room, priced)
    delivery_fields = _delivery(delivery, address, pickup_store_id)
    now = timezone.now()
    for line in priced:
        if line.flash_sale_id:
            line.flash_sale = flash_sales.flash_sale_check(
                flash_sale=sales.get(line.flash_sale_id),
                flash_sale_id=line.flash_sale_id,
                sku=line.sku,
                room=room,
                customer=customer,
                quantity=line.quantity,
                now=now,
            )
    coupon = None
    if coupon_id is not None:
        coupon = coupon_services.coupon_offer_for_order(customer=customer, coupon_id=coupon_id, now=now)
    quote = price_order(brand=brand, lines=priced, delivery=delivery, coupon=coupon)

    order = Order(
        pk=order_id(),
        brand=brand,
        number=_order_number(now),
        customer=customer,
        room=room,
        source_kind=entry.kind if entry is not DIRECT else "",
        source_scene=entry.scene,
        festival_id=entry.festival_id,
        costream_id=entry.costream_id,
        referring_room_id=entry.referring_room_id,
        guide_id=credit.guide_id,
        store_id=credit.store_id,
        leader_id=credit.leader_id,
        note=note.strip()[:200],
        items_total=quote.items_total,
        discount_total=quote.discount_total,
        shipping_fee=quote.shipping_fee,
        payable=quote.payable,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        expires_at=now + timedelta(minutes=brand.payment_window_minutes),
        **delivery_fields,
    )

    # The order, its lines, its event and its claims go to the database as one statement, which
    # also commits them (tenants.sql.writes_together). The rows every buyer of a flash sale updates
    # (the sale's count, the SKU's stock) are claimed last, so each order holds their locks as
    # briefly as possible; in id order, so two orders never deadlock. A refused claim rolls the
    # whole order back. A coupon or an offer is held by statements that read their answers, so such
    # an order opens a transaction of its own first and holds them after the claims.
    offers = sorted((p for p in priced if p.flash_sale), key=lambda p: p.flash_sale.pk)
    units_by_sku = {}
    for line in sorted(priced, key=lambda p: p.sku.pk):
        units_by_sku[line.sku] = units_by_sku.get(line.sku, 0) + line.quantity
    # What is left of a sale's units and a SKU's stock, read back to tell the rooms when it runs out.
    units_left = [
        *(
            (p.sku.pk, flash_sales.flash_sale_take(flash_sale=p.flash_sale, sku=p.sku, quantity=p.quantity, now=now))
            for p in offers
        ),
        *((sku.pk, _take_stock(sku, quantity)) for sku, quantity in units_by_sku.items()),
    ]
    claims = [
        *(
            flash_sales.flash_sale_add_to_customer(flash_sale=p.flash_sale, customer=customer, quantity=p.quantity)
            for p in offers
        ),
        *(claim for _, claim in units_left),
    ]
    try:
        with transaction.atomic() if coupon is not None or offer is not None else nullcontext():
            with writes_together():
                saved_order = _insert_order.send([order])
                if order.pk is None:  # no id reserved (SQLite): the INSERT ran already; its id now
                    saved_order()
                saved_lines = _insert_line.send(
                    [
                        OrderLine(
                            brand=brand,
                            order=order,
                            product=line.product,
                            sku=line.sku,
                            flash_sale=line.flash_sale,
                            product_name=line.product.name,
                            sku_spec=line.sku.spec,
                            unit_price=line.unit_price,
                            quantity=line.quantity,
                            discount=line.discount,
                        )
                        for line in priced
                    ]
                )
                saved_event = _insert_event.send(
                    [
                        OrderEvent(
                            brand=brand, order=order, to_status=order.status, actor=Actor.CUSTOMER, actor_id=customer.pk
                        )
                    ]
                )
                for claim in claims:
                    claim.send()
            if coupon is not None:
                coupon_services.coupon_lock(offer=coupon, order=order, discount=quote.coupon_discount, now=now)
            if offer is not None:
                offer.hold(order, now)
    except IntegrityError:
        if (refusal := claim_refusal(claims)) is not None:
            raise refusal from None
        raise
    saved_order()
    order.placed_lines = saved_lines()
    saved_event()
    # The rooms that show a SKU whose stock (or flash sale) this order sold out show it sold out.
    if sold_out := {sku_id for sku_id, claim in units_left if claim.answer() == [(0,)]}:
        products_changed(brand_id=brand.pk, sku_ids=sorted(sold_out))
    return order, True


# Placing an order is the flash sale's hot path: its statements are written out once (tenants.sql).
_insert_order, _insert_line, _insert_event = Inserter(Order, with_pk=True), Inserter(OrderLine), Inserter(OrderEvent)
_skus, _products, _sales = RowLoader(Sku, "s"), RowLoader(Product, "p"), RowLoader(FlashSale, "f")


def _skus_with_sales(
    brand: Brand, sku_ids, flash_sale_ids
) -> Callable[[], tuple[dict[int, Sku], dict[int, FlashSale]]]:
    """The brand's SKUs among ``sku_ids``, each with its product, and the brand's flash sales among
    ``flash_sale_ids`` of those SKUs (another brand's: absent), asked at once in one statement;
    call the answer for them."""
    ids, sale_ids = sorted(sku_ids), sorted(flash_sale_ids) or [None]  # IN (NULL) matches no sale
    rows = select(
        f"SELECT {_skus.columns}, {_products.columns}, {_sales.columns} FROM {Sku._meta.db_table} s "
        f"JOIN {Product._meta.db_table} p ON p.id = s.product_id "
        f"LEFT JOIN {FlashSale._meta.db_table} f ON f.sku_id = s.id AND f.brand_id = s.brand_id "
        f"AND f.id IN ({', '.join(['%s'] * len(sale_ids))}) "
        f"WHERE s.brand_id = %s AND s.id IN ({', '.join(['%s'] * len(ids))})",
        [*sale_ids, brand.pk, *ids],
    )
    product_end = _skus.width + _products.width

    def skus_and_sales() -> tuple[dict[int, Sku], dict[int, FlashSale]]:
        skus, sales = {}, {}
        for row in rows():
            if (sku_id := row[0]) not in skus:
                skus[sku_id] = sku = _skus.build(row[: _skus.width])
                sku.product = _products.build(row[_skus.width : product_end])
            if row[product_end] is not None:
                sale = sales[row[product_end]] = _sales.build(row[product_end:])
                sale.sku = skus[sku_id]
        return skus, sales

    return skus_and_sales


def _merge(lines: list[LineRequest]) -> list[LineRequest]:
    """The same SKU (at the same offer) twice in a cart is one line."""
    merged: dict[tuple, int] = {}
    for line in lines:
        key = (line.sku_id, line.flash_sale_id)
        merged[key] = merged.get(key, 0) + line.quantity
    result = [LineRequest(sku_id, quantity, flash_sale_id) for (sku_id, flash_sale_id), quantity in merged.items()]
    for index, line in enumerate(result):
        if line.quantity > MAX_QUANTITY:
            raise InvalidInput(
                "invalid_quantity",
                f"A quantity is 1 to {MAX_QUANTITY}.",
                fields={"lines": {index: {"quantity": [f"1 to {MAX_QUANTITY}."]}}},
            )
    return result


def _apply_offer(offer: OfferPrice, priced: list[PricedLine], coupon_id) -> None:
    if len(priced) != 1 or priced[0].sku.pk != offer.sku_id or priced[0].quantity != 1 or priced[0].flash_sale_id:
        raise InvalidInput("invalid", "A group buy or bargain is one unit of its SKU.", fields={"lines": ["One unit."]})
    if coupon_id is not None:
        raise Conflict("coupon_not_allowed", "A coupon cannot be used with a group buy or bargain price.")
    priced[0].offer_price = offer.unit_price


def _check_room_sells(room: LiveRoom, lines: list[LineRequest], sales: dict, offer) -> None:
    """The room sells this order now (livestream.sales: room products also in the replay, a
    flash sale of the room only while it is live, nothing while paused). An offer's order (a
    group buy's seat, a bargain) keeps to the offer's window: its room need only be open or over."""
    if offer is not None:
        if room.status not in OFFER_ROOM_SELLS or not room.goods_enabled:
            raise Conflict("room_not_selling", "This room does not sell now.", fields={"status": room.status})
        return
    live_only = any(
        (sale := sales.get(line.flash_sale_id)) is not None and sale.room_id == room.pk
        for line in lines
        if line.flash_sale_id
    )
    refusal = room_sales.sale_refusal(room, live_only=live_only)
    if refusal is not None:
        raise Conflict(refusal, room_sales.MESSAGES[refusal], fields={"status": room.status})


def _room(room_id) -> LiveRoom:
    room = LiveRoom.objects.filter(pk=room_id).first()
    if room is None:
        raise NotFound("room_not_found", "No such live room.", fields={"room_id": ["No such room."]})
    return room


def _roomless_source(source: str):
    if source and not source.startswith("scene:"):
        raise InvalidInput(
            "invalid_source",
            "Outside a room, a source is a share scene (scene:<scene>).",
            fields={"source": ["Only scene:<scene> without a room."]},
        )
    scene = source.partition(":")[2]
    if source and not SCENE.match(scene):
        raise InvalidInput("invalid_source", "Not a valid scene.", fields={"source": ["Not a valid scene."]})
    return EntrySource("scene", scene=scene) if source else DIRECT


def _priced_line(line: LineRequest, skus: dict, room, customer) -> PricedLine:
    sku = skus.get(line.sku_id)
    if sku is None:
        raise NotFound("sku_not_found", "No such SKU.", fields={"sku": line.sku_id})
    if not sku.is_active or not sku.product.is_sellable:
        raise Conflict("product_unavailable", f"{sku.product.name} is not for sale.", fields={"sku": sku.pk})
    return PricedLine(sku=sku, product=sku.product, quantity=line.quantity, flash_sale_id=line.flash_sale_id)


def _check_listed(room: LiveRoom, priced: list[PricedLine]) -> None:
    on_sale = set(
        RoomProduct.objects.filter(room=room, on_sale=True, product_id__in={p.product.pk for p in priced}).values_list(
            "product_id", flat=True
        )
    )
    for line in priced:
        if line.product.pk not in on_sale:
            raise Conflict(
                "product_not_in_room", f"{line.product.name} is not on sale in this room.", fields={"sku": line.sku.pk}
            )


def _delivery(delivery, address, pickup_store_id) -> dict:
    if delivery == Order.Delivery.SHIP:
        return {"delivery": delivery, "address": _clean_address(address)}
    if delivery == Order.Delivery.PICKUP:
        store = Store.objects.filter(pk=pickup_store_id, status=Store.Status.OPEN).first() if pickup_store_id else None
        if store is None:
            raise NotFound(
                "store_not_found", "No such open store for pickup.", fields={"pickup_store_id": ["No such open store."]}
            )
        return {"delivery": delivery, "pickup_store": store, "address": {}}
    raise InvalidInput("invalid", "delivery is ship or pickup.", fields={"delivery": ["ship or pickup."]})


def _clean_address(address) -> dict:
    if not isinstance(address, dict):
        raise InvalidInput("invalid_address", "A delivery needs an address.", fields={"address": ["Required."]})
    errors, clean = {}, {}
    for name, limit in ADDRESS_FIELDS.items():
        value = address.get(name)
        if not isinstance(value, str) or not value.strip():
            errors[name] = ["Required."]
        elif len(value.strip()) > limit:
            errors[name] = [f"At most {limit} characters."]
        else:
            clean[name] = value.strip()
    phone = clean.get("phone", "")
    if phone and not phone.replace("-", "").replace("+", "").isdigit():
        errors["phone"] = ["Digits only."]
    if errors:
        raise InvalidInput("invalid_address", "The address is incomplete.", fields={"address": errors})
    return clean


def _order_number(now) -> str:
    """Sortable and unguessable: the time, then 10 random digits."""
    return now.strftime("%y%m%d%H%M%S") + f"{secrets.randbelow(10**10):010d}"


_TAKE_STOCK = "UPDATE commerce_sku SET stock = stock - %s WHERE id = %s AND brand_id = %s"


def _take_stock(sku: Sku, quantity: int) -> Claim:
    """Stock below zero breaks the SKU's CHECK constraints: the claim is refused."""

    def refusal():
        if Sku.objects.filter(pk=sku.pk, stock__gte=quantity).exists():
            return None
        name = f"{sku.product.name} ({sku.spec or sku.code})"
        return Conflict("out_of_stock", f"{name} is out of stock.", fields={"sku": sku.pk})

    return Claim(_TAKE_STOCK, [quantity, sku.pk, sku.brand_id], refusal, returning="stock")


# --- the state machine -------------------------------------------------------------------------


def _move(order: Order, *, sources, target, actor, actor_id=None, reason="", **fields) -> bool:
    """One conditional UPDATE from any of ``sources`` to ``target``; False if the order was elsewhere."""
    moved = Order.objects.filter(pk=order.pk, status__in=sources).update(status=target, **fields)
    if moved:
        OrderEvent.objects.create(
            brand_id=order.brand_id,
            order_id=order.pk,
            from_status=order.status,
            to_status=target,
            actor=actor,
            actor_id=actor_id,
            reason=reason,
        )
    return bool(moved)


def _invalid_transition(order: Order, action: str) -> Conflict:
    order.refresh_from_db(fields=["status"])
    return Conflict(
        "invalid_transition", f"Cannot {action} an order that is {order.status}.", fields={"status": order.status}
    )


def _offers():
    """Group buys and bargains build on orders; they hear of an order's payment and cancellation."""
    from commerce.services import offer_events

    return offer_events


def _give_back(order: Order) -> None:
    """Return the stock and flash-sale units of an order that will not be paid."""
    lines = list(order.lines.order_by("sku_id"))
    sku_units = {}
    for line in lines:
        sku_units[line.sku_id] = sku_units.get(line.sku_id, 0) + line.quantity
    back_on_sale = stock_return(brand_id=order.brand_id, sku_units=sku_units)
    sale_units = {}
    for line in lines:
        if line.flash_sale_id:
            if flash_sales.flash_sale_release(
                flash_sale_id=line.flash_sale_id, customer_id=order.customer_id, quantity=line.quantity
            ):
                back_on_sale.add(line.sku_id)
            sale_units[line.flash_sale_id] = (line.sku_id, line.quantity)
    stock_gate.units_changed_on_commit(brand_id=order.brand_id, sku_units={}, sale_units=sale_units, sign=1)
    if back_on_sale:
        products_changed(brand_id=order.brand_id, sku_ids=sorted(back_on_sale))


_RETURN_STOCK = "UPDATE commerce_sku SET stock = stock + %s WHERE id = %s AND brand_id = %s RETURNING stock"


def stock_return(*, brand_id: int, sku_units: dict[int, int]) -> set[int]:
    """Put ``sku_units`` ({sku_id: units}) back in stock (inside the caller's transaction, in SKU
    id order) and, once that commits, in the stock gate; answers the SKUs that were sold out (the
    caller tells their rooms)."""
    was_sold_out = set()
    with connection.cursor() as cursor:
        for sku_id, units in sorted(sku_units.items()):
            cursor.execute(_RETURN_STOCK, [units, sku_id, brand_id])
            if (row := cursor.fetchone()) is not None and row[0] == units:
                was_sold_out.add(sku_id)
    stock_gate.units_changed_on_commit(brand_id=brand_id, sku_units=sku_units, sale_units={}, sign=1)
    return was_sold_out


def _cancel(order: Order, *, actor, actor_id=None, reason="") -> bool:
    if not _move(
        order,
        sources=[Status.PENDING_PAYMENT],
        target=Status.CANCELLED,
        actor=actor,
        actor_id=actor_id,
        reason=reason,
        cancelled_at=timezone.now(),
    ):
        return False
    _offers().order_cancelled(order)  # the group's row before the SKUs', as a join takes them
    _give_back(order)
    ORDER_CANCELLED.announce(OrderCancelled(order=order))
    from commerce.services.payments import close_open_payments  # payments builds on orders

    close_open_payments(order)
    return True


@transaction.atomic
def order_cancel(*, brand: Brand, order: Order, customer: Customer | None = None, reason: str = "") -> Order:
    """The customer (or the brand) cancels an unpaid order; its stock comes back."""
    with brand_scope(brand):
        actor, actor_id = (Actor.CUSTOMER, customer.pk) if customer else (Actor.STAFF, None)
        if not _cancel(order, actor=actor, actor_id=actor_id, reason=reason):
            raise _invalid_transition(order, "cancel")
        order.refresh_from_db()
        return order


def orders_expire(*, now=None, batch_size: int = 500) -> int:
    """Cancel unpaid orders past their payment window, each in its own transaction."""
    now = now or timezone.now()
    expired = 0
    with platform_scope():
        due = list(
            Order.objects.filter(status=Status.PENDING_PAYMENT, expires_at__lte=now)
            .select_related("brand")
            .order_by("expires_at")[:batch_size]
        )
    for order in due:
        with brand_scope(order.brand), transaction.atomic():
            expired += _cancel(order, actor=Actor.SYSTEM, reason="payment window expired")
    return expired


def order_mark_paid(*, order: Order, paid_at=None) -> bool:
    """The payment of a pending order arrived (inside the notification's transaction). False when
    the order can no longer be paid (cancelled or expired meanwhile, or paid already)."""
    paid_at = paid_at or timezone.now()
    if not _offers().order_payable(order):
        return False
    if not _move(order, sources=[Status.PENDING_PAYMENT], target=Status.PAID, actor=Actor.PAYMENT, paid_at=paid_at):
        return False
    _offers().order_paid(order, paid_at)
    Customer.objects.filter(pk=order.customer_id, first_paid_at__isnull=True).update(first_paid_at=paid_at)
    ORDER_PAID.announce(OrderPaid(order=order, paid_at=paid_at))  # coupons: used; guides: commission
    return True


@transaction.atomic
def order_ship(*, brand: Brand, order: Order, carrier: str = "", tracking_number: str = "", staff=None) -> Order:
    with brand_scope(brand):
        _offers().check_shippable(order)
        if order.delivery == Order.Delivery.SHIP and not tracking_number.strip():
            raise InvalidInput(
                "tracking_required", "A delivery needs a tracking number.", fields={"tracking_number": ["Required."]}
            )
        if not _move(
            order,
            sources=[Status.PAID],
            target=Status.SHIPPED,
            actor=Actor.STAFF,
            actor_id=getattr(staff, "pk", None),
            shipped_at=timezone.now(),
            carrier=carrier.strip(),
            tracking_number=tracking_number.strip(),
        ):
            raise _invalid_transition(order, "ship")
        order.refresh_from_db()
        return order


@transaction.atomic
def order_complete(*, brand: Brand, order: Order, customer: Customer | None = None) -> Order:
    """The customer confirms receipt (or the completion task does, N days after shipping)."""
    with brand_scope(brand):
        actor, actor_id = (Actor.CUSTOMER, customer.pk) if customer else (Actor.SYSTEM, None)
        if not _move(
            order,
            sources=[Status.SHIPPED],
            target=Status.COMPLETED,
            actor=actor,
            actor_id=actor_id,
            completed_at=timezone.now(),
        ):
            raise _invalid_transition(order, "complete")
        order.refresh_from_db()
        return order


def orders_complete_shipped(*, now=None, batch_size: int = 500) -> int:
    """Complete orders shipped longer ago than their brand's ``auto_complete_days`` (each brand
    by its own cutoff, so one brand's long window never holds up another's orders)."""
    now = now or timezone.now()
    completed = 0
    with platform_scope():
        brands = list(Brand.objects.filter(pk__in=Order.objects.filter(status=Status.SHIPPED).values("brand")))
    for brand in brands:
        with brand_scope(brand):
            due = list(
                Order.objects.filter(
                    status=Status.SHIPPED, shipped_at__lte=now - timedelta(days=brand.auto_complete_days)
                ).order_by("shipped_at")[:batch_size]
            )
            for order in due:
                with transaction.atomic():
                    completed += _move(
                        order,
                        sources=[Status.SHIPPED],
                        target=Status.COMPLETED,
                        actor=Actor.SYSTEM,
                        reason="auto-completed after shipping",
                        completed_at=now,
                    )
    return completed
