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
from django.utils.translation import gettext_lazy as _

from tenants.scoping import BrandScopedModel

MAX_FEN = 2_000_000_000
MAX_QUANTITY = 10_000_000
MAX_CATEGORIES = 50


class CouponTemplate(BrandScopedModel):
    """What a coupon is worth, to whom, where and for how long; how many exist and per customer."""

    class Kind(models.TextChoices):
        AMOUNT_OFF = "amount_off", _("amount off")
        PERCENT_OFF = "percent_off", _("percent off, with a cap")
        THRESHOLD = "threshold", _("spend X, get Y off")

    class Validity(models.TextChoices):
        FIXED = "fixed", _("a fixed window")
        DAYS_AFTER_CLAIM = "days_after_claim", _("N days from claim")

    class Scope(models.TextChoices):
        ALL = "all", _("all products")
        PRODUCTS = "products", _("listed products")
        CATEGORIES = "categories", _("listed categories")

    class Channel(models.TextChoices):
        ONLINE = "online", _("Online")
        IN_STORE = "in_store", _("in store")
        BOTH = "both", _("Both")

    class Audience(models.TextChoices):
        EVERYONE = "everyone", _("Everyone")
        NEW_CUSTOMERS = "new_customers", _("new customers (no paid order yet)")
        MEMBERS = "members", _("Members")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        RETIRED = "retired", _("retired (no more issued; issued coupons stay valid)")

    name = models.CharField(max_length=60, verbose_name=_("name"))
    description = models.CharField(max_length=200, blank=True, verbose_name=_("description"))
    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name=_("kind"))
    amount_off = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(MAX_FEN)],
        help_text=_("Fen off (amount off, threshold)."),
        verbose_name=_("amount off"),
    )
    percent_off = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(99)],
        help_text=_("Percent off (percent off): 1–99."),
        verbose_name=_("percent off"),
    )
    max_discount = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(MAX_FEN)],
        help_text=_("Fen: the cap of a percent-off coupon."),
        verbose_name=_("max discount"),
    )
    min_spend = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(MAX_FEN)],
        help_text=_("Fen the eligible items must reach (X of a threshold coupon); 0: no minimum."),
        verbose_name=_("min spend"),
    )
    validity = models.CharField(
        max_length=20, choices=Validity.choices, default=Validity.FIXED, verbose_name=_("validity")
    )
    valid_from = models.DateTimeField(null=True, blank=True, verbose_name=_("valid from"))
    valid_until = models.DateTimeField(null=True, blank=True, verbose_name=_("valid until"))
    valid_days = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(3650)],
        help_text=_("For N days from claim."),
        verbose_name=_("valid days"),
    )
    total_quantity = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_QUANTITY)],
        help_text=_("Empty: unlimited."),
        verbose_name=_("total quantity"),
    )
    issued = models.PositiveIntegerField(default=0, editable=False, verbose_name=_("issued"))
    per_customer_limit = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(1000)], verbose_name=_("per customer limit")
    )
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.ALL, verbose_name=_("scope"))
    products = models.ManyToManyField("commerce.Product", blank=True, related_name="+", verbose_name=_("products"))
    categories = models.JSONField(
        default=list, blank=True, help_text=_("Product categories, for that scope."), verbose_name=_("categories")
    )
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.BOTH, verbose_name=_("channel"))
    audience = models.CharField(
        max_length=16, choices=Audience.choices, default=Audience.EVERYONE, verbose_name=_("audience")
    )
    store = models.ForeignKey(
        "guides.Store",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="coupon_templates",
        help_text=_("Store-exclusive: only this store's guides issue it, and only this store redeems it."),
        verbose_name=_("store"),
    )
    claimable = models.BooleanField(
        default=False, help_text=_("Customers may claim it in the mini-program."), verbose_name=_("claimable")
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE, verbose_name=_("status"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("coupon template")
        verbose_name_plural = _("coupon templates")
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

    template = models.ForeignKey(CouponTemplate, on_delete=models.CASCADE, related_name="+", verbose_name=_("template"))
    customer = models.ForeignKey(
        "tenants.Customer", on_delete=models.CASCADE, related_name="+", verbose_name=_("customer")
    )
    count = models.PositiveIntegerField(default=0, verbose_name=_("count"))

    class Meta:
        verbose_name = _("coupon holding")
        verbose_name_plural = _("coupon holdings")
        constraints = [
            models.UniqueConstraint(fields=["brand", "template", "customer"], name="couponholding_uniq"),
        ]


class CouponDrop(BrandScopedModel):
    """A template dropped into a live room: ``quantity`` coupons, first come first served."""

    room = models.ForeignKey(
        "livestream.LiveRoom", on_delete=models.CASCADE, related_name="coupon_drops", verbose_name=_("room")
    )
    template = models.ForeignKey(
        CouponTemplate, on_delete=models.PROTECT, related_name="drops", verbose_name=_("template")
    )
    quantity = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_QUANTITY)], verbose_name=_("quantity")
    )
    claimed = models.PositiveIntegerField(default=0, verbose_name=_("claimed"))
    dropped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("dropped by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("coupon drop")
        verbose_name_plural = _("coupon drops")
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
        AVAILABLE = "available", _("Available")
        LOCKED = "locked", _("locked to an unpaid order")
        USED = "used", _("Used")

    class Source(models.TextChoices):
        CLAIM = "claim", _("claimed in the mini-program")
        DROP = "drop", _("claimed from a live-room drop")
        GUIDE = "guide", _("issued by a guide")
        REWARD = "reward", _("referral reward")
        FOLLOW_UP = "follow_up", _("a post-show follow-up")

    template = models.ForeignKey(
        CouponTemplate, on_delete=models.PROTECT, related_name="coupons", verbose_name=_("template")
    )
    customer = models.ForeignKey(
        "tenants.Customer", on_delete=models.CASCADE, related_name="coupons", verbose_name=_("customer")
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.AVAILABLE, verbose_name=_("status"))
    source = models.CharField(max_length=16, choices=Source.choices, verbose_name=_("source"))
    drop = models.ForeignKey(
        CouponDrop, null=True, blank=True, on_delete=models.SET_NULL, related_name="coupons", verbose_name=_("drop")
    )
    issued_by = models.ForeignKey(
        "guides.Guide",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="issued_coupons",
        verbose_name=_("issued by"),
    )
    valid_from = models.DateTimeField(verbose_name=_("valid from"))
    valid_until = models.DateTimeField(verbose_name=_("valid until"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("used at"))

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
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

    coupon = models.ForeignKey(Coupon, on_delete=models.CASCADE, related_name="uses", verbose_name=_("coupon"))
    order = models.OneToOneField(
        "commerce.Order", on_delete=models.CASCADE, related_name="coupon_use", verbose_name=_("order")
    )
    discount = models.PositiveIntegerField(help_text=_("Fen."), verbose_name=_("discount"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    released_at = models.DateTimeField(null=True, blank=True, verbose_name=_("released at"))

    class Meta:
        verbose_name = _("coupon use")
        verbose_name_plural = _("coupon uses")
        constraints = [
            # One live lock per coupon: a second order cannot hold it at the same time.
            models.UniqueConstraint(
                fields=["brand", "coupon"], condition=Q(released_at__isnull=True), name="couponuse_one_live"
            ),
        ]


class Redemption(BrandScopedModel):
    """A coupon used in a store (核销): which store and which guide scanned it."""

    coupon = models.OneToOneField(Coupon, on_delete=models.CASCADE, related_name="redemption", verbose_name=_("coupon"))
    store = models.ForeignKey(
        "guides.Store", on_delete=models.PROTECT, related_name="coupon_redemptions", verbose_name=_("store")
    )
    guide = models.ForeignKey(
        "guides.Guide", on_delete=models.PROTECT, related_name="coupon_redemptions", verbose_name=_("guide")
    )
    redeemed_at = models.DateTimeField(auto_now_add=True, verbose_name=_("redeemed at"))

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        indexes = [
            models.Index(fields=["brand", "store", "-redeemed_at"]),
            models.Index(fields=["brand", "guide", "-redeemed_at"]),
        ]


class ReferralProgram(BrandScopedModel):
    """The brand's referral programme: the coupon an inviter gets for each new customer."""

    reward_template = models.ForeignKey(
        CouponTemplate,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("reward template"),
    )
    is_active = models.BooleanField(default=False, verbose_name=_("is active"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("referral program")
        verbose_name_plural = _("referral programs")
        constraints = [models.UniqueConstraint(fields=["brand"], name="referralprogram_one_per_brand")]


class InviteCode(BrandScopedModel):
    """A customer's invite code: what their invite link carries."""

    customer = models.OneToOneField(
        "tenants.Customer", on_delete=models.CASCADE, related_name="invite_code", verbose_name=_("customer")
    )
    code = models.CharField(max_length=16, verbose_name=_("code"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("invite code")
        verbose_name_plural = _("invite codes")
        constraints = [models.UniqueConstraint(fields=["brand", "code"], name="invitecode_brand_code_uniq")]


class Referral(BrandScopedModel):
    """A new customer who came through an invite; rewarded once, when their first order is paid."""

    inviter = models.ForeignKey(
        "tenants.Customer", on_delete=models.CASCADE, related_name="referrals", verbose_name=_("inviter")
    )
    invitee = models.OneToOneField(
        "tenants.Customer", on_delete=models.CASCADE, related_name="referred_by", verbose_name=_("invitee")
    )
    accepted_at = models.DateTimeField(auto_now_add=True, verbose_name=_("accepted at"))
    rewarded_at = models.DateTimeField(null=True, blank=True, verbose_name=_("rewarded at"))
    reward_coupon = models.ForeignKey(
        Coupon, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("reward coupon")
    )

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        indexes = [models.Index(fields=["brand", "inviter", "-accepted_at"])]
