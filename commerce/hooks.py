"""The hooks commerce announces: what an order's or a product's change means to the apps above
(guides' commission, coupons, the rooms that sell). Registered in tenants.hooks; subscribers in
their apps' ``AppConfig.ready()``; the list is in the README ("Layers")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from commerce.models import Order
from tenants import hooks


@dataclass(frozen=True)
class OrderPaid:
    order: Order
    paid_at: datetime


@dataclass(frozen=True)
class OrderRefunded:
    order: Order  # its lines' refunded quantities and amounts already moved


@dataclass(frozen=True)
class OrderCancelled:
    order: Order


@dataclass(frozen=True)
class ProductsChanged:
    brand_id: int
    sku_ids: tuple[int, ...] = ()
    product_ids: tuple[int, ...] = ()


ORDER_PAID = hooks.define(
    "order paid",
    owner="commerce",
    payload=OrderPaid,
    when=hooks.IN_TRANSACTION,
    doc="A pending order was marked paid (once per order), inside the payment notification's transaction.",
)
ORDER_REFUNDED = hooks.define(
    "order refunded",
    owner="commerce",
    payload=OrderRefunded,
    when=hooks.IN_TRANSACTION,
    doc="A refund of the order succeeded (each time one does), inside the refund's transaction.",
)
ORDER_CANCELLED = hooks.define(
    "order cancelled",
    owner="commerce",
    payload=OrderCancelled,
    when=hooks.IN_TRANSACTION,
    doc="An unpaid order was cancelled (by its customer, the brand or expiry), inside the cancel's transaction.",
)
PRODUCTS_CHANGED = hooks.define(
    "products changed",
    owner="commerce",
    payload=ProductsChanged,
    when=hooks.IN_TRANSACTION,
    doc=(
        "SKUs sold out or came back on sale, or products' cards changed (or a product is about to be"
        " deleted): what shows them is stale once this commits (subscribers defer to the commit)."
    ),
)


def products_changed(*, brand_id: int, sku_ids=(), product_ids=()) -> None:
    """Announce "products changed" for ``sku_ids`` / ``product_ids`` (nothing when both are empty)."""
    sku_ids, product_ids = tuple(sku_ids), tuple(product_ids)
    if sku_ids or product_ids:
        PRODUCTS_CHANGED.announce(ProductsChanged(brand_id=brand_id, sku_ids=sku_ids, product_ids=product_ids))
