"""The products of a room: listing, order, on/off sale, and the one being presented (讲解)."""

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from commerce.models import Product
from livestream.models import LiveRoom, ProductPush, RoomProduct
from livestream.realtime import publish_room_event
from livestream.room_state import rooms_changed_on_commit
from livestream.services.costreams import active_costream_partner
from tenants.errors import Conflict, InvalidInput, NotFound
from tenants.models import Brand
from tenants.scoping import brand_scope

CLOSED = (LiveRoom.Status.ENDED, LiveRoom.Status.CANCELLED, LiveRoom.Status.BANNED)
MAX_ID = 2**63 - 1


def _lock_open_room(room: LiveRoom) -> LiveRoom:
    room = LiveRoom.objects.select_for_update().get(pk=room.pk)
    if room.status in CLOSED:
        raise Conflict("room_closed", f"The room is {room.status}.", fields={"status": room.status})
    return room


def _listing(room: LiveRoom, product_id) -> RoomProduct:
    # product__pk, not product_id: an id past the integer range finds nothing instead of overflowing.
    listing = RoomProduct.objects.filter(room=room, product__pk=product_id).select_related("product").first()
    if listing is None:
        raise NotFound("product_not_in_room", "The product is not listed in this room.")
    return listing


def product_summary(product: Product) -> dict:
    return {
        "id": product.pk,
        "name": product.name,
        "cover_url": product.cover_url,
        "price_type": product.price_type,
        "price": product.price,
        "price2": product.price2,
    }


@transaction.atomic
def room_products_add(*, brand: Brand, room: LiveRoom, product_ids: list[int]) -> list[RoomProduct]:
    """Append approved products of the brand to the room; ones already listed are kept as they are."""
    with brand_scope(brand):
        room = _lock_open_room(room)
        wanted = list(dict.fromkeys(product_ids))
        in_range = [pk for pk in wanted if 0 < pk <= MAX_ID]  # others cannot exist, and would overflow the query
        products = {p.pk: p for p in Product.objects.filter(pk__in=in_range)}
        missing = [pk for pk in wanted if pk not in products]
        if missing:
            raise NotFound("product_not_found", "No such product.", fields={"product_ids": missing})
        unapproved = [pk for pk in wanted if products[pk].audit_status != Product.AuditStatus.APPROVED]
        if unapproved:
            raise Conflict(
                "product_not_approved", "Only approved products can go into a room.", fields={"product_ids": unapproved}
            )
        archived = [pk for pk in wanted if products[pk].status == Product.Status.ARCHIVED]
        if archived:
            raise Conflict(
                "product_archived", "Archived products cannot go into a room.", fields={"product_ids": archived}
            )
        listed = set(RoomProduct.objects.filter(room=room).values_list("product_id", flat=True))
        new = [pk for pk in wanted if pk not in listed]
        if len(listed) + len(new) > RoomProduct.MAX_PER_ROOM:
            raise Conflict(
                "room_products_full",
                f"A room lists at most {RoomProduct.MAX_PER_ROOM} products.",
                fields={"max": RoomProduct.MAX_PER_ROOM},
            )
        start = (RoomProduct.objects.filter(room=room).aggregate(top=Max("position"))["top"] or 0) + 1
        RoomProduct.objects.bulk_create(
            [RoomProduct(brand=brand, room=room, product_id=pk, position=start + i) for i, pk in enumerate(new)]
        )
        if new:
            rooms_changed_on_commit(brand_id=brand.pk, room_ids=[room.pk])
        return list(RoomProduct.objects.filter(room=room).select_related("product"))


@transaction.atomic
def room_product_remove(*, brand: Brand, room: LiveRoom, product_id: int) -> None:
    with brand_scope(brand):
        room = _lock_open_room(room)
        listing = _listing(room, product_id)
        rooms_changed_on_commit(brand_id=brand.pk, room_ids=[room.pk])
        if room.pushed_product_id == listing.pk:
            room.pushed_product = None
            room.save(update_fields=["pushed_product", "updated_at"])
            _publish_push(room, None)
        listing.delete()
        publish_room_event(room.pk, "product.sale", {"room_id": room.pk, "product_id": product_id, "on_sale": False})


@transaction.atomic
def room_products_reorder(*, brand: Brand, room: LiveRoom, product_ids: list[int]) -> None:
    """Put the room's products in this order; the list must name each listed product once."""
    with brand_scope(brand):
        room = _lock_open_room(room)
        listings = {rp.product_id: rp for rp in RoomProduct.objects.filter(room=room)}
        if len(product_ids) != len(set(product_ids)) or set(product_ids) != set(listings):
            raise InvalidInput(
                "order_mismatch",
                "Name every product of the room exactly once.",
                fields={"product_ids": ["Must list each product in the room once."]},
            )
        for position, pk in enumerate(product_ids, start=1):
            listings[pk].position = position
        RoomProduct.objects.bulk_update(listings.values(), ["position"])
        rooms_changed_on_commit(brand_id=brand.pk, room_ids=[room.pk])


@transaction.atomic
def room_product_set_sale(*, brand: Brand, room: LiveRoom, product_id: int, on_sale: bool) -> RoomProduct:
    with brand_scope(brand):
        room = _lock_open_room(room)
        listing = _listing(room, product_id)
        if listing.on_sale != on_sale:
            listing.on_sale = on_sale
            listing.save(update_fields=["on_sale"])
            rooms_changed_on_commit(brand_id=brand.pk, room_ids=[room.pk])
            if not on_sale and room.pushed_product_id == listing.pk:
                room.pushed_product = None
                room.save(update_fields=["pushed_product", "updated_at"])
                _publish_push(room, None)
            publish_room_event(
                room.pk, "product.sale", {"room_id": room.pk, "product_id": product_id, "on_sale": on_sale}
            )
        return listing


@transaction.atomic
def room_product_push(*, brand: Brand, room: LiveRoom, product_id: int | None) -> LiveRoom:
    """Present a product (讲解) while live, or stop presenting with ``None``."""
    with brand_scope(brand):
        room = _lock_open_room(room)
        if room.status != LiveRoom.Status.LIVE:
            raise Conflict(
                "room_not_live", "Products are pushed while the room is live.", fields={"status": room.status}
            )
        listing = None
        if product_id is not None:
            listing = _listing(room, product_id)
            if not listing.on_sale:
                raise Conflict("product_not_on_sale", "Put the product on sale in the room before pushing it.")
            if not listing.product.is_sellable:
                raise Conflict("product_not_sellable", "The product is off the shelf or not approved.")
        room.pushed_product = listing
        room.save(update_fields=["pushed_product", "updated_at"])
        _publish_push(room, listing.product if listing else None)
        return room


def _publish_push(room: LiveRoom, product: Product | None) -> None:
    """A push reaches the room and, while the room co-streams, the partner room too."""
    _record_push(room, product)
    data = {"room_id": room.pk, "product": product_summary(product) if product else None}
    partner = active_costream_partner(room)
    # The partner's detail shows this room's pushed product in its co-stream card.
    rooms_changed_on_commit(brand_id=room.brand_id, room_ids=[room.pk])
    if partner is not None:
        rooms_changed_on_commit(brand_id=partner.brand_id, room_ids=[partner.pk])
    publish_room_event(room.pk, "product.push", data)
    if partner is not None:
        publish_room_event(partner.pk, "product.push", data)


def _record_push(room: LiveRoom, product: Product | None) -> None:
    """Close the push on screen and open the new one: the post-show report's push timeline."""
    now = timezone.now()
    ProductPush.objects.filter(room=room, ended_at__isnull=True).update(ended_at=now)
    if product is not None:
        ProductPush.objects.create(brand_id=room.brand_id, room=room, product=product, started_at=now)
