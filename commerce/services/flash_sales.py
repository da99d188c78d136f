"""Flash sales (秒杀): a SKU at a price, ``quantity`` units in all, ``per_customer_limit`` each.

Both limits are the database's: the sale's ``sold`` grows only through a conditional UPDATE
that keeps it within ``quantity``, and a customer's units only through an upsert that keeps
them within the limit, so nothing oversells whatever the storm. Units of an order that is
cancelled or expires come back (``flash_sale_release``) and can be sold again.
"""

from datetime import datetime

from django.db import connection, transaction
from django.db.models import F

from commerce.models import FlashSale, FlashSalePurchase, Sku
from tenants.errors import Conflict, InvalidInput, NotFound
from tenants.models import Brand, Customer
from tenants.scoping import brand_scope
from tenants.sql import Claim


def get_flash_sale(flash_sale_id) -> FlashSale:
    flash_sale = FlashSale.objects.filter(pk=flash_sale_id).first()
    if flash_sale is None:
        raise NotFound("flash_sale_not_found", "No such flash sale.")
    return flash_sale


@transaction.atomic
def flash_sale_create(
    *,
    brand: Brand,
    sku: Sku,
    price: int,
    quantity: int,
    starts_at: datetime,
    ends_at: datetime,
    per_customer_limit: int = 1,
    audience: str = FlashSale.Audience.EVERYONE,
    room=None,
    title: str = "",
) -> FlashSale:
    with brand_scope(brand):
        if ends_at <= starts_at:
            raise InvalidInput(
                "invalid", "A flash sale ends after it starts.", fields={"ends_at": ["Must be after starts_at."]}
            )
        if price >= sku.price:
            raise InvalidInput(
                "invalid",
                "The flash-sale price must be below the SKU's price.",
                fields={"price": [f"Below {sku.price}."]},
            )
        flash_sale = FlashSale(
            brand=brand,
            sku=sku,
            price=price,
            quantity=quantity,
            starts_at=starts_at,
            ends_at=ends_at,
            per_customer_limit=per_customer_limit,
            audience=audience,
            room=room,
            title=title,
        )
        flash_sale.full_clean()
        flash_sale.save()
        return flash_sale


@transaction.atomic
def flash_sale_withdraw(*, brand: Brand, flash_sale: FlashSale) -> FlashSale:
    with brand_scope(brand):
        FlashSale.objects.filter(pk=flash_sale.pk).update(is_active=False)
        flash_sale.refresh_from_db()
        return flash_sale


def check_audience(flash_sale: FlashSale, customer: Customer) -> None:
    if flash_sale.audience == FlashSale.Audience.NEW_CUSTOMERS and customer.first_paid_at is not None:
        raise Conflict("flash_sale_new_customers_only", "This offer is for customers without a paid order.")
    if flash_sale.audience == FlashSale.Audience.MEMBERS and not customer.is_member:
        raise Conflict("flash_sale_members_only", "This offer is for members.")


def flash_sale_check(
    *,
    flash_sale: FlashSale | None,
    flash_sale_id: int,
    sku: Sku,
    room,
    customer: Customer,
    quantity: int,
    now: datetime,
) -> FlashSale:
    """The sale a line asks for (``flash_sale``, loaded with the order's SKUs), if this customer
    may buy it in this room now (no lock taken; a sale already sold out turns buyers away here,
    before they write anything). The units themselves are taken by ``flash_sale_take`` at the end
    of the order."""
    if flash_sale is None or flash_sale.sku_id != sku.pk:
        raise NotFound("flash_sale_not_found", "No such flash sale for this SKU.", fields={"flash_sale": flash_sale_id})
    if (
        not (flash_sale.is_active and flash_sale.starts_at <= now < flash_sale.ends_at)
        or flash_sale.remaining < quantity
    ):
        raise _why_not_taken(flash_sale, now)
    if flash_sale.room_id is not None and (room is None or room.pk != flash_sale.room_id):
        raise Conflict(
            "flash_sale_room_only", "This offer is only in its live room.", fields={"room_id": flash_sale.room_id}
        )
    check_audience(flash_sale, customer)
    if quantity > flash_sale.per_customer_limit:  # one order past the limit; several: flash_sale_add_to_customer
        raise _limit_reached(flash_sale.per_customer_limit)
    return flash_sale


# Outside its window, or withdrawn, a sale refuses units as a sold-out one does: ``sold`` would pass
# ``quantity``, which its ``flashsale_sold_bounds`` constraint forbids (tenants.sql.Claim).
_TAKE = """
    UPDATE {table} SET sold = CASE
        WHEN is_active AND starts_at <= %s AND ends_at > %s THEN sold + %s
        ELSE quantity + 1
    END
    WHERE id = %s AND brand_id = %s
"""


def flash_sale_take(*, flash_sale: FlashSale, sku: Sku, quantity: int, now: datetime) -> Claim:
    """The claim (to send with the order's writes) of ``quantity`` units: one UPDATE that the sale's
    constraint refuses past its quantity, so the sale never sells more, whatever the storm."""

    def refusal():
        flash_sale.refresh_from_db()
        if (
            flash_sale.is_active
            and flash_sale.starts_at <= now < flash_sale.ends_at
            and flash_sale.remaining >= quantity
        ):
            return None
        return _why_not_taken(flash_sale, now)

    at = connection.ops.adapt_datetimefield_value(now)
    params = [at, at, quantity, flash_sale.pk, sku.brand_id]
    return Claim(_TAKE.format(table=FlashSale._meta.db_table), params, refusal, returning="quantity - sold")


# Past the limit the customer's units would turn negative, which their column forbids (tenants.sql.Claim).
_ADD_TO_CUSTOMER = """
    INSERT INTO {table} AS p (brand_id, flash_sale_id, customer_id, quantity) VALUES (%s, %s, %s, %s)
    ON CONFLICT (brand_id, flash_sale_id, customer_id) DO UPDATE SET quantity = CASE
        WHEN p.quantity + EXCLUDED.quantity <= %s THEN p.quantity + EXCLUDED.quantity
        ELSE -1
    END
"""


def flash_sale_add_to_customer(*, flash_sale: FlashSale, customer: Customer, quantity: int) -> Claim:
    """The claim (to send with the order's writes) of the customer's units: one upsert, refused past
    the limit, so parallel orders of one customer serialize on the row and the limit holds."""
    limit = flash_sale.per_customer_limit

    def refusal():
        held = FlashSalePurchase.objects.filter(flash_sale=flash_sale, customer=customer).values_list(
            "quantity", flat=True
        )
        return _limit_reached(limit) if sum(held) + quantity > limit else None

    params = [flash_sale.brand_id, flash_sale.pk, customer.pk, quantity, limit]
    return Claim(_ADD_TO_CUSTOMER.format(table=FlashSalePurchase._meta.db_table), params, refusal)


def _limit_reached(limit: int) -> Conflict:
    return Conflict("flash_sale_limit_reached", f"At most {limit} per customer.", fields={"limit": limit})


def _why_not_taken(flash_sale: FlashSale, now: datetime) -> Conflict:
    if not flash_sale.is_active:
        return Conflict("flash_sale_withdrawn", "The flash sale was withdrawn.")
    if now < flash_sale.starts_at:
        return Conflict(
            "flash_sale_not_started",
            "The flash sale has not started.",
            fields={"starts_at": flash_sale.starts_at.isoformat()},
        )
    if now >= flash_sale.ends_at:
        return Conflict("flash_sale_ended", "The flash sale has ended.")
    return Conflict("flash_sale_sold_out", "The flash sale is sold out.", fields={"remaining": flash_sale.remaining})


def flash_sale_release(*, flash_sale_id: int, customer_id: int, quantity: int) -> bool:
    """Give back the units of an order that will not be paid (inside the caller's transaction);
    answers whether the sale was sold out."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {FlashSale._meta.db_table} SET sold = sold - %s WHERE id = %s RETURNING quantity - sold",
            [quantity, flash_sale_id],
        )
        row = cursor.fetchone()
    FlashSalePurchase.objects.filter(flash_sale_id=flash_sale_id, customer_id=customer_id).update(
        quantity=F("quantity") - quantity
    )
    return row is not None and row[0] == quantity
