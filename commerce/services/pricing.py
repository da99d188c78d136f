"""The one place an order's money is worked out: line prices, discounts, shipping, payable.

All amounts are integer fen. A line's ``discount`` covers all its units. Discounts: the
flash-sale price (the SKU's price minus the sale price, per unit) or the group-buy or bargain
price (``offer_price``, likewise), then the order's coupon,
spread over the lines it covers so that refunds by line and per-line commission see each
line's share.
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
    offer_price: int | None = None  # a group-buy or bargain price per unit
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
    coupon_discount: int = 0


def shipping_fee_for(brand: Brand, *, delivery: str, items_after_discounts: int) -> int:
    if delivery != "ship" or brand.shipping_fee == 0:
        return 0
    if brand.free_shipping_threshold and items_after_discounts >= brand.free_shipping_threshold:
        return 0
    return brand.shipping_fee


def price_order(*, brand: Brand, lines: list[PricedLine], delivery: str, coupon=None) -> Quote:
    """``coupon``: a ``coupons.services.CouponOffer`` (which lines it covers, what it takes off)."""
    for line in lines:
        line.unit_price = line.sku.price
        line.discount = 0
        if line.flash_sale is not None:
            line.discount = max(line.sku.price - line.flash_sale.price, 0) * line.quantity
        if line.offer_price is not None:
            line.discount = max(line.sku.price - line.offer_price, 0) * line.quantity
    coupon_discount = _apply_coupon(coupon, lines) if coupon is not None else 0
    items_total = sum(line.unit_price * line.quantity for line in lines)
    discount_total = sum(line.discount for line in lines)
    shipping = shipping_fee_for(brand, delivery=delivery, items_after_discounts=items_total - discount_total)
    return Quote(
        lines=lines,
        items_total=items_total,
        discount_total=discount_total,
        shipping_fee=shipping,
        payable=items_total - discount_total + shipping,
        coupon_discount=coupon_discount,
    )


def _apply_coupon(coupon, lines: list[PricedLine]) -> int:
    """Add the coupon's discount to the lines it covers, in proportion to what each costs after
    its other discounts, to the fen: each line gets the floor of its share, and the fen left over
    go one each to the lines with the largest remainders (never past a line's amount)."""
    covered = [line for line in lines if coupon.covers(line.product)]
    base = [line.amount for line in covered]
    eligible = sum(base)
    # WeChat Pay collects at least 1 fen: a coupon never makes the goods free.
    discount = min(coupon.discount_on(eligible), sum(line.amount for line in lines) - 1)
    if discount == 0:
        return 0
    shares = [discount * amount // eligible for amount in base]
    left = discount - sum(shares)
    by_remainder = sorted(range(len(covered)), key=lambda i: (-(discount * base[i] % eligible), i))
    for i in by_remainder[:left]:
        shares[i] += 1
    for line, share in zip(covered, shares, strict=True):
        line.discount += share
    return discount
