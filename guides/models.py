from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models

from tenants.scoping import BrandScopedModel


class Store(BrandScopedModel):
    """An offline store (门店) of the brand."""

    class Status(models.TextChoices):
        OPEN = "open"
        CLOSED = "closed"

    code = models.CharField(max_length=32)
    name = models.CharField(max_length=100)
    address = models.CharField(max_length=200, blank=True)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="managed_stores"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "code"], name="store_brand_code_uniq")]
        ordering = ["code"]

    def __str__(self):
        return f"{self.name} ({self.code})"


class Guide(BrandScopedModel):
    """A promoter: a store guide (导购), agent, employee or customer sharer (KOC)."""

    class Kind(models.TextChoices):
        STORE_GUIDE = "store_guide"
        AGENT = "agent"
        EMPLOYEE = "employee"
        KOC = "koc"

    class Status(models.TextChoices):
        ACTIVE = "active"
        LEFT = "left"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="guide_profiles")
    name = models.CharField(max_length=64)
    store = models.ForeignKey(Store, null=True, blank=True, on_delete=models.PROTECT, related_name="guides")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.STORE_GUIDE)
    leader = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="team", help_text="Team leader (团队长)."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    openid = models.CharField(
        max_length=64, blank=True, help_text="The guide's openid in the brand's mini-program: commission is paid there."
    )
    joined_at = models.DateTimeField(auto_now_add=True)
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "user"], name="guide_brand_user_uniq")]
        indexes = [models.Index(fields=["brand", "store"])]

    def __str__(self):
        return self.name


class Binding(BrandScopedModel):
    """A customer's binding (绑定) to the guide, or only the store, that brought them.

    One row per customer: the brand's binding rule (``Brand.binding_mode`` and
    ``binding_protection_days``) decides when another share takes the customer over.
    """

    customer = models.OneToOneField("tenants.Customer", on_delete=models.CASCADE, related_name="binding")
    guide = models.ForeignKey(Guide, null=True, blank=True, on_delete=models.SET_NULL, related_name="bindings")
    store = models.ForeignKey(Store, null=True, blank=True, on_delete=models.SET_NULL, related_name="bindings")
    share = models.ForeignKey("ShareCode", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    bound_at = models.DateTimeField()
    protected_until = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["brand", "guide", "-bound_at"]), models.Index(fields=["brand", "store"])]

    def __str__(self):
        return f"{self.customer_id} → {self.guide or self.store}"


class ShareCode(BrandScopedModel):
    """A share (专属海报/小程序码): an unguessable ``scene`` that maps to a guide (or the brand) and a target."""

    class Target(models.TextChoices):
        ROOM = "room"
        PRODUCT = "product"
        STORE = "store"

    scene = models.CharField(max_length=32, help_text="≤ 32 visible characters, unguessable.")
    guide = models.ForeignKey(Guide, null=True, blank=True, on_delete=models.CASCADE, related_name="shares")
    target = models.CharField(max_length=8, choices=Target.choices)
    room = models.ForeignKey("livestream.LiveRoom", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    product = models.ForeignKey("commerce.Product", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    store = models.ForeignKey(Store, null=True, blank=True, on_delete=models.CASCADE, related_name="shares")
    title = models.CharField(max_length=100)
    page = models.CharField(max_length=128, help_text="The mini-program page the code opens.")
    code_png = models.BinaryField(editable=False)
    poster_png = models.BinaryField(editable=False)
    visits = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["brand", "scene"], name="sharecode_brand_scene_uniq"),
            models.CheckConstraint(
                name="sharecode_target_shape",
                condition=(
                    models.Q(target="room", room__isnull=False, product__isnull=True, store__isnull=True)
                    | models.Q(target="product", room__isnull=True, product__isnull=False, store__isnull=True)
                    | models.Q(target="store", room__isnull=True, product__isnull=True, store__isnull=False)
                ),
            ),
        ]
        indexes = [models.Index(fields=["brand", "guide", "-created_at"])]
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.scene} ({self.target})"

    @property
    def target_id(self) -> int:
        return self.room_id or self.product_id or self.store_id


class Visit(BrandScopedModel):
    """A customer entering the mini-program through a share."""

    customer = models.ForeignKey("tenants.Customer", on_delete=models.CASCADE, related_name="+")
    share = models.ForeignKey(ShareCode, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    guide = models.ForeignKey(Guide, null=True, blank=True, on_delete=models.SET_NULL, related_name="visits")
    scene = models.CharField(max_length=32)
    source = models.CharField(max_length=64, blank=True, help_text="Where the code was opened (poster, chat…).")
    bound = models.BooleanField(default=False, help_text="This visit bound the customer to the share's guide.")
    visited_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["brand", "guide", "-visited_at"]), models.Index(fields=["brand", "customer"])]


# --- commission ---------------------------------------------------------------------------------

MAX_RATE_BP = 10_000  # rates are basis points: 1,000 bp = 10 %


def _rate_field(**kwargs):
    return models.PositiveIntegerField(validators=[MaxValueValidator(MAX_RATE_BP)], **kwargs)


class CommissionPolicy(BrandScopedModel):
    """The brand's default commission rate and the team leader's override on their team's orders."""

    default_rate_bp = _rate_field(default=0, help_text="Basis points of the amount paid per line (500 = 5 %).")
    leader_rate_bp = _rate_field(default=0, help_text="A team leader's override on their team's orders, bp.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand"], name="commissionpolicy_brand_uniq")]
        verbose_name_plural = "commission policies"

    def __str__(self):
        return f"{self.default_rate_bp} bp (leader {self.leader_rate_bp} bp)"


class CommissionRule(BrandScopedModel):
    """An override of the default rate: for a product or a category, optionally only for one promoter kind.

    The most specific rule wins: product+kind, product, category+kind, category, kind alone.
    """

    product = models.ForeignKey("commerce.Product", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    category = models.CharField(max_length=50, blank=True)
    guide_kind = models.CharField(max_length=16, choices=Guide.Kind.choices, blank=True)
    rate_bp = _rate_field()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="commissionrule_one_target",
                condition=~(models.Q(product__isnull=False) & ~models.Q(category=""))
                & (models.Q(product__isnull=False) | ~models.Q(category="") | ~models.Q(guide_kind="")),
                violation_error_message="A rule names a product or a category (not both), or only a promoter kind.",
            ),
            models.UniqueConstraint(
                fields=["brand", "product", "guide_kind"],
                condition=models.Q(product__isnull=False),
                name="commissionrule_product_uniq",
            ),
            models.UniqueConstraint(
                fields=["brand", "category", "guide_kind"],
                condition=models.Q(product__isnull=True),
                name="commissionrule_category_uniq",
            ),
        ]
        ordering = ["id"]

    def __str__(self):
        target = f"product {self.product_id}" if self.product_id else (self.category or "any product")
        return f"{target} · {self.guide_kind or 'any kind'} · {self.rate_bp} bp"


class Settlement(BrandScopedModel):
    """One payout to a guide of everything payable, through the transfer client."""

    class Status(models.TextChoices):
        PROCESSING = "processing"
        PAID = "paid"
        FAILED = "failed"

    guide = models.ForeignKey(Guide, on_delete=models.PROTECT, related_name="settlements")
    amount = models.PositiveIntegerField(help_text="Fen.")
    entry_count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROCESSING)
    out_bill_no = models.CharField(max_length=32, unique=True)
    transfer_bill_no = models.CharField(max_length=64, blank=True)
    transfer_state = models.CharField(max_length=32, blank=True)
    failure_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["brand", "guide", "-created_at"]), models.Index(fields=["brand", "status"])]
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.out_bill_no} · {self.amount} · {self.status}"


class CommissionEntry(BrandScopedModel):
    """One movement of a guide's commission; a balance is a sum of these, never a field edited in place.

    ``accrue`` (an order line was paid), ``reverse`` (part of it was refunded before settlement),
    ``adjust`` (a refund after settlement, or a leaderboard reward: payable at once) and ``settle``
    (the payout, negative). An entry joins a settlement when it is paid out.
    """

    class Kind(models.TextChoices):
        ACCRUE = "accrue"
        REVERSE = "reverse"
        ADJUST = "adjust"
        SETTLE = "settle"

    class Role(models.TextChoices):
        GUIDE = "guide", "the guide who brought the order"
        LEADER = "leader", "the guide's team leader"

    guide = models.ForeignKey(Guide, on_delete=models.PROTECT, related_name="commission_entries")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.GUIDE)
    amount = models.IntegerField(help_text="Fen; negative for reversals, refunds after settlement and payouts.")
    order = models.ForeignKey(
        "commerce.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="commission_entries"
    )
    order_line = models.ForeignKey(
        "commerce.OrderLine", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    base_amount = models.PositiveIntegerField(default=0, help_text="Fen paid for the line.")
    rate_bp = models.PositiveIntegerField(default=0)
    settlement = models.ForeignKey(Settlement, null=True, blank=True, on_delete=models.SET_NULL, related_name="entries")
    leaderboard_entry = models.OneToOneField(
        "LeaderboardEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="reward_entry"
    )
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "order_line", "role"], condition=models.Q(kind="accrue"), name="commission_accrue_once"
            ),
            models.UniqueConstraint(
                fields=["settlement"], condition=models.Q(kind="settle"), name="commission_settle_once"
            ),
        ]
        indexes = [
            models.Index(fields=["brand", "guide", "-created_at"]),
            models.Index(fields=["brand", "guide", "settlement"]),
            models.Index(fields=["brand", "order"]),
        ]
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "commission entries"

    def __str__(self):
        return f"{self.kind} {self.amount} → {self.guide_id}"


# --- the hourly leaderboard (超级带单王) ---------------------------------------------------------


class Campaign(BrandScopedModel):
    """A window during which guides are ranked by paid GMV per hour and the top N of each hour rewarded."""

    name = models.CharField(max_length=100)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    rooms = models.ManyToManyField("livestream.LiveRoom", blank=True, related_name="+", help_text="Empty: every room.")
    rewards = models.JSONField(default=list, help_text="Fen per rank for each hour: [rank 1, rank 2, …] (the top N).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(name="campaign_window", condition=models.Q(ends_at__gt=models.F("starts_at")))
        ]
        indexes = [models.Index(fields=["brand", "-starts_at"])]
        ordering = ["-starts_at", "-id"]

    def __str__(self):
        return self.name

    @property
    def top_n(self) -> int:
        return len(self.rewards)


class LeaderboardHour(BrandScopedModel):
    """An hour of a campaign whose ranking is frozen: one row per (campaign, hour), written once."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="frozen_hours")
    hour_start = models.DateTimeField()
    frozen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "campaign", "hour_start"], name="leaderboardhour_once")]
        ordering = ["-hour_start"]


class LeaderboardEntry(BrandScopedModel):
    """A guide's place in a frozen hour, and the reward it earned."""

    hour = models.ForeignKey(LeaderboardHour, on_delete=models.CASCADE, related_name="entries")
    guide = models.ForeignKey(Guide, on_delete=models.PROTECT, related_name="leaderboard_entries")
    rank = models.PositiveSmallIntegerField()
    gmv = models.IntegerField(help_text="Fen paid in the hour, minus refunds within the hour.")
    orders = models.PositiveIntegerField()
    reward = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["brand", "hour", "guide"], name="leaderboardentry_guide_once"),
            models.UniqueConstraint(fields=["brand", "hour", "rank"], name="leaderboardentry_rank_once"),
        ]
        ordering = ["rank"]
