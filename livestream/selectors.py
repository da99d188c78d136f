"""Reads of live rooms that are more than a one-line queryset."""

from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce

from commerce.models import Product, Sku
from livestream.models import (
    CoStream,
    Festival,
    GiftBox,
    GiftBoxPrize,
    LiveRoom,
    Lottery,
    LotteryEntry,
    LotteryWinner,
    ProductClick,
    ReminderSubscription,
    RoomProduct,
    Venue,
)
from tenants.errors import NotFound
from tenants.models import Brand

Status = LiveRoom.Status
VIEWER_STATUSES = (Status.SCHEDULED, Status.LIVE, Status.PAUSED, Status.ENDED)  # a viewer can open these

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
    """A room with what a viewer sees in it: the pushed product, ``has_costream`` (whether an
    accepted co-stream links it now), ``in_festival`` (whether it is a joined venue of a published
    festival), ``has_lottery`` / ``has_gift_box`` (whether one is open in it) and ``sellable_products``
    (see ``sellable_product_cards``). Three queries whatever the product count."""
    room = (
        LiveRoom.objects.filter(pk=room_id, status__in=VIEWER_STATUSES)
        .select_related("host_store", "pushed_product__product")
        .annotate(
            has_costream=Exists(_accepted_costreams(OuterRef("pk"))),
            in_festival=Exists(_festival_venues(OuterRef("pk"))),
            has_lottery=Exists(Lottery.objects.filter(room=OuterRef("pk"), status=Lottery.Status.OPEN)),
            has_gift_box=Exists(GiftBox.objects.filter(room=OuterRef("pk"), status=GiftBox.Status.OPEN)),
        )
        .first()
    )
    if room is None:
        raise NotFound("room_not_found", "No such live room.")
    room.sellable_products = sellable_product_cards(room)
    return room


def sellable_product_cards(room: LiveRoom) -> list[dict]:
    """The room's on-sale products (approved, on the shelf) in room order, each as its card in
    the mini-program (``id``, ``name``, ``cover_url``, ``images``, prices, ``position``, ``skus``)
    with its active SKUs (``id``, ``spec``, ``price``, ``in_stock``). Two queries, read as rows:
    a room of 100 products with 3 SKUs each took 14 ms of CPU as model instances and prefetches,
    and 5 more in nested serializers, for a page that viewers open all through a show."""
    listings = list(
        RoomProduct.objects.filter(
            room=room,
            on_sale=True,
            product__status=Product.Status.ON_SHELF,
            product__audit_status=Product.AuditStatus.APPROVED,
        )
        .order_by("position", "pk")
        .values_list(
            "product_id",
            "product__name",
            "product__images",
            "product__price_type",
            "product__price",
            "product__price2",
            "position",
        )
    )
    if not listings:
        return []
    skus = {product_id: [] for product_id, *_ in listings}
    active = Sku.objects.filter(product_id__in=list(skus), is_active=True).order_by("pk")
    for product_id, sku_id, spec, price, stock in active.values_list("product_id", "pk", "spec", "price", "stock"):
        skus[product_id].append({"id": sku_id, "spec": spec, "price": price, "in_stock": stock > 0})
    return [
        {
            "id": product_id,
            "name": name,
            "cover_url": Product.cover_of(images),
            "images": images,
            "price_type": price_type,
            "price": price,
            "price2": price2,
            "position": position,
            "skus": skus[product_id],
        }
        for product_id, name, images, price_type, price, price2, position in listings
    ]


def _festival_venues(room):
    return Venue.unscoped.filter(room=room, status=Venue.Status.JOINED, festival__status=Festival.Status.PUBLISHED)


def room_festivals(room: LiveRoom) -> list[dict]:
    """The published festivals the room joined as a venue: ``id``, ``name``, ``main_room_id`` and
    ``is_main_venue``. One query."""
    rows = (
        _festival_venues(room)
        .order_by("festival_id")
        .values_list("festival_id", "festival__name", "festival__main_room_id")
    )
    return [
        {"id": fid, "name": name, "main_room_id": main, "is_main_venue": main == room.pk} for fid, name, main in rows
    ]


def open_games(room: LiveRoom) -> list[dict]:
    """The lotteries, then the gift boxes, open in the room (``kind``, ``id``, ``title``), oldest
    first: the mini-program fetches their details from their own endpoints. A query for each kind
    that ``mp_room_detail`` found open, none otherwise."""
    games = []
    if room.has_lottery:
        lotteries = Lottery.objects.filter(room=room, status=Lottery.Status.OPEN).order_by("pk")
        games += [{"kind": "lottery", "id": pk, "title": title} for pk, title in lotteries.values_list("pk", "title")]
    if room.has_gift_box:
        boxes = GiftBox.objects.filter(room=room, status=GiftBox.Status.OPEN).order_by("pk")
        games += [{"kind": "gift_box", "id": pk, "title": title} for pk, title in boxes.values_list("pk", "title")]
    return games


def _accepted_costreams(room):
    return CoStream.objects.filter(Q(inviter_room=room) | Q(invitee_room=room), status=CoStream.Status.ACCEPTED)


def active_costream(room: LiveRoom) -> CoStream | None:
    """The room's accepted co-stream, with the partner room and its pushed product."""
    return (
        _accepted_costreams(room)
        .select_related(
            "inviter_room__brand",
            "invitee_room__brand",
            "inviter_room__pushed_product__product",
            "invitee_room__pushed_product__product",
        )
        .first()
    )


def room_lists_product(*, room_id, product_id) -> bool:
    """Whether a room of the brand in scope that viewers can open lists the product (on sale or
    not: its card may still be on screen). One query; a room they cannot open is not found."""
    listed = (
        LiveRoom.objects.filter(pk=room_id, status__in=VIEWER_STATUSES)
        .annotate(listed=Exists(RoomProduct.objects.filter(room=OuterRef("pk"), product_id=product_id)))
        .values_list("listed", flat=True)
        .first()
    )
    if listed is None:
        raise NotFound("room_not_found", "No such live room.")
    return listed


# --- post-show report -----------------------------------------------------------------------------


def room_click_figures(*, brand: Brand, room_ids) -> dict:
    """Product clicks in the rooms: ``clicks`` (every opening of a card), ``clickers`` (customers
    who opened any card) and ``by_product`` (each product's clicks and clickers). Two queries."""
    clicks = ProductClick.objects.filter(brand=brand, room_id__in=room_ids)
    totals = clicks.aggregate(clicks=Coalesce(Sum("clicks"), 0), clickers=Count("customer_id", distinct=True))
    by_product = list(
        clicks.values("product_id", "product__name")
        .annotate(clicks=Sum("clicks"), clickers=Count("customer_id", distinct=True))
        .order_by()
    )
    return {**totals, "by_product": by_product}


def _totals(rows: list[dict], keys) -> dict:
    return {key: sum(row[key] for row in rows) for key in keys}


def room_lottery_figures(*, brand: Brand, room_ids) -> dict:
    """The rooms' lotteries, oldest first, each with its entries and what became of its prizes
    (coupons issued or not, addresses given, awaited or lapsed), and the totals with the
    customers who entered any of them. Two queries."""
    W = LotteryWinner.Status
    won = {
        "coupons_issued": W.ISSUED,
        "issue_failed": W.ISSUE_FAILED,
        "addresses_given": W.CLAIMED,
        "awaiting_address": W.AWAITING_ADDRESS,
        "lapsed": W.LAPSED,
    }
    lotteries = (
        Lottery.objects.filter(brand=brand, room_id__in=room_ids)
        .annotate(
            winners_drawn=Count("winners"),
            **{name: Count("winners", filter=Q(winners__status=status)) for name, status in won.items()},
        )
        .order_by("opened_at", "pk")
        .values(
            "id", "room_id", "title", "prize_kind", "prize_name", "coupon_template__name", "winner_count", "status",
            "entrant_count", "winners_drawn", *won,
        )
    )  # fmt: skip
    rows = [
        {
            "id": row["id"],
            "room_id": row["room_id"],
            "title": row["title"],
            "prize_kind": row["prize_kind"],
            "prize": row["coupon_template__name"] or row["prize_name"],
            "status": row["status"],
            "prizes": row["winner_count"],
            "entries": row["entrant_count"],
            "winners": row["winners_drawn"],
            **{name: row[name] for name in won},
        }
        for row in lotteries
    ]
    entrants = LotteryEntry.objects.filter(brand=brand, lottery__room_id__in=room_ids).aggregate(
        n=Count("customer_id", distinct=True)
    )["n"]
    totals = {
        "lotteries": len(rows),
        "drawn": sum(row["status"] == Lottery.Status.DRAWN for row in rows),
        "entrants": entrants,
        **_totals(rows, ["entries", "winners", *won]),
    }
    return {"totals": totals, "rows": rows}


def room_gift_box_figures(*, brand: Brand, room_ids) -> dict:
    """The rooms' gift boxes, oldest first, each with its openings and what they gave. One query."""
    K = GiftBoxPrize.Kind
    rows = list(
        GiftBox.objects.filter(brand=brand, room_id__in=room_ids)
        .annotate(
            openings_n=Count("openings"),
            prizes_won=Count("openings", filter=Q(openings__prize__kind__in=[K.COUPON, K.POINTS, K.ITEM])),
            coupons=Count("openings", filter=Q(openings__prize__kind=K.COUPON)),
            items=Count("openings", filter=Q(openings__prize__kind=K.ITEM)),
            points=Coalesce(Sum("openings__points"), 0),
        )
        .order_by("created_at", "pk")
        .values(
            "id",
            "room_id",
            "title",
            "watch_minutes",
            "status",
            "openings_n",
            "prizes_won",
            "coupons",
            "items",
            "points",
        )
    )
    for row in rows:
        row["openings"] = row.pop("openings_n")
    totals = {"gift_boxes": len(rows), **_totals(rows, ["openings", "prizes_won", "coupons", "items", "points"])}
    return {"totals": totals, "rows": rows}


# --- one viewer's own part of a room ------------------------------------------------------------


def viewer_room_state(*, room: LiveRoom, customer) -> dict:
    """What is one viewer's own in a room, beside the shared room detail: ``subscribed`` (their
    start reminder), ``coupons`` (what they claimed from the room's drops), ``limits`` (units each
    running flash sale of the room still allows them), ``groups`` (group buys of the room they hold
    a seat in, still forming) and ``bargains`` (their bargains of the room still running). Five
    queries, each on the customer's own rows."""
    from django.utils import timezone

    from commerce.models import Bargain, FlashSale, FlashSalePurchase, Group, GroupMember
    from coupons.models import Coupon

    now = timezone.now()
    coupons = Coupon.objects.filter(customer=customer, drop__room=room).order_by("pk")
    held = FlashSalePurchase.objects.filter(flash_sale=OuterRef("pk"), customer=customer).values("quantity")[:1]
    sales = (
        FlashSale.objects.filter(room=room, is_active=True, ends_at__gt=now)
        .annotate(held=Coalesce(Subquery(held), 0))
        .order_by("pk")
    )
    seats = GroupMember.objects.filter(
        customer=customer,
        offer__room=room,
        status__in=(GroupMember.Status.HOLDING, GroupMember.Status.PAID),
        group__status__in=(Group.Status.PENDING, Group.Status.FORMING),
    ).order_by("pk")
    bargains = Bargain.objects.filter(
        customer=customer, offer__room=room, status__in=(Bargain.Status.ACTIVE, Bargain.Status.ORDERED)
    ).order_by("pk")
    return {
        "room_id": room.pk,
        "subscribed": room.pk in subscribed_room_ids(customer, [room.pk]),
        "coupons": [
            {"drop_id": drop_id, "coupon_id": pk, "status": status}
            for drop_id, pk, status in coupons.values_list("drop_id", "pk", "status")
        ],
        "limits": [
            {"flash_sale_id": pk, "sku_id": sku_id, "left": max(0, limit - held)}
            for pk, sku_id, limit, held in sales.values_list("pk", "sku_id", "per_customer_limit", "held")
        ],
        "groups": [
            {
                "group_id": group_id,
                "offer_id": offer_id,
                "status": status,
                "seats_taken": taken,
                "size": size,
                "expires_at": expires_at,
                "is_leader": is_leader,
                "paid": member_status == GroupMember.Status.PAID,
            }
            for group_id, offer_id, status, taken, size, expires_at, is_leader, member_status in seats.values_list(
                "group_id",
                "offer_id",
                "group__status",
                "group__seats_taken",
                "group__size",
                "group__expires_at",
                "is_leader",
                "status",
            )
        ],
        "bargains": [
            {
                "bargain_id": pk,
                "offer_id": offer_id,
                "status": status,
                "start_price": start,
                "floor_price": floor,
                "cut_total": cut,
                "price": start - cut,
                "expires_at": expires_at,
            }
            for pk, offer_id, status, start, floor, cut, expires_at in bargains.values_list(
                "pk", "offer_id", "status", "start_price", "floor_price", "cut_total", "expires_at"
            )
        ],
    }
