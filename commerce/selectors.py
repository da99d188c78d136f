"""Reads of the product library that are more than a one-line queryset."""

import csv
from datetime import UTC

from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncMinute

from commerce.models import (
    Bargain,
    BargainOffer,
    Group,
    GroupBuyOffer,
    GroupMember,
    Order,
    OrderLine,
    Product,
    Refund,
    Sku,
)
from tenants.errors import NotFound
from tenants.models import Brand
from tenants.scoping import brand_scope


def product_list(*, brand: Brand) -> QuerySet[Product]:
    """The brand's products, newest first, each with its SKUs (one query for all of them)."""
    return (
        Product.objects.filter(brand=brand)
        .prefetch_related(Prefetch("skus", queryset=Sku.objects.filter(brand=brand)))
        .order_by("-created_at", "-id")
    )


def product_search(queryset: QuerySet[Product], text: str) -> QuerySet[Product]:
    """Products whose name, or one of whose SKU codes, contains ``text``."""
    sku_matches = Sku.objects.filter(product=OuterRef("pk"), code__icontains=text)
    return queryset.filter(Q(name__icontains=text) | Q(Exists(sku_matches)))


def product_get(*, brand: Brand, product_id) -> Product:
    """One of the brand's products with its SKUs; another brand's id is as unknown as a missing one."""
    product = product_list(brand=brand).filter(pk=product_id).first()
    if product is None:
        raise NotFound("not_found", "No such product.")
    return product


def sku_get(*, brand: Brand, sku_id) -> Sku:
    sku = Sku.objects.filter(brand=brand, pk=sku_id).first()
    if sku is None:
        raise NotFound("not_found", "No such SKU.")
    return sku


# --- orders ---------------------------------------------------------------------------------------

CSV_COLUMNS = [
    ("order_number", "order__number"),
    ("status", "order__status"),
    ("created_at", "order__created_at"),
    ("paid_at", "order__paid_at"),
    ("customer_id", "order__customer_id"),
    ("customer_nickname", "order__customer__nickname"),
    ("room_id", "order__room_id"),
    ("source", "order__source_kind"),
    ("guide_id", "order__guide_id"),
    ("store_id", "order__store_id"),
    ("delivery", "order__delivery"),
    ("order_payable_fen", "order__payable"),
    ("order_shipping_fee_fen", "order__shipping_fee"),
    ("order_refunded_fen", "order__refunded_total"),
    ("product", "product_name"),
    ("sku_id", "sku_id"),
    ("sku_spec", "sku_spec"),
    ("unit_price_fen", "unit_price"),
    ("quantity", "quantity"),
    ("line_discount_fen", "discount"),
    ("refunded_quantity", "refunded_quantity"),
]


def console_orders():
    return Order.objects.select_related("customer").prefetch_related("lines").order_by("-created_at", "-pk")


def console_order_detail(order_id) -> Order:
    order = (
        console_orders()
        .prefetch_related("events", "payments", Prefetch("refunds", queryset=Refund.objects.select_related("order")))
        .filter(pk=order_id)
        .first()
    )
    if order is None:
        raise NotFound("order_not_found", "No such order.")
    return order


def room_sales(*, room_id: int) -> dict:
    """What a live room sold, for the operator's live counters: orders placed in it, how many
    were paid, the fen paid (GMV, before refunds) and the fen refunded since. One query."""
    paid = Q(paid_at__isnull=False)
    return Order.objects.filter(room_id=room_id).aggregate(
        orders=Count("pk"),
        paid_orders=Count("pk", filter=paid),
        paid_gmv=Coalesce(Sum("payable", filter=paid), 0),
        refunded=Coalesce(Sum("refunded_total"), 0),
    )


class _Echo:
    def write(self, value):
        return value


def orders_csv(*, brand: Brand, queryset):
    """CSV rows (one per order line) of ``queryset``'s orders, read in chunks as they are sent, so
    a brand with 100,000 orders exports without holding them in memory. Times in the brand's zone."""
    writer = csv.writer(_Echo())
    tz = brand.tz
    lines = (
        OrderLine.objects.filter(order__in=queryset.values("pk"))
        .order_by("-order__created_at", "order_id", "pk")
        .values_list(*(source for _, source in CSV_COLUMNS))
    )
    time_columns = [index for index, (name, _) in enumerate(CSV_COLUMNS) if name.endswith("_at")]

    def rows():
        yield "\ufeff"  # lets spreadsheet programs read the file as UTF-8
        yield writer.writerow([name for name, _ in CSV_COLUMNS])
        with brand_scope(brand):
            for row in lines.iterator(chunk_size=2000):
                row = list(row)
                for index in time_columns:
                    if row[index] is not None:
                        row[index] = row[index].astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
                yield writer.writerow(row)

    return rows()


# --- post-show report -----------------------------------------------------------------------------

WAS_PAID = Q(paid_at__isnull=False)  # paid at some point, refunded since or not: paid GMV counts it


def room_order_figures(*, brand: Brand, room_ids) -> dict:
    """The orders placed in the rooms: totals, by entry route (source kind and share scene), by
    credited guide and store, per minute, and sales per product per
    minute (for top products and what sold while a product was pushed). Seven queries, whatever
    the number of orders."""
    orders = Order.objects.filter(brand=brand, room_id__in=room_ids)
    paid = orders.filter(WAS_PAID)
    figures = {
        "totals": orders.aggregate(
            orders=Count("pk"),
            paid_orders=Count("pk", filter=WAS_PAID),
            gmv=Coalesce(Sum("payable", filter=WAS_PAID), 0),
            buyers=Count("customer_id", distinct=True, filter=WAS_PAID),
            customers_ordering=Count("customer_id", distinct=True),
            refunded_orders=Count("pk", filter=WAS_PAID & Q(refunded_total__gt=0)),
            refunded_amount=Coalesce(Sum("refunded_total", filter=WAS_PAID), 0),
        )
    }
    paid_figures = {
        "orders": Count("pk"),
        "paid_orders": Count("pk", filter=WAS_PAID),
        "gmv": Coalesce(Sum("payable", filter=WAS_PAID), 0),
        "buyers": Count("customer_id", distinct=True, filter=WAS_PAID),
    }
    figures["by_source"] = list(orders.values("source_kind", "source_scene").annotate(**paid_figures).order_by())
    figures["by_guide"] = list(
        orders.filter(guide_id__isnull=False).values("guide_id").annotate(**paid_figures).order_by()
    )
    figures["by_store"] = list(
        orders.filter(store_id__isnull=False).values("store_id").annotate(**paid_figures).order_by()
    )
    figures["per_minute"] = list(
        orders.annotate(minute=TruncMinute("created_at", tzinfo=UTC))
        .values("minute")
        .annotate(orders=Count("pk"), paid_orders=Count("pk", filter=WAS_PAID))
        .order_by("minute")
    )
    figures["product_minutes"] = list(
        OrderLine.objects.filter(brand=brand, order__in=paid.values("pk"))
        .annotate(minute=TruncMinute("order__created_at", tzinfo=UTC))
        .values("product_id", "product_name", "minute")
        .annotate(
            amount=Sum(F("unit_price") * F("quantity") - F("discount")),
            units=Sum("quantity"),
            orders=Count("order_id", distinct=True),
        )
        .order_by()
    )
    return figures


def room_order_headlines(*, brand: Brand, room_ids) -> dict[int, dict]:
    """Per room: paid orders, paid GMV and buyers (one query)."""
    rows = (
        Order.objects.filter(brand=brand, room_id__in=room_ids)
        .values("room_id")
        .annotate(
            paid_orders=Count("pk", filter=WAS_PAID),
            gmv=Coalesce(Sum("payable", filter=WAS_PAID), 0),
            buyers=Count("customer_id", distinct=True, filter=WAS_PAID),
        )
        .order_by()
    )
    return {row["room_id"]: row for row in rows}


def _sum_rows(rows: list[dict], keys) -> dict:
    return {key: sum(row[key] for row in rows) for key in keys}


def _offer_columns(row: dict) -> dict:
    """The columns every offer's row of the report starts with (a group buy's, a bargain's)."""
    product = f"{row['sku__product__name']} {row['sku__spec']}".strip()
    return {"id": row["id"], "room_id": row["room_id"], "title": row["title"], "product": product}


GROUP_BUY_COUNTS = ["groups", "succeeded", "failed", "open", "members", "paid_orders", "gmv", "refunded_orders"]


def room_group_buy_figures(*, brand: Brand, room_ids) -> dict:
    """The rooms' group-buy offers, oldest first: groups started, succeeded, failed and still open,
    seats taken, orders paid through them (and their paid GMV, before refunds) and those refunded
    when their group failed; with the totals. One query (offer → group → member is a chain, so
    each member is one joined row and each group is counted distinct)."""
    S, M = Group.Status, GroupMember.Status
    paid = Q(groups__members__paid_at__isnull=False)
    offers = (
        GroupBuyOffer.objects.filter(brand=brand, room_id__in=room_ids)
        .annotate(
            groups_n=Count("groups", distinct=True),
            succeeded=Count("groups", distinct=True, filter=Q(groups__status=S.SUCCEEDED)),
            failed=Count("groups", distinct=True, filter=Q(groups__status=S.FAILED)),
            open=Count("groups", distinct=True, filter=Q(groups__status__in=[S.PENDING, S.FORMING])),
            members=Count("groups__members"),
            paid_orders=Count("groups__members", filter=paid),
            gmv=Coalesce(Sum("groups__members__order__payable", filter=paid), 0),
            refunded_orders=Count("groups__members", filter=Q(groups__members__status=M.REFUNDED)),
        )
        .order_by("created_at", "pk")
        .values(
            "id", "room_id", "title", "sku__product__name", "sku__spec", "group_size", "price", "groups_n",
            *GROUP_BUY_COUNTS[1:],
        )
    )  # fmt: skip
    rows = [
        {
            **_offer_columns(row),
            "group_size": row["group_size"],
            "price": row["price"],
            "groups": row["groups_n"],
            **{key: row[key] for key in GROUP_BUY_COUNTS[1:]},
        }
        for row in offers
    ]
    return {"totals": {"offers": len(rows), **_sum_rows(rows, GROUP_BUY_COUNTS)}, "rows": rows}


BARGAIN_COUNTS = ["started", "succeeded", "purchased", "expired", "helps"]


def room_bargain_figures(*, brand: Brand, room_ids) -> dict:
    """The rooms' bargain offers, oldest first: bargains started, those cut down to the floor
    price (succeeded), bought or expired, and the friends' helps (and how many friends helped);
    with the totals. One query."""
    B = Bargain.Status
    reached_floor = Q(bargains__cut_total=F("bargains__start_price") - F("bargains__floor_price"))
    offers = (
        BargainOffer.objects.filter(brand=brand, room_id__in=room_ids)
        .annotate(
            started=Count("bargains", distinct=True),
            succeeded=Count("bargains", distinct=True, filter=reached_floor),
            purchased=Count("bargains", distinct=True, filter=Q(bargains__status=B.PURCHASED)),
            expired=Count("bargains", distinct=True, filter=Q(bargains__status=B.EXPIRED)),
            helps=Count("bargains__helps"),
            helpers=Count("bargains__helps__helper_id", distinct=True),
        )
        .order_by("created_at", "pk")
        .values(
            "id", "room_id", "title", "sku__product__name", "sku__spec", "floor_price", "helpers_needed",
            *BARGAIN_COUNTS, "helpers",
        )
    )  # fmt: skip
    rows = [
        {
            **_offer_columns(row),
            "floor_price": row["floor_price"],
            "helpers_needed": row["helpers_needed"],
            **{key: row[key] for key in [*BARGAIN_COUNTS, "helpers"]},
        }
        for row in offers
    ]
    return {"totals": {"offers": len(rows), **_sum_rows(rows, BARGAIN_COUNTS)}, "rows": rows}
