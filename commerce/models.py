from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import (
    MaxLengthValidator,
    MaxValueValidator,
    MinValueValidator,
    RegexValidator,
    URLValidator,
)
from django.db import models
from django.db.models import F, Q

from tenants.scoping import BrandScopedModel

MAX_PRICE_FEN = 2_000_000_000
MAX_IMAGES = 9
MAX_STOCK = 10_000_000

price_validators = [MinValueValidator(1), MaxValueValidator(MAX_PRICE_FEN)]
sku_code_validator = RegexValidator(r"^[A-Za-z0-9_-]{1,64}$", "1–64 letters, digits, '_' or '-'.")
_http_url = URLValidator(schemes=["http", "https"])


def validate_image_urls(value):
    if not isinstance(value, list):
        raise ValidationError("A list of image URLs.")
    if len(value) > MAX_IMAGES:
        raise ValidationError(f"At most {MAX_IMAGES} images.")
    for position, url in enumerate(value, start=1):
        try:
            if not isinstance(url, str):
                raise ValidationError("not a string")
            _http_url(url)
        except ValidationError:
            raise ValidationError(f"Image {position} is not an http(s) URL.") from None


class Product(BrandScopedModel):
    """An entry of the brand's product library (商品库). Prices are integer fen.

    Like WeChat's live goods library, a product is audited before it may go into a room, and
    shows its price one of three ways: fixed (``price``), a range (``price`` to ``price2``) or a
    discount (was ``price``, now ``price2``).
    """

    class Status(models.TextChoices):
        ON_SHELF = "on_shelf"
        OFF_SHELF = "off_shelf"
        ARCHIVED = "archived"

    class AuditStatus(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"

    class PriceType(models.TextChoices):
        FIXED = "fixed"
        RANGE = "range"
        DISCOUNT = "discount"

    name = models.CharField(max_length=60)
    category = models.CharField(max_length=50, blank=True)
    images = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_image_urls],
        help_text=f"Up to {MAX_IMAGES} http(s) image URLs; the first is the cover.",
    )
    # A TextField's max_length only sizes the form widget; the validator enforces it.
    description = models.TextField(blank=True, max_length=5000, validators=[MaxLengthValidator(5000)])
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OFF_SHELF)
    audit_status = models.CharField(max_length=16, choices=AuditStatus.choices, default=AuditStatus.PENDING)
    audit_reason = models.CharField(max_length=200, blank=True)
    price_type = models.CharField(max_length=16, choices=PriceType.choices, default=PriceType.FIXED)
    price = models.PositiveIntegerField(
        validators=price_validators, help_text="Fen. Fixed price, range low, or original price."
    )
    price2 = models.PositiveIntegerField(
        null=True, blank=True, validators=price_validators, help_text="Fen. Range high, or discounted price."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["brand", "status", "audit_status"]),
            models.Index(fields=["brand", "category"]),
            models.Index(fields=["brand", "-created_at"], name="product_brand_newest_idx"),
        ]
        constraints = [
            # price2 is spelled out as not null: a CHECK whose condition is NULL passes.
            models.CheckConstraint(
                name="product_price_shape",
                condition=(
                    Q(price_type="fixed", price2__isnull=True)
                    | Q(price_type="range", price2__isnull=False, price2__gt=F("price"))
                    | Q(price_type="discount", price2__isnull=False, price2__lt=F("price"))
                ),
                violation_error_message=(
                    "A fixed price has no second price; a range needs a higher one, a discount a lower one."
                ),
            ),
            models.CheckConstraint(
                name="product_price_bounds",
                condition=(
                    Q(price__gte=1, price__lte=MAX_PRICE_FEN)
                    & (Q(price2__isnull=True) | Q(price2__gte=1, price2__lte=MAX_PRICE_FEN))
                ),
            ),
            models.CheckConstraint(
                name="product_archived_at_iff_archived",
                condition=(
                    Q(status="archived", archived_at__isnull=False)
                    | (~Q(status="archived") & Q(archived_at__isnull=True))
                ),
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        problem = self.price_shape_problem()
        if problem is not None:
            code, message = problem
            raise ValidationError({"price2": ValidationError(message, code=code)})

    def price_shape_problem(self) -> tuple[str, str] | None:
        """What is wrong with ``price2`` for the price type, as (code, message); None when it fits."""
        price, price2 = self.price, self.price2
        if self.price_type == self.PriceType.FIXED:
            return None if price2 is None else ("invalid", "A fixed price has no second price.")
        if self.price_type not in self.PriceType.values:
            return None  # the choices check names the price type itself
        if price2 is None:
            return "invalid", f"A {self.price_type} price needs a second price."
        if not (isinstance(price, int) and isinstance(price2, int)):
            return None  # the field checks name the malformed price
        if self.price_type == self.PriceType.RANGE and price2 <= price:
            return "price_range_inverted", "The top of a price range must be above its bottom."
        if self.price_type == self.PriceType.DISCOUNT and price2 >= price:
            return "discount_not_lower", "A discounted price must be below the original price."
        return None

    @property
    def cover_url(self) -> str:
        return self.cover_of(self.images)

    @staticmethod
    def cover_of(images: list) -> str:
        """The cover of a product with these images (for cards read as rows)."""
        return images[0] if images else ""

    @property
    def is_sellable(self) -> bool:
        return self.status == self.Status.ON_SHELF and self.audit_status == self.AuditStatus.APPROVED


class Sku(BrandScopedModel):
    """A sellable variant of a product, with its own price and stock."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="skus")
    code = models.CharField(max_length=64, validators=[sku_code_validator], help_text="Unique within the brand.")
    spec = models.CharField(max_length=100, blank=True, help_text="E.g. 'Red / XL'.")
    price = models.PositiveIntegerField(validators=price_validators, help_text="Fen.")
    stock = models.PositiveIntegerField(default=0, validators=[MaxValueValidator(MAX_STOCK)])
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["brand", "code"], name="sku_brand_code_uniq"),
            models.CheckConstraint(name="sku_price_bounds", condition=Q(price__gte=1, price__lte=MAX_PRICE_FEN)),
            models.CheckConstraint(name="sku_stock_bounds", condition=Q(stock__gte=0, stock__lte=MAX_STOCK)),
        ]
        indexes = [models.Index(fields=["brand", "product"])]
        ordering = ["id"]

    def __str__(self):
        return f"{self.product_id}:{self.code}"


# --- Orders -------------------------------------------------------------------------------------


class Order(BrandScopedModel):
    """A customer's order. Prices are snapshotted on its lines; attribution is fixed at placement.

    ``pending_payment → paid → shipped → completed``; ``pending_payment → cancelled`` (by the
    customer or by expiry); a refund request moves a paid, shipped or completed order to
    ``refunding`` until it is decided: ``refunded`` when everything was refunded, otherwise
    back where it was. Every transition is an ``OrderEvent``.
    """

    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment"
        PAID = "paid"
        SHIPPED = "shipped"
        COMPLETED = "completed"
        CANCELLED = "cancelled"
        REFUNDING = "refunding"
        REFUNDED = "refunded"

    class Delivery(models.TextChoices):
        SHIP = "ship", "delivery to an address"
        PICKUP = "pickup", "pick up in store"

    number = models.CharField(max_length=32, help_text="Shown to the customer; unique within the brand.")
    customer = models.ForeignKey("tenants.Customer", on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING_PAYMENT)

    # Where the sale came from, recorded at placement and never recomputed.
    room = models.ForeignKey(
        "livestream.LiveRoom", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    source_kind = models.CharField(max_length=16, blank=True)
    source_scene = models.CharField(max_length=32, blank=True)
    festival = models.ForeignKey(
        "livestream.Festival", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    costream = models.ForeignKey(
        "livestream.CoStream", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    referring_room = models.ForeignKey(
        "livestream.LiveRoom",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The room that sent the viewer.",
    )
    guide = models.ForeignKey("guides.Guide", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders")
    store = models.ForeignKey(
        "guides.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="attributed_orders"
    )
    leader = models.ForeignKey("guides.Guide", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    delivery = models.CharField(max_length=8, choices=Delivery.choices, default=Delivery.SHIP)
    address = models.JSONField(default=dict, blank=True, help_text="name, phone, province, city, district, detail")
    pickup_store = models.ForeignKey(
        "guides.Store", null=True, blank=True, on_delete=models.PROTECT, related_name="pickup_orders"
    )
    note = models.CharField(max_length=200, blank=True)

    items_total = models.PositiveIntegerField(help_text="Fen, before discounts.")
    discount_total = models.PositiveIntegerField(default=0)
    shipping_fee = models.PositiveIntegerField(default=0)
    payable = models.PositiveIntegerField(help_text="Fen: items − discounts + shipping.")
    refunded_total = models.PositiveIntegerField(default=0)

    idempotency_key = models.CharField(max_length=64, blank=True)
    request_hash = models.CharField(max_length=64, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(help_text="Unpaid by then: cancelled and its stock returned.")
    paid_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    carrier = models.CharField(max_length=32, blank=True)
    tracking_number = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["brand", "number"], name="order_brand_number_uniq"),
            models.UniqueConstraint(
                fields=["brand", "customer", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="order_idempotency_uniq",
            ),
            models.CheckConstraint(
                name="order_payable_sum",
                condition=Q(payable=F("items_total") - F("discount_total") + F("shipping_fee")),
            ),
            models.CheckConstraint(name="order_refund_bounds", condition=Q(refunded_total__lte=F("payable"))),
        ]
        indexes = [
            models.Index(fields=["brand", "customer", "-created_at"]),
            models.Index(fields=["brand", "status", "-created_at"]),
            models.Index(fields=["brand", "room", "-created_at"]),
            models.Index(fields=["brand", "guide", "-created_at"]),
            models.Index(fields=["status", "expires_at"], name="order_expiry_scan"),
            models.Index(fields=["status", "shipped_at"], name="order_completion_scan"),
        ]

    def __str__(self):
        return self.number


class OrderLine(BrandScopedModel):
    """One SKU of an order, with the price it was sold at."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_lines")
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="order_lines")
    flash_sale = models.ForeignKey(
        "FlashSale", null=True, blank=True, on_delete=models.PROTECT, related_name="order_lines"
    )
    product_name = models.CharField(max_length=60)
    sku_spec = models.CharField(max_length=100, blank=True)
    unit_price = models.PositiveIntegerField(help_text="Fen: the SKU's price when ordered.")
    quantity = models.PositiveIntegerField()
    discount = models.PositiveIntegerField(default=0, help_text="Fen off this line (all units).")
    refunded_quantity = models.PositiveIntegerField(default=0)
    refunded_amount = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(name="orderline_refund_bounds", condition=Q(refunded_quantity__lte=F("quantity"))),
        ]
        indexes = [models.Index(fields=["brand", "sku"]), models.Index(fields=["brand", "product"])]
        ordering = ["id"]

    @property
    def amount(self) -> int:
        return self.unit_price * self.quantity - self.discount


class OrderEvent(BrandScopedModel):
    """An order's history: every transition, who made it, when and why."""

    class Actor(models.TextChoices):
        CUSTOMER = "customer"
        STAFF = "staff"
        SYSTEM = "system"
        PAYMENT = "payment"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    actor = models.CharField(max_length=16, choices=Actor.choices)
    actor_id = models.BigIntegerField(null=True, blank=True, help_text="Customer or staff user id.")
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["brand", "order", "created_at"])]
        ordering = ["id"]


class Payment(BrandScopedModel):
    """One attempt to collect an order's payable through a provider (``sandbox`` or ``wechatpay``)."""

    class Status(models.TextChoices):
        CREATED = "created"
        PAID = "paid"
        CLOSED = "closed"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="payments")
    provider = models.CharField(max_length=16)
    out_trade_no = models.CharField(max_length=32, unique=True)
    amount = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREATED)
    prepay_id = models.CharField(max_length=64, blank=True)
    transaction_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["brand", "order"])]


class Refund(BrandScopedModel):
    """A refund request for some lines (or quantities of them) of a paid order."""

    class Status(models.TextChoices):
        REQUESTED = "requested"
        REJECTED = "rejected"
        PROCESSING = "processing", "approved, waiting for the payment provider"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="refunds")
    payment = models.ForeignKey(
        Payment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="refunds",
        help_text="Set when one payment is refunded whole (it came after the order was cancelled).",
    )
    out_refund_no = models.CharField(max_length=64, unique=True)
    amount = models.PositiveIntegerField()
    lines = models.JSONField(help_text="[{line_id, quantity, amount}]")
    reason = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    order_status_before = models.CharField(max_length=20)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision_note = models.CharField(max_length=200, blank=True)
    provider_refund_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["brand", "status", "-created_at"]), models.Index(fields=["brand", "order"])]


# --- Flash sales --------------------------------------------------------------------------------


class FlashSale(BrandScopedModel):
    """A SKU sold at a price for a while, ``quantity`` units in all and ``per_customer_limit`` each.

    The database holds both limits: ``sold`` only grows by a conditional update that keeps it
    within ``quantity``, and each customer's ``FlashSalePurchase`` within the limit.
    """

    class Audience(models.TextChoices):
        EVERYONE = "everyone"
        NEW_CUSTOMERS = "new_customers", "new customers (no paid order yet)"
        MEMBERS = "members"

    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="flash_sales")
    room = models.ForeignKey(
        "livestream.LiveRoom", null=True, blank=True, on_delete=models.SET_NULL, related_name="flash_sales"
    )
    title = models.CharField(max_length=60, blank=True)
    price = models.PositiveIntegerField(validators=price_validators, help_text="Fen.")
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1), MaxValueValidator(MAX_STOCK)])
    sold = models.PositiveIntegerField(default=0)
    per_customer_limit = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    audience = models.CharField(max_length=16, choices=Audience.choices, default=Audience.EVERYONE)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    is_active = models.BooleanField(default=True, help_text="Off: withdrawn by the brand.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(name="flashsale_sold_bounds", condition=Q(sold__lte=F("quantity"))),
            models.CheckConstraint(name="flashsale_window", condition=Q(ends_at__gt=F("starts_at"))),
        ]
        indexes = [models.Index(fields=["brand", "sku", "starts_at"])]

    def __str__(self):
        return self.title or f"Flash sale {self.pk}"

    @property
    def remaining(self) -> int:
        return self.quantity - self.sold


class FlashSalePurchase(BrandScopedModel):
    """How many units of a flash sale one customer holds (in unpaid or paid orders)."""

    flash_sale = models.ForeignKey(FlashSale, on_delete=models.CASCADE, related_name="purchases")
    customer = models.ForeignKey("tenants.Customer", on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["brand", "flash_sale", "customer"], name="flashsale_purchase_uniq"),
        ]


# --- Group buys (拼团) ----------------------------------------------------------------------------


class GroupBuyOffer(BrandScopedModel):
    """A SKU sold at ``price`` to groups of ``group_size`` customers who all pay within ``time_limit_minutes``.

    A customer starts a group by ordering at the group price; friends join through the share link.
    When every seat is paid the group succeeds; at the deadline a group short of members fails and
    every paid member is refunded (or, with ``fill_one_short``, a group one member short succeeds).
    """

    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="group_buy_offers")
    room = models.ForeignKey(
        "livestream.LiveRoom", null=True, blank=True, on_delete=models.SET_NULL, related_name="group_buy_offers"
    )
    title = models.CharField(max_length=60, blank=True)
    group_size = models.PositiveSmallIntegerField(validators=[MinValueValidator(2), MaxValueValidator(50)])
    price = models.PositiveIntegerField(validators=price_validators, help_text="Fen, per unit, below the SKU's price.")
    time_limit_minutes = models.PositiveIntegerField(
        default=24 * 60, validators=[MinValueValidator(5), MaxValueValidator(7 * 24 * 60)]
    )
    per_customer_limit = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1)], help_text="Groups a customer may be in (unpaid or paid) at once."
    )
    new_customers_only = models.BooleanField(
        default=False, help_text="Seats after the starter's are for customers without a paid order."
    )
    fill_one_short = models.BooleanField(
        default=False, help_text="模拟成团: a group one member short at its deadline succeeds anyway."
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(help_text="No new group starts after this; groups started before run their time.")
    is_active = models.BooleanField(default=True, help_text="Off: stopped by the brand; no new groups or members.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(name="groupbuyoffer_window", condition=Q(ends_at__gt=F("starts_at"))),
            models.CheckConstraint(name="groupbuyoffer_size", condition=Q(group_size__gte=2, group_size__lte=50)),
        ]
        indexes = [models.Index(fields=["brand", "sku", "starts_at"])]

    def __str__(self):
        return self.title or f"Group buy {self.pk}"


class Group(BrandScopedModel):
    """One group of an offer. ``seats_taken`` counts members holding a seat (unpaid or paid), and
    only grows through a conditional UPDATE that keeps it within ``size``: the last seat goes to
    exactly one buyer.

    ``pending`` (the starter has not paid) → ``forming`` (open to friends) → ``succeeded`` or ``failed``.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "waiting for the starter's payment"
        FORMING = "forming"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    offer = models.ForeignKey(GroupBuyOffer, on_delete=models.PROTECT, related_name="groups")
    leader = models.ForeignKey("tenants.Customer", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    size = models.PositiveSmallIntegerField()
    seats_taken = models.PositiveSmallIntegerField(default=0)
    paid_count = models.PositiveSmallIntegerField(default=0)
    filled_short = models.BooleanField(default=False, help_text="Succeeded one member short (模拟成团).")
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(name="group_seats_bounds", condition=Q(seats_taken__lte=F("size"))),
            models.CheckConstraint(name="group_paid_bounds", condition=Q(paid_count__lte=F("seats_taken"))),
        ]
        indexes = [
            models.Index(fields=["brand", "offer", "status"]),
            models.Index(fields=["status", "expires_at"], name="group_timeout_scan"),
        ]

    def __str__(self):
        return f"Group {self.pk}"


class GroupMember(BrandScopedModel):
    """A customer's seat in a group, held by one order: ``holding`` (unpaid) → ``paid``; a seat whose
    order is cancelled is ``released``; a paid seat of a failed group is ``refunded`` (once)."""

    class Status(models.TextChoices):
        HOLDING = "holding"
        PAID = "paid"
        RELEASED = "released"
        REFUNDED = "refunded"

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="members")
    offer = models.ForeignKey(GroupBuyOffer, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey("tenants.Customer", on_delete=models.PROTECT, related_name="+")
    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="group_member")
    is_leader = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.HOLDING)
    sharer = models.ForeignKey(
        "tenants.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="Invited by."
    )
    joined_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "group", "customer"],
                condition=Q(status__in=["holding", "paid"]),
                name="groupmember_once_per_group",
            ),
        ]
        indexes = [
            models.Index(fields=["brand", "offer", "customer", "status"]),
            models.Index(fields=["brand", "group"]),
        ]
        ordering = ["id"]


# --- Bargains (砍价) -------------------------------------------------------------------------------


class BargainOffer(BrandScopedModel):
    """A SKU a customer's friends cut from its price down to ``floor_price``: ``helpers_needed`` cuts
    reach the floor, within ``time_limit_minutes`` of the start. Each helper helps a bargain once and
    at most ``helps_per_day`` bargains a day."""

    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="bargain_offers")
    room = models.ForeignKey(
        "livestream.LiveRoom", null=True, blank=True, on_delete=models.SET_NULL, related_name="bargain_offers"
    )
    title = models.CharField(max_length=60, blank=True)
    floor_price = models.PositiveIntegerField(validators=price_validators, help_text="Fen, below the SKU's price.")
    helpers_needed = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(100)])
    time_limit_minutes = models.PositiveIntegerField(
        default=24 * 60, validators=[MinValueValidator(5), MaxValueValidator(7 * 24 * 60)]
    )
    helps_per_day = models.PositiveSmallIntegerField(default=3, validators=[MinValueValidator(1)])
    new_customer_boost = models.BooleanField(
        default=False, help_text="A helper without a paid order cuts as much as two helpers."
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(name="bargainoffer_window", condition=Q(ends_at__gt=F("starts_at")))]
        indexes = [models.Index(fields=["brand", "sku", "starts_at"])]

    def __str__(self):
        return self.title or f"Bargain {self.pk}"


class Bargain(BrandScopedModel):
    """One customer's bargain. ``plan`` holds the cuts drawn at the start (they sum to the gap
    between the price and the floor); each help takes the next cut, so ``cut_total`` reaches the
    gap after exactly ``len(plan)`` helper slots and never passes it (a CHECK guards it too).

    ``active`` → ``ordered`` (the starter placed the order; back to ``active`` if it is cancelled)
    → ``purchased``; ``expired`` when time runs out first."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        ORDERED = "ordered"
        PURCHASED = "purchased"
        EXPIRED = "expired"

    offer = models.ForeignKey(BargainOffer, on_delete=models.PROTECT, related_name="bargains")
    customer = models.ForeignKey("tenants.Customer", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    start_price = models.PositiveIntegerField()
    floor_price = models.PositiveIntegerField()
    plan = models.JSONField(help_text="The cuts in fen, largest first.")
    slots_used = models.PositiveSmallIntegerField(default=0)
    cut_total = models.PositiveIntegerField(default=0)
    order = models.OneToOneField(Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="bargain")
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="bargain_cut_within_gap", condition=Q(cut_total__lte=F("start_price") - F("floor_price"))
            ),
            models.UniqueConstraint(
                fields=["brand", "offer", "customer"],
                condition=Q(status__in=["active", "ordered", "purchased"]),
                name="bargain_once_per_offer",
            ),
        ]
        indexes = [models.Index(fields=["brand", "customer", "-created_at"])]

    def __str__(self):
        return f"Bargain {self.pk}"

    @property
    def current_price(self) -> int:
        return self.start_price - self.cut_total


class BargainHelp(BrandScopedModel):
    """One friend's cut. ``daily_slot`` numbers the helper's helps of the day (1…K): a unique key on
    it holds the daily limit under parallel helps."""

    bargain = models.ForeignKey(Bargain, on_delete=models.CASCADE, related_name="helps")
    helper = models.ForeignKey("tenants.Customer", on_delete=models.PROTECT, related_name="+")
    amount = models.PositiveIntegerField()
    day = models.DateField(help_text="In the brand's timezone.")
    daily_slot = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["brand", "bargain", "helper"], name="bargainhelp_once_per_bargain"),
            models.UniqueConstraint(fields=["brand", "helper", "day", "daily_slot"], name="bargainhelp_daily_slot"),
        ]
        ordering = ["id"]
