"""The one place an order's money is worked out: line prices, discounts, shipping, payable.

All amounts are integer fen. A line's ``discount`` covers all its units. Discounts today: the
flash-sale price (the SKU's price minus the sale price, per unit). Coupons will add theirs here.
"""

from dataclasses import dataclass

from commerce.models import FlashSale, Product, Sku
from tenants.models import Brand


@dataclass
class PricedLine:
    sku: Sku
    product: Product
    quantity: int
    flash_sale_id: int | None = None
    flash_sale: FlashSale | None = None  # the sale, once its units are taken
    unit_price: int = 0
    discount: int = 0

    @property
    def amount(self) -> int:
        return self.unit_price * self.quantity - self.discount


@dataclass
class Quote:
    lines: list[PricedLine]
    items_total: int = 0
    discount_total: int = 0
    shipping_fee: int = 0
    payable: int = 0


def shipping_fee_for(brand: Brand, *, delivery: str, items_after_discounts: int) -> int:
    if delivery != "ship" or brand.shipping_fee == 0:
        return 0
    if brand.free_shipping_threshold and items_after_discounts >= brand.free_shipping_threshold:
        return 0
    return brand.shipping_fee


def price_order(*, brand: Brand, lines: list[PricedLine], delivery: str) -> Quote:
    for line in lines:
        line.unit_price = line.sku.price
        line.discount = 0
        if line.flash_sale is not None:
            line.discount = max(line.sku.price - line.flash_sale.price, 0) * line.quantity
    items_total = sum(line.unit_price * line.quantity for line in lines)
    discount_total = sum(line.discount for line in lines)
    shipping = shipping_fee_for(brand, delivery=delivery, items_after_discounts=items_total - discount_total)
    return Quote(
        lines=lines,
        items_total=items_total,
        discount_total=discount_total,
        shipping_fee=shipping,
        payable=items_total - discount_total + shipping,
    )
