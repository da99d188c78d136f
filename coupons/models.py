"""Coupons (优惠券): the brand's templates, the coupons customers hold, live-room drops, in-store
redemptions (核销) and the referral programme (裂变).

The database holds every limit: a template's ``issued`` and a drop's ``claimed`` only grow by
conditional UPDATEs that keep them within their quantity; a customer's ``CouponHolding`` only
within the template's per-customer limit; a coupon has at most one redemption and one live use
per order; an invitee has one inviter.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from tenants.scoping import BrandScopedModel

MAX_FEN = 2_000_000_000
MAX_QUANTITY = 10_000_000
MAX_CATEGORIES = 50


class CouponTemplate(BrandScopedModel):
    """What a coupon is worth, to whom, where and for how long; how many exist and per customer."""

    class Kind(models.TextChoices):
        AMOUNT_OFF = "amount_off", "amount off"
        PERCENT_OFF = "percent_off", "percent off, with a cap"
        THRESHOLD = "threshold", "spend X, get Y off"

    class Validity(models.TextChoices):
        FIXED = "fixed", "a fixed window"
        DAYS_AFTER_CLAIM = "days_after_claim", "N days from claim"

    class Scope(models.TextChoices):
        ALL = "all", "all products"
        PRODUCTS = "products", "listed products"
        CATEGORIES = "categories", "listed categories"

    class Channel(models.TextChoices):
        ONLINE = "online"
        IN_STORE = "in_store", "in store"
        BOTH = "both"

    class Audience(models.TextChoices):
        EVERYONE = "everyone"
        NEW_CUSTOMERS = "new_customers", "new customers (no paid order yet)"
        MEMBERS = "members"

    class Status(models.TextChoices):
        ACTIVE = "active"
        RETIRED = "retired", "retired (no more issued; issued coupons stay valid)"

    name = models.CharField(max_length=60)
    description = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount_off = models.PositiveIntegerField(
        default=0, validators=[MaxValueValidator(MAX_FEN)], help_text="Fen off (amount off, threshold)."
    )
    percent_off = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(99)], help_text="Percent off (percent off): 1–99."
    )
    max_discount = models.PositiveIntegerField(
        default=0, validators=[MaxValueValidator(MAX_FEN)], help_text="Fen: the cap of a percent-off coupon."
    )
    min_spend = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(MAX_FEN)],
        help_text="Fen the eligible items must reach (X of a threshold coupon); 0: no minimum.",
    )
    validity = models.CharField(max_length=20, choices=Validity.choices, default=Validity.FIXED)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    valid_days = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(3650)], help_text="For N days from claim."
    )
    total_quantity = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_QUANTITY)],
        help_text="Empty: unlimited.",
    )
    issued = models.PositiveIntegerField(default=0, editable=False)
    per_customer_limit = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.ALL)
    products = models.ManyToManyField("commerce.Product", blank=True, related_name="+")
    categories = models.JSONField(default=list, blank=True, help_text="Product categories, for that scope.")
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.BOTH)
    audience = models.CharField(max_length=16, choices=Audience.choices, default=Audience.EVERYONE)
    store = models.ForeignKey(
        "guides.Store",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="coupon_templates",
        help_text="Store-exclusive: only this store's guides issue it, and only this store redeems it.",
    )
    claimable = models.BooleanField(default=False, help_text="Customers may claim it in the mini-program.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="coupontemplate_issued_bounds",
                condition=Q(total_quantity__isnull=True) | Q(issued__lte=F("total_quantity")),
            ),
        ]
        indexes = [models.Index(fields=["brand", "status", "-created_at"])]

    def __str__(self):
        return self.name

    def clean(self):
        errors = {}
        if self.kind in (self.Kind.AMOUNT_OFF, self.Kind.THRESHOLD) and not self.amount_off:
            errors["amount_off"] = "Required for this kind."
        if self.kind == self.Kind.PERCENT_OFF and not 1 <= self.percent_off <= 99:
            errors["percent_off"] = "1 to 99 for a percent-off coupon."
        if self.kind == self.Kind.THRESHOLD and self.min_spend <= self.amount_off:
            errors["min_spend"] = "A threshold coupon's spend must be above its amount off."
        if self.validity == self.Validity.FIXED:
            if not (self.valid_from and self.valid_until):
                errors["valid_until"] = "A fixed window needs valid_from and valid_until."
            elif self.valid_until <= self.valid_from:
                errors["valid_until"] = "Must be after valid_from."
        elif not self.valid_days:
            errors["valid_days"] = "How many days a claimed coupon is valid."
        if not isinstance(self.categories, list) or not all(
            isinstance(c, str) and 0 < len(c) <= 50 for c in self.categories
        ):
            errors["categories"] = "A list of category names."
        elif len(self.categories) > MAX_CATEGORIES:
            errors["categories"] = f"At most {MAX_CATEGORIES} categories."
        elif self.scope == self.Scope.CATEGORIES and not self.categories:
            errors["categories"] = "List at least one category."
        if errors:
            raise ValidationError(errors)

    @property
    def remaining(self) -> int | None:
        return None if self.total_quantity is None else self.total_quantity - self.issued

    def discount_for(self, eligible_amount: int) -> int:
        """Fen off ``eligible_amount`` (the minimum spend already met), never more than it."""
        if self.kind == self.Kind.PERCENT_OFF:
            off = eligible_amount * self.percent_off // 100
            if self.max_discount:
                off = min(off, self.max_discount)
        else:
            off = self.amount_off
        return min(off, eligible_amount)


class CouponHolding(BrandScopedModel):
    """How many coupons of a template one customer was given: the per-customer limit's counter."""

    template = models.ForeignKey(CouponTemplate, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("tenants.Customer", on_delete=models.CASCADE, related_name="+")
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["brand", "template", "customer"], name="couponholding_uniq"),
        ]


class CouponDrop(BrandScopedModel):
    """A template dropped into a live room: ``quantity`` coupons, first come first served."""

    room = models.ForeignKey("livestream.LiveRoom", on_delete=models.CASCADE, related_name="coupon_drops")
    template = models.ForeignKey(CouponTemplate, on_delete=models.PROTECT, related_name="drops")
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1), MaxValueValidator(MAX_QUANTITY)])
    claimed = models.PositiveIntegerField(default=0)
    dropped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(name="coupondrop_claimed_bounds", condition=Q(claimed__lte=F("quantity"))),
        ]
        indexes = [models.Index(fields=["brand", "room", "-created_at"])]

    @property
    def remaining(self) -> int:
        return self.quantity - self.claimed


class Coupon(BrandScopedModel):
    """One customer's coupon. ``available`` → ``locked`` (to an unpaid order) → ``used`` (paid, or
    redeemed in store); a lock is released back to ``available`` when the order is cancelled or
    expires. Past ``valid_until`` an unused coupon is expired (a state read from the time)."""

    class Status(models.TextChoices):
        AVAILABLE = "available"
        LOCKED = "locked", "locked to an unpaid order"
        USED = "used"

    class Source(models.TextChoices):
        CLAIM = "claim", "claimed in the mini-program"
        DROP = "drop", "claimed from a live-room drop"
        GUIDE = "guide", "issued by a guide"
        REWARD = "reward", "referral reward"
        FOLLOW_UP = "follow_up", "a post-show follow-up"

    template = models.ForeignKey(CouponTemplate, on_delete=models.PROTECT, related_name="coupons")
    customer = models.ForeignKey("tenants.Customer", on_delete=models.CASCADE, related_name="coupons")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.AVAILABLE)
    source = models.CharField(max_length=16, choices=Source.choices)
    drop = models.ForeignKey(CouponDrop, null=True, blank=True, on_delete=models.SET_NULL, related_name="coupons")
    issued_by = models.ForeignKey(
        "guides.Guide", null=True, blank=True, on_delete=models.SET_NULL, related_name="issued_coupons"
    )
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "drop", "customer"], condition=Q(drop__isnull=False), name="coupon_one_per_drop"
            ),
        ]
        indexes = [
            models.Index(fields=["brand", "customer", "status", "valid_until"]),
            models.Index(fields=["brand", "template", "-created_at"]),
        ]

    def __str__(self):
        return f"{self.template_id}#{self.pk}"


class CouponUse(BrandScopedModel):
    """A coupon applied to an order: the lock while it awaits payment, then the record of its use.
    ``released_at`` is set (once) when the order was cancelled or expired."""

    coupon = models.ForeignKey(Coupon, on_delete=models.CASCADE, related_name="uses")
    order = models.OneToOneField("commerce.Order", on_delete=models.CASCADE, related_name="coupon_use")
    discount = models.PositiveIntegerField(help_text="Fen.")
    created_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # One live lock per coupon: a second order cannot hold it at the same time.
            models.UniqueConstraint(
                fields=["brand", "coupon"], condition=Q(released_at__isnull=True), name="couponuse_one_live"
            ),
        ]


class Redemption(BrandScopedModel):
    """A coupon used in a store (核销): which store and which guide scanned it."""

    coupon = models.OneToOneField(Coupon, on_delete=models.CASCADE, related_name="redemption")
    store = models.ForeignKey("guides.Store", on_delete=models.PROTECT, related_name="coupon_redemptions")
    guide = models.ForeignKey("guides.Guide", on_delete=models.PROTECT, related_name="coupon_redemptions")
    redeemed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["brand", "store", "-redeemed_at"]),
            models.Index(fields=["brand", "guide", "-redeemed_at"]),
        ]


class ReferralProgram(BrandScopedModel):
    """The brand's referral programme: the coupon an inviter gets for each new customer."""

    reward_template = models.ForeignKey(
        CouponTemplate, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    is_active = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand"], name="referralprogram_one_per_brand")]


class InviteCode(BrandScopedModel):
    """A customer's invite code: what their invite link carries."""

    customer = models.OneToOneField("tenants.Customer", on_delete=models.CASCADE, related_name="invite_code")
    code = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "code"], name="invitecode_brand_code_uniq")]


class Referral(BrandScopedModel):
    """A new customer who came through an invite; rewarded once, when their first order is paid."""

    inviter = models.ForeignKey("tenants.Customer", on_delete=models.CASCADE, related_name="referrals")
    invitee = models.OneToOneField("tenants.Customer", on_delete=models.CASCADE, related_name="referred_by")
    accepted_at = models.DateTimeField(auto_now_add=True)
    rewarded_at = models.DateTimeField(null=True, blank=True)
    reward_coupon = models.ForeignKey(Coupon, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["brand", "inviter", "-accepted_at"])]
