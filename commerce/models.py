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
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from tenants.scoping import BrandScopedModel, brand_field

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
        ON_SHELF = "on_shelf", _("On Shelf")
        OFF_SHELF = "off_shelf", _("Off Shelf")
        ARCHIVED = "archived", _("Archived")

    class AuditStatus(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    class PriceType(models.TextChoices):
        FIXED = "fixed", _("Fixed")
        RANGE = "range", _("Range")
        DISCOUNT = "discount", _("Discount")

    name = models.CharField(max_length=60, verbose_name=_("name"))
    category = models.CharField(max_length=50, blank=True, verbose_name=_("category"))
    images = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_image_urls],
        help_text=format_lazy(_("Up to {count} http(s) image URLs; the first is the cover."), count=MAX_IMAGES),
        verbose_name=_("images"),
    )
    # A TextField's max_length only sizes the form widget; the validator enforces it.
    description = models.TextField(
        blank=True, max_length=5000, validators=[MaxLengthValidator(5000)], verbose_name=_("description")
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OFF_SHELF, verbose_name=_("status"))
    audit_status = models.CharField(
        max_length=16, choices=AuditStatus.choices, default=AuditStatus.PENDING, verbose_name=_("audit status")
    )
    audit_reason = models.CharField(max_length=200, blank=True, verbose_name=_("audit reason"))
    price_type = models.CharField(
        max_length=16, choices=PriceType.choices, default=PriceType.FIXED, verbose_name=_("price type")
    )
    price = models.PositiveIntegerField(
        validators=price_validators,
        help_text=_("Fen. Fixed price, range low, or original price."),
        verbose_name=_("price"),
    )
    price2 = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=price_validators,
        help_text=_("Fen. Range high, or discounted price."),
        verbose_name=_("price2"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    archived_at = models.DateTimeField(null=True, blank=True, verbose_name=_("archived at"))

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
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

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="skus", verbose_name=_("product"))
    code = models.CharField(
        max_length=64, validators=[sku_code_validator], help_text=_("Unique within the brand."), verbose_name=_("code")
    )
    spec = models.CharField(max_length=100, blank=True, help_text=_("E.g. 'Red / XL'."), verbose_name=_("spec"))
    price = models.PositiveIntegerField(validators=price_validators, help_text=_("Fen."), verbose_name=_("price"))
    stock = models.PositiveIntegerField(default=0, validators=[MaxValueValidator(MAX_STOCK)], verbose_name=_("stock"))
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("SKU")
        verbose_name_plural = _("SKUs")
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

# Every buyer of a show writes the order tables at once. They refer to the rows all those buyers
# share (the brand, the room, the product, the SKU, the flash sale) without a database constraint:
# PostgreSQL checks a foreign key by share-locking the parent row, so each order would lock the
# show's hottest rows (which the same orders update) and build a multixact per buyer on them, and
# run a check query per reference (a third of PostgreSQL's time on a flash-sale order). Django
# still applies each ``on_delete`` (PROTECT, CASCADE, SET_NULL) to these references. For the same
# reason these tables index ``brand`` only through their indexes led by it, and a nullable
# reference only where it is set (HOT_INDEXES).
HOT_PARENT = {"db_constraint": False}
NOT_INDEXED = {"db_index": False}


def set_reference_index(table: str, field: str) -> models.Index:
    """An index of a nullable reference over the rows where it is set: the lookups and the
    ``on_delete`` of the parent use it, and an order without that reference writes nothing to it."""
    return models.Index(fields=[field], condition=Q(**{f"{field}__isnull": False}), name=f"{table}_{field}_set")


class Order(BrandScopedModel):
    """A customer's order. Prices are snapshotted on its lines; attribution is fixed at placement.

    ``pending_payment → paid → shipped → completed``; ``pending_payment → cancelled`` (by the
    customer or by expiry); a refund request moves a paid, shipped or completed order to
    ``refunding`` until it is decided: ``refunded`` when everything was refunded, otherwise
    back where it was. Every transition is an ``OrderEvent``.
    """

    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", _("Pending Payment")
        PAID = "paid", _("Paid")
        SHIPPED = "shipped", _("Shipped")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")
        REFUNDING = "refunding", _("Refunding")
        REFUNDED = "refunded", _("Refunded")

    class Delivery(models.TextChoices):
        SHIP = "ship", _("delivery to an address")
        PICKUP = "pickup", _("pick up in store")

    brand = brand_field(**HOT_PARENT, **NOT_INDEXED)
    number = models.CharField(
        max_length=32, help_text=_("Shown to the customer; unique within the brand."), verbose_name=_("number")
    )
    customer = models.ForeignKey(
        "tenants.Customer", on_delete=models.PROTECT, related_name="orders", verbose_name=_("customer")
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING_PAYMENT, verbose_name=_("status")
    )

    # Where the sale came from, recorded at placement and never recomputed.
    room = models.ForeignKey(
        "livestream.LiveRoom",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="orders",
        verbose_name=_("room"),
        **HOT_PARENT,
        **NOT_INDEXED,
    )
    source_kind = models.CharField(max_length=16, blank=True, verbose_name=_("source kind"))
    source_scene = models.CharField(max_length=32, blank=True, verbose_name=_("source scene"))
    festival = models.ForeignKey(
        "livestream.Festival",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("festival"),
        **NOT_INDEXED,
    )
    costream = models.ForeignKey(
        "livestream.CoStream",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("costream"),
        **NOT_INDEXED,
    )
    referring_room = models.ForeignKey(
        "livestream.LiveRoom",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The room that sent the viewer."),
        verbose_name=_("referring room"),
        **HOT_PARENT,
        **NOT_INDEXED,
    )
    guide = models.ForeignKey(
        "guides.Guide",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="orders",
        verbose_name=_("guide"),
        **NOT_INDEXED,
    )
    store = models.ForeignKey(
        "guides.Store",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="attributed_orders",
        verbose_name=_("store"),
        **NOT_INDEXED,
    )
    leader = models.ForeignKey(
        "guides.Guide",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("leader"),
        **NOT_INDEXED,
    )

    delivery = models.CharField(
        max_length=8, choices=Delivery.choices, default=Delivery.SHIP, verbose_name=_("delivery")
    )
    address = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("name, phone, province, city, district, detail"),
        verbose_name=_("address"),
    )
    pickup_store = models.ForeignKey(
        "guides.Store",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="pickup_orders",
        verbose_name=_("pickup store"),
        **NOT_INDEXED,
    )
    note = models.CharField(max_length=200, blank=True, verbose_name=_("note"))

    items_total = models.PositiveIntegerField(help_text=_("Fen, before discounts."), verbose_name=_("items total"))
    discount_total = models.PositiveIntegerField(default=0, verbose_name=_("discount total"))
    shipping_fee = models.PositiveIntegerField(default=0, verbose_name=_("shipping fee"))
    payable = models.PositiveIntegerField(help_text=_("Fen: items − discounts + shipping."), verbose_name=_("payable"))
    refunded_total = models.PositiveIntegerField(default=0, verbose_name=_("refunded total"))

    idempotency_key = models.CharField(max_length=64, blank=True, verbose_name=_("idempotency key"))
    request_hash = models.CharField(max_length=64, blank=True, verbose_name=_("request hash"))

    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    expires_at = models.DateTimeField(
        help_text=_("Unpaid by then: cancelled and its stock returned."), verbose_name=_("expires at")
    )
    paid_at = models.DateTimeField(null=True, blank=True, verbose_name=_("paid at"))
    shipped_at = models.DateTimeField(null=True, blank=True, verbose_name=_("shipped at"))
    completed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("completed at"))
    cancelled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("cancelled at"))
    carrier = models.CharField(max_length=32, blank=True, verbose_name=_("carrier"))
    tracking_number = models.CharField(max_length=64, blank=True, verbose_name=_("tracking number"))

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
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
            *(
                set_reference_index("order", field)
                for field in (
                    "room", "festival", "costream", "referring_room", "guide", "store", "leader", "pickup_store",
                )
            ),
        ]  # fmt: skip

    def __str__(self):
        return self.number


class OrderLine(BrandScopedModel):
    """One SKU of an order, with the price it was sold at."""

    brand = brand_field(**HOT_PARENT, **NOT_INDEXED)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", verbose_name=_("order"))
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="order_lines", verbose_name=_("product"), **HOT_PARENT
    )
    sku = models.ForeignKey(
        Sku, on_delete=models.PROTECT, related_name="order_lines", verbose_name=_("sku"), **HOT_PARENT
    )
    flash_sale = models.ForeignKey(
        "FlashSale",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="order_lines",
        verbose_name=_("flash sale"),
        **HOT_PARENT,
        **NOT_INDEXED,
    )
    product_name = models.CharField(max_length=60, verbose_name=_("product name"))
    sku_spec = models.CharField(max_length=100, blank=True, verbose_name=_("sku spec"))
    unit_price = models.PositiveIntegerField(
        help_text=_("Fen: the SKU's price when ordered."), verbose_name=_("unit price")
    )
    quantity = models.PositiveIntegerField(verbose_name=_("quantity"))
    discount = models.PositiveIntegerField(
        default=0, help_text=_("Fen off this line (all units)."), verbose_name=_("discount")
    )
    refunded_quantity = models.PositiveIntegerField(default=0, verbose_name=_("refunded quantity"))
    refunded_amount = models.PositiveIntegerField(default=0, verbose_name=_("refunded amount"))

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        constraints = [
            models.CheckConstraint(name="orderline_refund_bounds", condition=Q(refunded_quantity__lte=F("quantity"))),
        ]
        indexes = [
            models.Index(fields=["brand", "sku"]),
            models.Index(fields=["brand", "product"]),
            set_reference_index("orderline", "flash_sale"),
        ]
        ordering = ["id"]

    @property
    def amount(self) -> int:
        return self.unit_price * self.quantity - self.discount


class OrderEvent(BrandScopedModel):
    """An order's history: every transition, who made it, when and why."""

    class Actor(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        STAFF = "staff", _("Staff")
        SYSTEM = "system", _("System")
        PAYMENT = "payment", _("Payment")

    brand = brand_field(**HOT_PARENT, **NOT_INDEXED)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events", verbose_name=_("order"))
    from_status = models.CharField(max_length=20, blank=True, verbose_name=_("from status"))
    to_status = models.CharField(max_length=20, verbose_name=_("to status"))
    actor = models.CharField(max_length=16, choices=Actor.choices, verbose_name=_("actor"))
    actor_id = models.BigIntegerField(
        null=True, blank=True, help_text=_("Customer or staff user id."), verbose_name=_("actor id")
    )
    reason = models.CharField(max_length=200, blank=True, verbose_name=_("reason"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("order event")
        verbose_name_plural = _("order events")
        indexes = [models.Index(fields=["brand", "order", "created_at"])]
        ordering = ["id"]


class Payment(BrandScopedModel):
    """One attempt to collect an order's payable through a provider (``sandbox`` or ``wechatpay``)."""

    class Status(models.TextChoices):
        CREATED = "created", _("Created")
        PAID = "paid", _("Paid")
        CLOSED = "closed", _("Closed")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="payments", verbose_name=_("order"))
    provider = models.CharField(max_length=16, verbose_name=_("provider"))
    out_trade_no = models.CharField(max_length=32, unique=True, verbose_name=_("out trade no"))
    amount = models.PositiveIntegerField(verbose_name=_("amount"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREATED, verbose_name=_("status"))
    prepay_id = models.CharField(max_length=64, blank=True, verbose_name=_("prepay id"))
    transaction_id = models.CharField(max_length=64, blank=True, verbose_name=_("transaction id"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    paid_at = models.DateTimeField(null=True, blank=True, verbose_name=_("paid at"))

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        indexes = [models.Index(fields=["brand", "order"])]


class Refund(BrandScopedModel):
    """A refund request for some lines (or quantities of them) of a paid order."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        REJECTED = "rejected", _("Rejected")
        PROCESSING = "processing", _("approved, waiting for the payment provider")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="refunds", verbose_name=_("order"))
    payment = models.ForeignKey(
        Payment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="refunds",
        help_text=_("Set when one payment is refunded whole (it came after the order was cancelled)."),
        verbose_name=_("payment"),
    )
    out_refund_no = models.CharField(max_length=64, unique=True, verbose_name=_("out refund no"))
    amount = models.PositiveIntegerField(verbose_name=_("amount"))
    lines = models.JSONField(help_text=_("[{line_id, quantity, amount}]"), verbose_name=_("lines"))
    reason = models.CharField(max_length=200, blank=True, verbose_name=_("reason"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED, verbose_name=_("status"))
    order_status_before = models.CharField(max_length=20, verbose_name=_("order status before"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decision_note = models.CharField(max_length=200, blank=True, verbose_name=_("decision note"))
    provider_refund_id = models.CharField(max_length=64, blank=True, verbose_name=_("provider refund id"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    decided_at = models.DateTimeField(null=True, blank=True, verbose_name=_("decided at"))
    succeeded_at = models.DateTimeField(null=True, blank=True, verbose_name=_("succeeded at"))

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        indexes = [models.Index(fields=["brand", "status", "-created_at"]), models.Index(fields=["brand", "order"])]


# --- Flash sales --------------------------------------------------------------------------------


class FlashSale(BrandScopedModel):
    """A SKU sold at a price for a while, ``quantity`` units in all and ``per_customer_limit`` each.

    The database holds both limits: ``sold`` only grows by a conditional update that keeps it
    within ``quantity``, and each customer's ``FlashSalePurchase`` within the limit.
    """

    class Audience(models.TextChoices):
        EVERYONE = "everyone", _("Everyone")
        NEW_CUSTOMERS = "new_customers", _("new customers (no paid order yet)")
        MEMBERS = "members", _("Members")

    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="flash_sales", verbose_name=_("sku"))
    room = models.ForeignKey(
        "livestream.LiveRoom",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="flash_sales",
        verbose_name=_("room"),
    )
    title = models.CharField(max_length=60, blank=True, verbose_name=_("title"))
    price = models.PositiveIntegerField(validators=price_validators, help_text=_("Fen."), verbose_name=_("price"))
    quantity = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_STOCK)], verbose_name=_("quantity")
    )
    sold = models.PositiveIntegerField(default=0, verbose_name=_("sold"))
    per_customer_limit = models.PositiveIntegerField(
        default=1, validators=[MinValueValidator(1)], verbose_name=_("per customer limit")
    )
    audience = models.CharField(
        max_length=16, choices=Audience.choices, default=Audience.EVERYONE, verbose_name=_("audience")
    )
    starts_at = models.DateTimeField(verbose_name=_("starts at"))
    ends_at = models.DateTimeField(verbose_name=_("ends at"))
    is_active = models.BooleanField(
        default=True, help_text=_("Off: withdrawn by the brand."), verbose_name=_("is active")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("flash sale")
        verbose_name_plural = _("flash sales")
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

    brand = brand_field(**HOT_PARENT, **NOT_INDEXED)
    flash_sale = models.ForeignKey(
        FlashSale, on_delete=models.CASCADE, related_name="purchases", verbose_name=_("flash sale"), **HOT_PARENT
    )
    customer = models.ForeignKey(
        "tenants.Customer", on_delete=models.CASCADE, related_name="+", verbose_name=_("customer")
    )
    quantity = models.PositiveIntegerField(default=0, verbose_name=_("quantity"))

    class Meta:
        verbose_name = _("flash sale purchase")
        verbose_name_plural = _("flash sale purchases")
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

    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="group_buy_offers", verbose_name=_("sku"))
    room = models.ForeignKey(
        "livestream.LiveRoom",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="group_buy_offers",
        verbose_name=_("room"),
    )
    title = models.CharField(max_length=60, blank=True, verbose_name=_("title"))
    group_size = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(2), MaxValueValidator(50)], verbose_name=_("group size")
    )
    price = models.PositiveIntegerField(
        validators=price_validators, help_text=_("Fen, per unit, below the SKU's price."), verbose_name=_("price")
    )
    time_limit_minutes = models.PositiveIntegerField(
        default=24 * 60,
        validators=[MinValueValidator(5), MaxValueValidator(7 * 24 * 60)],
        verbose_name=_("time limit minutes"),
    )
    per_customer_limit = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1)],
        help_text=_("Groups a customer may be in (unpaid or paid) at once."),
        verbose_name=_("per customer limit"),
    )
    new_customers_only = models.BooleanField(
        default=False,
        help_text=_("Seats after the starter's are for customers without a paid order."),
        verbose_name=_("new customers only"),
    )
    fill_one_short = models.BooleanField(
        default=False,
        help_text=_("模拟成团: a group one member short at its deadline succeeds anyway."),
        verbose_name=_("fill one short"),
    )
    starts_at = models.DateTimeField(verbose_name=_("starts at"))
    ends_at = models.DateTimeField(
        help_text=_("No new group starts after this; groups started before run their time."), verbose_name=_("ends at")
    )
    is_active = models.BooleanField(
        default=True, help_text=_("Off: stopped by the brand; no new groups or members."), verbose_name=_("is active")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("group buy offer")
        verbose_name_plural = _("group buy offers")
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
        PENDING = "pending", _("waiting for the starter's payment")
        FORMING = "forming", _("Forming")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    offer = models.ForeignKey(GroupBuyOffer, on_delete=models.PROTECT, related_name="groups", verbose_name=_("offer"))
    leader = models.ForeignKey("tenants.Customer", on_delete=models.PROTECT, related_name="+", verbose_name=_("leader"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, verbose_name=_("status"))
    size = models.PositiveSmallIntegerField(verbose_name=_("size"))
    seats_taken = models.PositiveSmallIntegerField(default=0, verbose_name=_("seats taken"))
    paid_count = models.PositiveSmallIntegerField(default=0, verbose_name=_("paid count"))
    filled_short = models.BooleanField(
        default=False, help_text=_("Succeeded one member short (模拟成团)."), verbose_name=_("filled short")
    )
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    closed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("closed at"))

    class Meta:
        verbose_name = _("group")
        verbose_name_plural = _("groups")
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
        HOLDING = "holding", _("Holding")
        PAID = "paid", _("Paid")
        RELEASED = "released", _("Released")
        REFUNDED = "refunded", _("Refunded")

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="members", verbose_name=_("group"))
    offer = models.ForeignKey(GroupBuyOffer, on_delete=models.PROTECT, related_name="+", verbose_name=_("offer"))
    customer = models.ForeignKey(
        "tenants.Customer", on_delete=models.PROTECT, related_name="+", verbose_name=_("customer")
    )
    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="group_member", verbose_name=_("order"))
    is_leader = models.BooleanField(default=False, verbose_name=_("is leader"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.HOLDING, verbose_name=_("status"))
    sharer = models.ForeignKey(
        "tenants.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Invited by."),
        verbose_name=_("sharer"),
    )
    joined_at = models.DateTimeField(auto_now_add=True, verbose_name=_("joined at"))
    paid_at = models.DateTimeField(null=True, blank=True, verbose_name=_("paid at"))

    class Meta:
        verbose_name = _("group member")
        verbose_name_plural = _("group members")
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

    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="bargain_offers", verbose_name=_("sku"))
    room = models.ForeignKey(
        "livestream.LiveRoom",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="bargain_offers",
        verbose_name=_("room"),
    )
    title = models.CharField(max_length=60, blank=True, verbose_name=_("title"))
    floor_price = models.PositiveIntegerField(
        validators=price_validators, help_text=_("Fen, below the SKU's price."), verbose_name=_("floor price")
    )
    helpers_needed = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(100)], verbose_name=_("helpers needed")
    )
    time_limit_minutes = models.PositiveIntegerField(
        default=24 * 60,
        validators=[MinValueValidator(5), MaxValueValidator(7 * 24 * 60)],
        verbose_name=_("time limit minutes"),
    )
    helps_per_day = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1)], verbose_name=_("helps per day")
    )
    new_customer_boost = models.BooleanField(
        default=False,
        help_text=_("A helper without a paid order cuts as much as two helpers."),
        verbose_name=_("new customer boost"),
    )
    starts_at = models.DateTimeField(verbose_name=_("starts at"))
    ends_at = models.DateTimeField(verbose_name=_("ends at"))
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("bargain offer")
        verbose_name_plural = _("bargain offers")
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
        ACTIVE = "active", _("Active")
        ORDERED = "ordered", _("Ordered")
        PURCHASED = "purchased", _("Purchased")
        EXPIRED = "expired", _("Expired")

    offer = models.ForeignKey(BargainOffer, on_delete=models.PROTECT, related_name="bargains", verbose_name=_("offer"))
    customer = models.ForeignKey(
        "tenants.Customer", on_delete=models.PROTECT, related_name="+", verbose_name=_("customer")
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE, verbose_name=_("status"))
    start_price = models.PositiveIntegerField(verbose_name=_("start price"))
    floor_price = models.PositiveIntegerField(verbose_name=_("floor price"))
    plan = models.JSONField(help_text=_("The cuts in fen, largest first."), verbose_name=_("plan"))
    slots_used = models.PositiveSmallIntegerField(default=0, verbose_name=_("slots used"))
    cut_total = models.PositiveIntegerField(default=0, verbose_name=_("cut total"))
    order = models.OneToOneField(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="bargain", verbose_name=_("order")
    )
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("bargain")
        verbose_name_plural = _("bargains")
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

    bargain = models.ForeignKey(Bargain, on_delete=models.CASCADE, related_name="helps", verbose_name=_("bargain"))
    helper = models.ForeignKey("tenants.Customer", on_delete=models.PROTECT, related_name="+", verbose_name=_("helper"))
    amount = models.PositiveIntegerField(verbose_name=_("amount"))
    day = models.DateField(help_text=_("In the brand's timezone."), verbose_name=_("day"))
    daily_slot = models.PositiveSmallIntegerField(verbose_name=_("daily slot"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("bargain help")
        verbose_name_plural = _("bargain helps")
        constraints = [
            models.UniqueConstraint(fields=["brand", "bargain", "helper"], name="bargainhelp_once_per_bargain"),
            models.UniqueConstraint(fields=["brand", "helper", "day", "daily_slot"], name="bargainhelp_daily_slot"),
        ]
        ordering = ["id"]
