"""Reads of live rooms that are more than a one-line queryset."""

from django.db.models import Case, IntegerField, Prefetch, Q, Value, When

from commerce.models import Product, Sku
from livestream.models import CoStream, LiveRoom, ReminderSubscription, RoomProduct
from tenants.errors import NotFound

Status = LiveRoom.Status

# What a viewer can see in the room list, by the `status` filter of the mini-program.
MP_LISTS = {
    "live": Q(status__in=(Status.LIVE, Status.PAUSED)),
    "upcoming": Q(status=Status.SCHEDULED),
    "replay": Q(status=Status.ENDED, replay_enabled=True),
}


def get_room(room_id) -> LiveRoom:
    """A room of the brand in scope; another brand's room is not found, like a missing one."""
    room = LiveRoom.objects.filter(pk=room_id).select_related("brand").first()
    if room is None:
        raise NotFound("room_not_found", "No such live room.")
    return room


def mp_room_list(status: str | None = None):
    """Live rooms first, then upcoming ones soonest first, then replays newest first."""
    visible = MP_LISTS[status] if status else MP_LISTS["live"] | MP_LISTS["upcoming"] | MP_LISTS["replay"]
    group = Case(
        When(status__in=(Status.LIVE, Status.PAUSED), then=Value(0)),
        When(status=Status.SCHEDULED, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    upcoming_start = Case(When(status=Status.SCHEDULED, then="scheduled_start"))
    return (
        LiveRoom.objects.filter(visible)
        .select_related("host_store", "pushed_product__product")
        .annotate(list_group=group, upcoming_start=upcoming_start)
        .order_by("list_group", "upcoming_start", "-ended_at", "-started_at", "-pk")
    )


def subscribed_room_ids(customer, room_ids) -> set[int]:
    return set(
        ReminderSubscription.objects.filter(
            customer=customer,
            room_id__in=room_ids,
            status__in=(
                ReminderSubscription.Status.PENDING,
                ReminderSubscription.Status.SENDING,
                ReminderSubscription.Status.SENT,
            ),
        ).values_list("room_id", flat=True)
    )


def mp_room_detail(room_id) -> LiveRoom:
    """A room with what a viewer sees in it: on-sale products (approved, on the shelf) with their
    active SKUs, and the pushed product. A fixed number of queries, whatever the product count."""
    sellable = (
        RoomProduct.objects.filter(
            on_sale=True,
            product__status=Product.Status.ON_SHELF,
            product__audit_status=Product.AuditStatus.APPROVED,
        )
        .select_related("product")
        .prefetch_related(Prefetch("product__skus", queryset=Sku.objects.filter(is_active=True).order_by("pk")))
        .order_by("position", "pk")
    )
    room = (
        LiveRoom.objects.filter(pk=room_id, status__in=(Status.SCHEDULED, Status.LIVE, Status.PAUSED, Status.ENDED))
        .select_related("host_store", "pushed_product__product")
        .prefetch_related(Prefetch("room_products", queryset=sellable, to_attr="sellable_products"))
        .first()
    )
    if room is None:
        raise NotFound("room_not_found", "No such live room.")
    return room


def active_costream(room: LiveRoom) -> CoStream | None:
    """The room's accepted co-stream, with the partner room and its pushed product."""
    return (
        CoStream.objects.filter(Q(inviter_room=room) | Q(invitee_room=room), status=CoStream.Status.ACCEPTED)
        .select_related(
            "inviter_room__brand",
            "invitee_room__brand",
            "inviter_room__pushed_product__product",
            "invitee_room__pushed_product__product",
        )
        .first()
    )
