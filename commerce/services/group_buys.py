"""Group buys (拼团): a customer starts a group by ordering at the group price, friends join through
the share link, and the group succeeds when every seat is paid.

A seat is taken inside the order's transaction by one conditional UPDATE
(``seats_taken = seats_taken + 1 WHERE seats_taken < size``), so the last seat goes to exactly one
buyer and the others get 409 ``group_full`` before anything is written or charged. At the deadline
``groups_close_expired`` closes the group with one conditional UPDATE, cancels the unpaid seats'
orders and refunds each paid member once: a member moves ``paid → refunded`` by a conditional
UPDATE, and only the run that moved it creates the refund.

Locks are taken in one order everywhere (order, group, customer, SKU), so a join, a payment, an
expiry and the timeout never deadlock.
"""

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from commerce.models import Group, GroupBuyOffer, GroupMember, Order, OrderEvent, Refund, Sku
from commerce.services import orders, payments
from livestream.models import LiveRoom
from livestream.realtime import publish_room_event
from tenants import ratelimit
from tenants.errors import Conflict, InvalidInput, NotFound
from tenants.models import Brand, Customer
from tenants.scoping import brand_scope, platform_scope

logger = logging.getLogger("siyu.group_buys")

JOINS_PER_MINUTE = 10
OPEN = (Group.Status.PENDING, Group.Status.FORMING)
HOLDING_OR_PAID = (GroupMember.Status.HOLDING, GroupMember.Status.PAID)


def get_offer(offer_id) -> GroupBuyOffer:
    offer = GroupBuyOffer.objects.filter(pk=offer_id).select_related("sku__product").first()
    if offer is None:
        raise NotFound("group_buy_not_found", "No such group buy.")
    return offer


def get_group(group_id) -> Group:
    group = Group.objects.filter(pk=group_id).select_related("offer__sku__product").first()
    if group is None:
        raise NotFound("group_not_found", "No such group.")
    return group


# --- the brand's offers --------------------------------------------------------------------------


@transaction.atomic
def group_buy_offer_create(
    *,
    brand: Brand,
    sku: Sku,
    price: int,
    group_size: int,
    starts_at: datetime,
    ends_at: datetime,
    time_limit_minutes: int = 24 * 60,
    per_customer_limit: int = 1,
    new_customers_only: bool = False,
    fill_one_short: bool = False,
    room: LiveRoom | None = None,
    title: str = "",
) -> GroupBuyOffer:
    with brand_scope(brand):
        if ends_at <= starts_at:
            raise InvalidInput("invalid", "A group buy ends after it starts.", fields={"ends_at": ["After starts_at."]})
        if price >= sku.price:
            raise InvalidInput(
                "invalid", "The group price must be below the SKU's price.", fields={"price": [f"Below {sku.price}."]}
            )
        offer = GroupBuyOffer(
            brand=brand,
            sku=sku,
            room=room,
            title=title,
            price=price,
            group_size=group_size,
            time_limit_minutes=time_limit_minutes,
            per_customer_limit=per_customer_limit,
            new_customers_only=new_customers_only,
            fill_one_short=fill_one_short,
            starts_at=starts_at,
            ends_at=ends_at,
        )
        offer.full_clean()
        offer.save()
        return offer


@transaction.atomic
def group_buy_offer_stop(*, brand: Brand, offer: GroupBuyOffer) -> GroupBuyOffer:
    """No new groups or members; open groups close at the next timeout run (and their paid members
    are refunded) instead of keeping their customers waiting."""
    with brand_scope(brand):
        now = timezone.now()
        GroupBuyOffer.objects.filter(pk=offer.pk).update(is_active=False)
        Group.objects.filter(offer=offer, status__in=OPEN, expires_at__gt=now).update(expires_at=now)
        offer.refresh_from_db()
        return offer


# --- customers: start, join --------------------------------------------------------------------


def _rate_limit(customer: Customer) -> None:
    ratelimit.limit(
        "group_join",
        customer.pk,
        per_window=JOINS_PER_MINUTE,
        code="group_join_rate_limited",
        message="Too many group-buy attempts; wait a minute.",
    )


def _check_offer_open(offer: GroupBuyOffer, now) -> None:
    if not offer.is_active:
        raise Conflict("group_buy_stopped", "This group buy was stopped.")
    if now < offer.starts_at:
        raise Conflict("group_buy_not_started", "This group buy has not started.")
    if now >= offer.ends_at:
        raise Conflict("group_buy_ended", "This group buy has ended.")


def _check_customer_limit(offer: GroupBuyOffer, customer: Customer, group: Group | None = None) -> None:
    """Within the order's transaction: the customer's row is locked, so two parallel orders of one
    customer count each other (and the second join of one group sees the first)."""
    Customer.objects.select_for_update().filter(pk=customer.pk).values_list("pk", flat=True).get()
    if (
        group is not None
        and GroupMember.objects.filter(group=group, customer=customer, status__in=HOLDING_OR_PAID).exists()
    ):
        raise Conflict("group_already_joined", "You are already in this group.")
    held = GroupMember.objects.filter(
        offer=offer, customer=customer, status__in=HOLDING_OR_PAID, group__status__in=[*OPEN, Group.Status.SUCCEEDED]
    ).count()
    if held >= offer.per_customer_limit:
        raise Conflict(
            "group_buy_limit_reached",
            f"At most {offer.per_customer_limit} group(s) of this offer per customer.",
            fields={"limit": offer.per_customer_limit},
        )


def _order(brand, customer, offer, hold, key, *, delivery, address, pickup_store_id, note, source, idempotency_key):
    order, _ = orders.order_place(
        brand=brand,
        customer=customer,
        lines=[orders.LineRequest(offer.sku_id, 1)],
        room_id=offer.room_id,
        source=source,
        delivery=delivery,
        address=address,
        pickup_store_id=pickup_store_id,
        note=note,
        idempotency_key=idempotency_key,
        offer=orders.OfferPrice(sku_id=offer.sku_id, unit_price=offer.price, key=key, hold=hold),
    )
    return order


def group_start(
    *,
    brand: Brand,
    customer: Customer,
    offer: GroupBuyOffer,
    delivery: str = Order.Delivery.SHIP,
    address: dict | None = None,
    pickup_store_id: int | None = None,
    note: str = "",
    source: str = "",
    idempotency_key: str = "",
) -> tuple[Group, Order]:
    """Start a group: an order for the starter's seat at the group price. Friends may join once it is paid."""
    with brand_scope(brand):
        _rate_limit(customer)

        def hold(order, now):
            _check_offer_open(offer, now)
            _check_customer_limit(offer, customer)
            group = Group.objects.create(
                brand=brand,
                offer=offer,
                leader=customer,
                size=offer.group_size,
                seats_taken=1,
                expires_at=now + timedelta(minutes=offer.time_limit_minutes),
            )
            GroupMember.objects.create(
                brand=brand, group=group, offer=offer, customer=customer, order=order, is_leader=True
            )

        order = _order(
            brand,
            customer,
            offer,
            hold,
            f"group-start:{offer.pk}",
            delivery=delivery,
            address=address,
            pickup_store_id=pickup_store_id,
            note=note,
            source=source,
            idempotency_key=idempotency_key,
        )
        return GroupMember.objects.select_related("group").get(order=order).group, order


def group_join(
    *,
    brand: Brand,
    customer: Customer,
    group: Group,
    sharer_id: int | None = None,
    delivery: str = Order.Delivery.SHIP,
    address: dict | None = None,
    pickup_store_id: int | None = None,
    note: str = "",
    source: str = "",
    idempotency_key: str = "",
) -> Order:
    """Take a seat in a forming group: an order at the group price. The last seat goes to exactly one
    buyer; the others get 409 ``group_full`` with nothing written."""
    with brand_scope(brand):
        _rate_limit(customer)
        offer = group.offer
        sharer = None
        if sharer_id is not None:
            sharer = GroupMember.objects.filter(group=group, customer_id=sharer_id).first()
            if sharer is None:
                raise NotFound("sharer_not_found", "The sharer is not in this group.", fields={"sharer_id": sharer_id})

        def hold(order, now):
            if not offer.is_active:
                raise Conflict("group_buy_stopped", "This group buy was stopped.")
            if offer.new_customers_only and not customer.is_new:
                raise Conflict("group_new_customers_only", "The seats of this group are for new customers.")
            taken = Group.objects.filter(
                pk=group.pk, status=Group.Status.FORMING, expires_at__gt=now, seats_taken__lt=F("size")
            ).update(seats_taken=F("seats_taken") + 1)
            if not taken:
                raise _why_no_seat(group, now)
            _check_customer_limit(offer, customer, group)
            GroupMember.objects.create(
                brand=brand,
                group=group,
                offer=offer,
                customer=customer,
                order=order,
                sharer_id=sharer.customer_id if sharer else None,
            )
            _publish(group.pk)

        return _order(
            brand,
            customer,
            offer,
            hold,
            f"group-join:{group.pk}",
            delivery=delivery,
            address=address,
            pickup_store_id=pickup_store_id,
            note=note,
            source=source,
            idempotency_key=idempotency_key,
        )


def _why_no_seat(group: Group, now) -> Conflict:
    group.refresh_from_db()
    if group.status == Group.Status.PENDING:
        return Conflict("group_not_open", "The starter has not paid yet.")
    if group.status == Group.Status.SUCCEEDED:
        return Conflict("group_full", "This group is complete.")
    if group.status == Group.Status.FAILED or group.expires_at <= now:
        return Conflict("group_expired", "This group has closed.")
    return Conflict("group_full", "Every seat of this group is taken.", fields={"size": group.size})


def _publish(group_id: int) -> None:
    """The group's progress, to the offer's room (after commit), if it runs in a room."""
    group = Group.objects.select_related("offer").get(pk=group_id)
    if group.offer.room_id is not None:
        publish_room_event(group.offer.room_id, "group.progress", group_progress(group))


def group_progress(group: Group) -> dict:
    return {
        "group_id": group.pk,
        "offer_id": group.offer_id,
        "status": group.status,
        "size": group.size,
        "seats_taken": group.seats_taken,
        "paid_count": group.paid_count,
        "expires_at": group.expires_at.isoformat(),
    }


# --- what the order's state machine tells -----------------------------------------------------


def order_payable(order: Order) -> bool:
    """Whether a group order may be paid now (inside the payment's transaction, the order locked).
    The group's row is locked while it is open, so the timeout cannot close it until this payment
    is counted (and then refunded with the others)."""
    member = GroupMember.objects.filter(order_id=order.pk).first()
    order._group_member = member
    if member is None:
        return True
    if member.status != GroupMember.Status.HOLDING:
        return False
    return Group.objects.select_for_update().filter(pk=member.group_id, status__in=OPEN).exists()


def order_paid(order: Order, paid_at) -> None:
    member = getattr(order, "_group_member", None)
    if member is None:
        return
    GroupMember.objects.filter(pk=member.pk).update(status=GroupMember.Status.PAID, paid_at=paid_at)
    Group.objects.filter(pk=member.group_id).update(paid_count=F("paid_count") + 1)
    if member.is_leader:
        Group.objects.filter(pk=member.group_id, status=Group.Status.PENDING).update(status=Group.Status.FORMING)
    Group.objects.filter(pk=member.group_id, status=Group.Status.FORMING, paid_count=F("size")).update(
        status=Group.Status.SUCCEEDED, closed_at=paid_at
    )
    _publish(member.group_id)


def order_cancelled(order: Order) -> None:
    """An unpaid order was cancelled (by the customer, expiry or the timeout): its seat comes back;
    a group whose starter never paid fails."""
    member = GroupMember.objects.filter(order_id=order.pk, status=GroupMember.Status.HOLDING).first()
    if member is None:
        return
    GroupMember.objects.filter(pk=member.pk).update(status=GroupMember.Status.RELEASED)
    Group.objects.filter(pk=member.group_id).update(seats_taken=F("seats_taken") - 1)
    if member.is_leader:
        Group.objects.filter(pk=member.group_id, status=Group.Status.PENDING).update(
            status=Group.Status.FAILED, closed_at=timezone.now()
        )
    _publish(member.group_id)


def check_settled(order: Order, action: str) -> None:
    """A group order is shipped or refunded on request only once its group succeeded (a failed
    group's members are refunded automatically)."""
    member = GroupMember.objects.filter(order_id=order.pk).select_related("group").first()
    if member is not None and member.group.status != Group.Status.SUCCEEDED:
        raise Conflict(
            "group_not_complete",
            f"Cannot {action} an order of a group that is {member.group.status}.",
            fields={"group_id": member.group_id, "status": member.group.status},
        )


# --- the deadline -------------------------------------------------------------------------------


def groups_close_expired(*, now=None, batch_size: int = 200) -> dict:
    """Close open groups past their deadline, then refund every paid member of a failed group once.
    Safe to run twice, also in parallel: each step is a conditional UPDATE that only one run wins."""
    now = now or timezone.now()
    closed = {"succeeded": 0, "failed": 0, "refunded": 0}
    with platform_scope():
        due = list(
            Group.objects.filter(status__in=OPEN, expires_at__lte=now)
            .select_related("brand", "offer")
            .order_by("expires_at")[:batch_size]
        )
    for group in due:
        with brand_scope(group.brand):
            outcome = _close(group, now)
            if outcome:
                closed[outcome] += 1
            _cancel_unpaid_seats(group)
    closed["refunded"] = _refund_failed_members(batch_size=batch_size)
    _resubmit_stuck_refunds(now=now, batch_size=batch_size)
    return closed


@transaction.atomic
def _close(group: Group, now) -> str | None:
    if group.offer.fill_one_short and Group.objects.filter(
        pk=group.pk, status=Group.Status.FORMING, expires_at__lte=now, paid_count__gte=F("size") - 1
    ).update(status=Group.Status.SUCCEEDED, filled_short=True, closed_at=now):
        _publish(group.pk)
        return "succeeded"
    if Group.objects.filter(pk=group.pk, status__in=OPEN, expires_at__lte=now).update(
        status=Group.Status.FAILED, closed_at=now
    ):
        _publish(group.pk)
        return "failed"
    return None


def _cancel_unpaid_seats(group: Group) -> None:
    holding = GroupMember.objects.filter(group=group, status=GroupMember.Status.HOLDING).select_related("order")
    for member in holding:
        with transaction.atomic():
            orders._cancel(member.order, actor=OrderEvent.Actor.SYSTEM, reason="group buy closed")


def _refund_failed_members(*, batch_size: int) -> int:
    with platform_scope():
        members = list(
            GroupMember.objects.filter(status=GroupMember.Status.PAID, group__status=Group.Status.FAILED)
            .select_related("brand", "order")
            .order_by("pk")[:batch_size]
        )
    refunded = 0
    for member in members:
        with brand_scope(member.brand):
            with transaction.atomic():
                if not GroupMember.objects.filter(pk=member.pk, status=GroupMember.Status.PAID).update(
                    status=GroupMember.Status.REFUNDED
                ):
                    continue  # another run took it
                refund = payments.order_refund_automatic(order=member.order, reason="group buy did not fill in time")
            refunded += 1
            if refund is None:
                logger.warning("Group member %s: order %s was not paid any more", member.pk, member.order_id)
                continue
            try:
                payments.refund_submit(refund=refund)
            except Exception:  # the refund stays processing; resubmitting the same out_refund_no is safe
                logger.exception("Refund %s of a failed group could not be submitted", refund.out_refund_no)
    return refunded


STUCK_AFTER = timedelta(minutes=5)


def _resubmit_stuck_refunds(*, now, batch_size: int) -> None:
    """A failed group's refund the provider never answered (its call failed): ask again. WeChat Pay
    treats the same ``out_refund_no`` as the same refund, so asking twice never pays twice."""
    with platform_scope():
        stuck = list(
            Refund.objects.filter(
                status=Refund.Status.PROCESSING,
                provider_refund_id="",
                created_at__lte=now - STUCK_AFTER,
                order__group_member__status=GroupMember.Status.REFUNDED,
            ).order_by("pk")[:batch_size]
        )
    for refund in stuck:
        try:
            payments.refund_submit(refund=refund)
        except Exception:
            logger.exception("Refund %s of a failed group could not be submitted again", refund.out_refund_no)
