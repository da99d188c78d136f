from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from tenants.scoping import BrandScopedModel


class Store(BrandScopedModel):
    """An offline store (门店) of the brand."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    code = models.CharField(max_length=32, verbose_name=_("code"))
    name = models.CharField(max_length=100, verbose_name=_("name"))
    address = models.CharField(max_length=200, blank=True, verbose_name=_("address"))
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True, verbose_name=_("latitude"))
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True, verbose_name=_("longitude"))
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_stores",
        verbose_name=_("manager"),
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, verbose_name=_("status"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        constraints = [models.UniqueConstraint(fields=["brand", "code"], name="store_brand_code_uniq")]
        ordering = ["code"]

    def __str__(self):
        return f"{self.name} ({self.code})"


class Guide(BrandScopedModel):
    """A promoter: a store guide (导购), agent, employee or customer sharer (KOC)."""

    class Kind(models.TextChoices):
        STORE_GUIDE = "store_guide", _("Store Guide")
        AGENT = "agent", _("Agent")
        EMPLOYEE = "employee", _("Employee")
        KOC = "koc", _("Koc")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        LEFT = "left", _("Left")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="guide_profiles", verbose_name=_("user")
    )
    name = models.CharField(max_length=64, verbose_name=_("name"))
    store = models.ForeignKey(
        Store, null=True, blank=True, on_delete=models.PROTECT, related_name="guides", verbose_name=_("store")
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.STORE_GUIDE, verbose_name=_("kind"))
    leader = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="team",
        help_text=_("Team leader (团队长)."),
        verbose_name=_("leader"),
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE, verbose_name=_("status"))
    openid = models.CharField(
        max_length=64,
        blank=True,
        help_text=_("The guide's openid in the brand's mini-program: commission is paid there."),
        verbose_name=_("openid"),
    )
    joined_at = models.DateTimeField(auto_now_add=True, verbose_name=_("joined at"))
    left_at = models.DateTimeField(null=True, blank=True, verbose_name=_("left at"))

    class Meta:
        verbose_name = _("guide")
        verbose_name_plural = _("guides")
        constraints = [models.UniqueConstraint(fields=["brand", "user"], name="guide_brand_user_uniq")]
        indexes = [models.Index(fields=["brand", "store"])]

    def __str__(self):
        return self.name


class Binding(BrandScopedModel):
    """A customer's binding (绑定) to the guide, or only the store, that brought them.

    One row per customer: the brand's binding rule (``Brand.binding_mode`` and
    ``binding_protection_days``) decides when another share takes the customer over.
    """

    customer = models.OneToOneField(
        "tenants.Customer", on_delete=models.CASCADE, related_name="binding", verbose_name=_("customer")
    )
    guide = models.ForeignKey(
        Guide, null=True, blank=True, on_delete=models.SET_NULL, related_name="bindings", verbose_name=_("guide")
    )
    store = models.ForeignKey(
        Store, null=True, blank=True, on_delete=models.SET_NULL, related_name="bindings", verbose_name=_("store")
    )
    share = models.ForeignKey(
        "ShareCode", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("share")
    )
    bound_at = models.DateTimeField(verbose_name=_("bound at"))
    protected_until = models.DateTimeField(verbose_name=_("protected until"))

    class Meta:
        verbose_name = _("binding")
        verbose_name_plural = _("bindings")
        indexes = [models.Index(fields=["brand", "guide", "-bound_at"]), models.Index(fields=["brand", "store"])]

    def __str__(self):
        return f"{self.customer_id} → {self.guide or self.store}"


class ShareCode(BrandScopedModel):
    """A share (专属海报/小程序码): an unguessable ``scene`` that maps to a guide (or the brand) and a target."""

    class Target(models.TextChoices):
        ROOM = "room", _("Room")
        PRODUCT = "product", _("Product")
        STORE = "store", _("Store")

    scene = models.CharField(
        max_length=32, help_text=_("≤ 32 visible characters, unguessable."), verbose_name=_("scene")
    )
    guide = models.ForeignKey(
        Guide, null=True, blank=True, on_delete=models.CASCADE, related_name="shares", verbose_name=_("guide")
    )
    target = models.CharField(max_length=8, choices=Target.choices, verbose_name=_("target"))
    room = models.ForeignKey(
        "livestream.LiveRoom", null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("room")
    )
    product = models.ForeignKey(
        "commerce.Product", null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("product")
    )
    store = models.ForeignKey(
        Store, null=True, blank=True, on_delete=models.CASCADE, related_name="shares", verbose_name=_("store")
    )
    title = models.CharField(max_length=100, verbose_name=_("title"))
    page = models.CharField(
        max_length=128, help_text=_("The mini-program page the code opens."), verbose_name=_("page")
    )
    code_png = models.BinaryField(editable=False, verbose_name=_("code png"))
    poster_png = models.BinaryField(editable=False, verbose_name=_("poster png"))
    visits = models.PositiveIntegerField(default=0, verbose_name=_("visits"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("share code")
        verbose_name_plural = _("share codes")
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

    customer = models.ForeignKey(
        "tenants.Customer", on_delete=models.CASCADE, related_name="+", verbose_name=_("customer")
    )
    share = models.ForeignKey(
        ShareCode, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("share")
    )
    guide = models.ForeignKey(
        Guide, null=True, blank=True, on_delete=models.SET_NULL, related_name="visits", verbose_name=_("guide")
    )
    scene = models.CharField(max_length=32, verbose_name=_("scene"))
    source = models.CharField(
        max_length=64, blank=True, help_text=_("Where the code was opened (poster, chat…)."), verbose_name=_("source")
    )
    bound = models.BooleanField(
        default=False, help_text=_("This visit bound the customer to the share's guide."), verbose_name=_("bound")
    )
    visited_at = models.DateTimeField(auto_now_add=True, verbose_name=_("visited at"))

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        indexes = [models.Index(fields=["brand", "guide", "-visited_at"]), models.Index(fields=["brand", "customer"])]


# --- commission ---------------------------------------------------------------------------------

MAX_RATE_BP = 10_000  # rates are basis points: 1,000 bp = 10 %


def _rate_field(**kwargs):
    return models.PositiveIntegerField(validators=[MaxValueValidator(MAX_RATE_BP)], **kwargs)


class CommissionPolicy(BrandScopedModel):
    """The brand's default commission rate and the team leader's override on their team's orders."""

    default_rate_bp = _rate_field(
        default=0,
        help_text=_("Basis points of the amount paid per line (500 = 5 %)."),
        verbose_name=_("default rate bp"),
    )
    leader_rate_bp = _rate_field(
        default=0, help_text=_("A team leader's override on their team's orders, bp."), verbose_name=_("leader rate bp")
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("commission policy")
        constraints = [models.UniqueConstraint(fields=["brand"], name="commissionpolicy_brand_uniq")]
        verbose_name_plural = _("commission policies")

    def __str__(self):
        return f"{self.default_rate_bp} bp (leader {self.leader_rate_bp} bp)"


class CommissionRule(BrandScopedModel):
    """An override of the default rate: for a product or a category, optionally only for one promoter kind.

    The most specific rule wins: product+kind, product, category+kind, category, kind alone.
    """

    product = models.ForeignKey(
        "commerce.Product", null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("product")
    )
    category = models.CharField(max_length=50, blank=True, verbose_name=_("category"))
    guide_kind = models.CharField(max_length=16, choices=Guide.Kind.choices, blank=True, verbose_name=_("guide kind"))
    rate_bp = _rate_field(verbose_name=_("rate bp"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("commission rule")
        verbose_name_plural = _("commission rules")
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
        PROCESSING = "processing", _("Processing")
        PAID = "paid", _("Paid")
        FAILED = "failed", _("Failed")

    guide = models.ForeignKey(Guide, on_delete=models.PROTECT, related_name="settlements", verbose_name=_("guide"))
    amount = models.PositiveIntegerField(help_text=_("Fen."), verbose_name=_("amount"))
    entry_count = models.PositiveIntegerField(default=0, verbose_name=_("entry count"))
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PROCESSING, verbose_name=_("status")
    )
    out_bill_no = models.CharField(max_length=32, unique=True, verbose_name=_("out bill no"))
    transfer_bill_no = models.CharField(max_length=64, blank=True, verbose_name=_("transfer bill no"))
    transfer_state = models.CharField(max_length=32, blank=True, verbose_name=_("transfer state"))
    failure_reason = models.CharField(max_length=200, blank=True, verbose_name=_("failure reason"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))

    class Meta:
        verbose_name = _("settlement")
        verbose_name_plural = _("settlements")
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
        ACCRUE = "accrue", _("Accrue")
        REVERSE = "reverse", _("Reverse")
        ADJUST = "adjust", _("Adjust")
        SETTLE = "settle", _("Settle")

    class Role(models.TextChoices):
        GUIDE = "guide", _("the guide who brought the order")
        LEADER = "leader", _("the guide's team leader")

    guide = models.ForeignKey(
        Guide, on_delete=models.PROTECT, related_name="commission_entries", verbose_name=_("guide")
    )
    kind = models.CharField(max_length=8, choices=Kind.choices, verbose_name=_("kind"))
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.GUIDE, verbose_name=_("role"))
    amount = models.IntegerField(
        help_text=_("Fen; negative for reversals, refunds after settlement and payouts."), verbose_name=_("amount")
    )
    order = models.ForeignKey(
        "commerce.Order",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="commission_entries",
        verbose_name=_("order"),
    )
    order_line = models.ForeignKey(
        "commerce.OrderLine",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("order line"),
    )
    base_amount = models.PositiveIntegerField(
        default=0, help_text=_("Fen paid for the line."), verbose_name=_("base amount")
    )
    rate_bp = models.PositiveIntegerField(default=0, verbose_name=_("rate bp"))
    settlement = models.ForeignKey(
        Settlement,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="entries",
        verbose_name=_("settlement"),
    )
    leaderboard_entry = models.OneToOneField(
        "LeaderboardEntry",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reward_entry",
        verbose_name=_("leaderboard entry"),
    )
    note = models.CharField(max_length=200, blank=True, verbose_name=_("note"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("commission entry")
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
        verbose_name_plural = _("commission entries")

    def __str__(self):
        return f"{self.kind} {self.amount} → {self.guide_id}"


# --- the hourly leaderboard (超级带单王) ---------------------------------------------------------


class Campaign(BrandScopedModel):
    """A window during which guides are ranked by paid GMV per hour and the top N of each hour rewarded."""

    name = models.CharField(max_length=100, verbose_name=_("name"))
    starts_at = models.DateTimeField(verbose_name=_("starts at"))
    ends_at = models.DateTimeField(verbose_name=_("ends at"))
    rooms = models.ManyToManyField(
        "livestream.LiveRoom", blank=True, related_name="+", help_text=_("Empty: every room."), verbose_name=_("rooms")
    )
    rewards = models.JSONField(
        default=list,
        help_text=_("Fen per rank for each hour: [rank 1, rank 2, …] (the top N)."),
        verbose_name=_("rewards"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
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

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="frozen_hours", verbose_name=_("campaign")
    )
    hour_start = models.DateTimeField(verbose_name=_("hour start"))
    frozen_at = models.DateTimeField(auto_now_add=True, verbose_name=_("frozen at"))

    class Meta:
        verbose_name = _("leaderboard hour")
        verbose_name_plural = _("leaderboard hours")
        constraints = [models.UniqueConstraint(fields=["brand", "campaign", "hour_start"], name="leaderboardhour_once")]
        ordering = ["-hour_start"]


class LeaderboardEntry(BrandScopedModel):
    """A guide's place in a frozen hour, and the reward it earned."""

    hour = models.ForeignKey(LeaderboardHour, on_delete=models.CASCADE, related_name="entries", verbose_name=_("hour"))
    guide = models.ForeignKey(
        Guide, on_delete=models.PROTECT, related_name="leaderboard_entries", verbose_name=_("guide")
    )
    rank = models.PositiveSmallIntegerField(verbose_name=_("rank"))
    gmv = models.IntegerField(
        help_text=_("Fen paid in the hour, minus refunds within the hour."), verbose_name=_("gmv")
    )
    orders = models.PositiveIntegerField(verbose_name=_("orders"))
    reward = models.PositiveIntegerField(default=0, verbose_name=_("reward"))

    class Meta:
        verbose_name = _("leaderboard entry")
        verbose_name_plural = _("leaderboard entries")
        constraints = [
            models.UniqueConstraint(fields=["brand", "hour", "guide"], name="leaderboardentry_guide_once"),
            models.UniqueConstraint(fields=["brand", "hour", "rank"], name="leaderboardentry_rank_once"),
        ]
        ordering = ["rank"]
