import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from tenants.scoping import BrandScopedModel

appid_validator = RegexValidator(r"^wx[0-9a-zA-Z]{6,30}$", "A mini-program appid looks like wx0123456789abcdef.")


def validate_timezone(value):
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone.")


class Brand(models.Model):
    """The tenant: one brand with its own mini-program. Platform-owned, belongs to no brand."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        SUSPENDED = "suspended"

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    appid = models.CharField("mini-program appid", max_length=32, unique=True, validators=[appid_validator])
    app_secret = models.CharField(
        "mini-program AppSecret", max_length=64, blank=True, help_text="Needed by the real WeChat client."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    suspended_reason = models.CharField(max_length=200, blank=True)
    timezone = models.CharField(max_length=64, default="Asia/Shanghai", validators=[validate_timezone])
    created_at = models.DateTimeField(auto_now_add=True)

    # Per-brand settings. Each is read by the one service that applies it.
    max_live_rooms = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(100)], help_text="Rooms live at the same time."
    )
    allow_anonymous_viewers = models.BooleanField(default=True, help_text="Viewers may watch before logging in.")
    reminder_lead_minutes = models.PositiveSmallIntegerField(
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
        help_text="Start reminders go out this many minutes before a room's scheduled start.",
    )
    reminder_template_id = models.CharField(
        max_length=64, blank=True, help_text="WeChat subscribe-message template for start reminders."
    )
    payment_window_minutes = models.PositiveSmallIntegerField(
        default=30,
        validators=[MinValueValidator(5), MaxValueValidator(24 * 60)],
        help_text="An unpaid order is cancelled after this many minutes, and its stock comes back.",
    )
    auto_complete_days = models.PositiveSmallIntegerField(
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text="A shipped order completes this many days after shipping.",
    )
    shipping_fee = models.PositiveIntegerField(default=0, help_text="Fen per delivered order.")
    free_shipping_threshold = models.PositiveIntegerField(
        default=0, help_text="Fen: orders of at least this much ship free (0: never free unless the fee is 0)."
    )
    blocked_words = models.TextField(blank=True, help_text="Words not allowed in comments, one per line.")
    blocked_word_action = models.CharField(
        max_length=8, choices=[("mask", "mask them with *"), ("reject", "reject the comment")], default="mask"
    )
    comments_per_minute = models.PositiveSmallIntegerField(
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(600)],
        help_text="How many comments one customer may send per minute.",
    )
    reminder_template_data = models.JSONField(
        default=dict,
        blank=True,
        help_text=(
            "The template's keys and what fills them, from {title}, {start}, {anchor}, {status}; "
            'e.g. {"thing1": "{title}", "time2": "{start}"}. Empty: the default layout.'
        ),
    )
    reminder_cancel_notice = models.BooleanField(
        default=False, help_text="Tell subscribers when a room they subscribed to is cancelled."
    )
    binding_protection_days = models.PositiveSmallIntegerField(
        default=15,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="A customer's binding to the guide who brought them is protected for this many days.",
    )
    binding_mode = models.CharField(
        max_length=16,
        choices=[("first", "the first binding holds while protected"), ("latest", "the latest share wins")],
        default="first",
    )
    return_window_days = models.PositiveSmallIntegerField(
        default=7,
        validators=[MinValueValidator(0), MaxValueValidator(90)],
        help_text="Commission becomes payable this many days after an order completes.",
    )

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.name

    @property
    def is_active(self):
        return self.status == self.Status.ACTIVE

    @property
    def tz(self):
        return zoneinfo.ZoneInfo(self.timezone)


class Membership(BrandScopedModel):
    """A staff user's role in one brand. A user may act for several brands."""

    class Role(models.TextChoices):
        OWNER = "owner"
        OPERATOR = "operator"
        STORE_MANAGER = "store_manager"
        GUIDE = "guide"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    # Roles that run the brand from the console API and the web admin.
    CONSOLE_ROLES = frozenset({Role.OWNER, Role.OPERATOR})

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "user"], name="membership_brand_user_uniq")]
        indexes = [models.Index(fields=["user"])]

    def __str__(self):
        return f"{self.user} · {self.role} @ {self.brand_id}"


class Customer(BrandScopedModel):
    """A mini-program user of one brand: one per (brand, openid)."""

    openid = models.CharField(max_length=64)
    unionid = models.CharField(max_length=64, blank=True)
    nickname = models.CharField(max_length=64, blank=True)
    avatar_url = models.URLField(max_length=500, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    is_member = models.BooleanField(default=False)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    first_paid_at = models.DateTimeField(null=True, blank=True)
    last_login_at = models.DateTimeField(null=True, blank=True)

    # A customer is the authenticated principal of mini-program requests.
    is_authenticated = True
    is_anonymous = False

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "openid"], name="customer_brand_openid_uniq")]
        indexes = [models.Index(fields=["brand", "unionid"]), models.Index(fields=["brand", "first_seen_at"])]

    def __str__(self):
        return self.nickname or self.openid

    @property
    def is_new(self):
        """No paid order yet: the audience of new-customer offers."""
        return self.first_paid_at is None


class StaffInvitation(BrandScopedModel):
    """How an account that is not the brand's own joins it: the brand creates an invitation for a
    role and hands its one-time code to the person, who accepts it logged in as themselves.

    A brand's own writes (a guide's login, a store's manager, a CSV import) name only the brand's
    own accounts or make new ones; an account of another brand or of the platform joins only by
    accepting. Only the code's SHA-256 is kept, so a leaked table grants nothing.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        ACCEPTED = "accepted"
        REVOKED = "revoked"

    class Role(models.TextChoices):
        """The roles an invitation may give (a subset of ``Membership.Role``); the platform makes owners."""

        OPERATOR = Membership.Role.OPERATOR.value
        STORE_MANAGER = Membership.Role.STORE_MANAGER.value
        GUIDE = Membership.Role.GUIDE.value

    role = models.CharField(max_length=16, choices=Role.choices)
    code_digest = models.CharField(max_length=64, unique=True)
    note = models.CharField(max_length=100, blank=True, help_text="Whom the invitation is for, for the brand's eyes.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["brand", "status", "created_at"])]

    def __str__(self):
        return f"{self.role} invitation @ {self.brand_id} ({self.status})"
