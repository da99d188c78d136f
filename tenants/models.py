import re
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from tenants.scoping import BrandScopedModel

appid_validator = RegexValidator(r"^wx[0-9a-zA-Z]{6,30}$", "A mini-program appid looks like wx0123456789abcdef.")


def validate_timezone(value):
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone.")


# What a start reminder's text may name (livestream.services.reminders fills them in).
REMINDER_PLACEHOLDERS = frozenset({"title", "start", "anchor", "status"})


def reminder_template_problem(data) -> str | None:
    """What is wrong with a reminder layout (``{"thing1": "{title} 开播啦"}``), or None. A layout
    that names an unknown placeholder would fail every reminder at sending time."""
    if data in (None, ""):
        return None
    if not isinstance(data, dict):
        return "The reminder layout maps each template key to its text."
    for key, text in data.items():
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,31}", key):
            return f"{key!r} is not a template key (like thing1)."
        if not isinstance(text, str) or not text.strip() or len(text) > 200:
            return f"The text of {key} is 1–200 characters."
        try:
            text.format(**dict.fromkeys(REMINDER_PLACEHOLDERS, ""))
        except (KeyError, IndexError, ValueError, AttributeError):
            names = ", ".join("{" + n + "}" for n in sorted(REMINDER_PLACEHOLDERS))
            return f"The text of {key} may name only {names}."
    return None


class Brand(models.Model):
    """The tenant: one brand with its own mini-program. Platform-owned, belongs to no brand."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")

    slug = models.SlugField(max_length=50, unique=True, verbose_name=_("slug"))
    name = models.CharField(max_length=100, verbose_name=_("name"))
    appid = models.CharField(_("mini-program appid"), max_length=32, unique=True, validators=[appid_validator])
    app_secret = models.CharField(
        _("mini-program AppSecret"), max_length=64, blank=True, help_text=_("Needed by the real WeChat client.")
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE, verbose_name=_("status"))
    suspended_reason = models.CharField(max_length=200, blank=True, verbose_name=_("suspended reason"))
    timezone = models.CharField(
        max_length=64, default="Asia/Shanghai", validators=[validate_timezone], verbose_name=_("timezone")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    # Per-brand settings. Each is read by the one service that applies it.
    max_live_rooms = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("Rooms live at the same time."),
        verbose_name=_("max live rooms"),
    )
    allow_anonymous_viewers = models.BooleanField(
        default=True, help_text=_("Viewers may watch before logging in."), verbose_name=_("allow anonymous viewers")
    )
    reminder_lead_minutes = models.PositiveSmallIntegerField(
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
        help_text=_("Start reminders go out this many minutes before a room's scheduled start."),
        verbose_name=_("reminder lead minutes"),
    )
    reminder_template_id = models.CharField(
        max_length=64,
        blank=True,
        help_text=_("WeChat subscribe-message template for start reminders."),
        verbose_name=_("reminder template id"),
    )
    payment_window_minutes = models.PositiveSmallIntegerField(
        default=30,
        validators=[MinValueValidator(5), MaxValueValidator(24 * 60)],
        help_text=_("An unpaid order is cancelled after this many minutes, and its stock comes back."),
        verbose_name=_("payment window minutes"),
    )
    auto_complete_days = models.PositiveSmallIntegerField(
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text=_("A shipped order completes this many days after shipping."),
        verbose_name=_("auto complete days"),
    )
    shipping_fee = models.PositiveIntegerField(
        default=0, help_text=_("Fen per delivered order."), verbose_name=_("shipping fee")
    )
    free_shipping_threshold = models.PositiveIntegerField(
        default=0,
        help_text=_("Fen: orders of at least this much ship free (0: never free unless the fee is 0)."),
        verbose_name=_("free shipping threshold"),
    )
    blocked_words = models.TextField(
        blank=True, help_text=_("Words not allowed in comments, one per line."), verbose_name=_("blocked words")
    )
    blocked_word_action = models.CharField(
        max_length=8,
        choices=[("mask", _("mask them with *")), ("reject", _("reject the comment"))],
        default="mask",
        verbose_name=_("blocked word action"),
    )
    comments_per_minute = models.PositiveSmallIntegerField(
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(600)],
        help_text=_("How many comments one customer may send per minute."),
        verbose_name=_("comments per minute"),
    )
    reminder_template_data = models.JSONField(
        default=dict,
        blank=True,
        help_text=(
            _(
                "The template's keys and what fills them, from {title}, {start}, {anchor}, {status}; "
                'e.g. {"thing1": "{title}", "time2": "{start}"}. Empty: the default layout.'
            )
        ),
        verbose_name=_("reminder template data"),
    )
    reminder_cancel_notice = models.BooleanField(
        default=False,
        help_text=_("Tell subscribers when a room they subscribed to is cancelled."),
        verbose_name=_("reminder cancel notice"),
    )
    binding_protection_days = models.PositiveSmallIntegerField(
        default=15,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text=_("A customer's binding to the guide who brought them is protected for this many days."),
        verbose_name=_("binding protection days"),
    )
    binding_mode = models.CharField(
        max_length=16,
        choices=[("first", _("the first binding holds while protected")), ("latest", _("the latest share wins"))],
        default="first",
        verbose_name=_("binding mode"),
    )
    return_window_days = models.PositiveSmallIntegerField(
        default=7,
        validators=[MinValueValidator(0), MaxValueValidator(90)],
        help_text=_("Commission becomes payable this many days after an order completes."),
        verbose_name=_("return window days"),
    )

    class Meta:
        verbose_name = _("brand")
        verbose_name_plural = _("brands")
        ordering = ["id"]

    def __str__(self):
        return self.name

    def clean(self):
        super().clean()
        problem = reminder_template_problem(self.reminder_template_data)
        if problem:
            raise ValidationError({"reminder_template_data": ValidationError(problem, code="invalid")})

    @property
    def is_active(self):
        return self.status == self.Status.ACTIVE

    @property
    def tz(self):
        return zoneinfo.ZoneInfo(self.timezone)


class Membership(BrandScopedModel):
    """A staff user's role in one brand. A user may act for several brands."""

    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        OPERATOR = "operator", _("Operator")
        STORE_MANAGER = "store_manager", _("Store Manager")
        GUIDE = "guide", _("Guide")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("user")
    )
    role = models.CharField(max_length=16, choices=Role.choices, verbose_name=_("role"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    # Roles that run the brand from the console API and the web admin.
    CONSOLE_ROLES = frozenset({Role.OWNER, Role.OPERATOR})

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [models.UniqueConstraint(fields=["brand", "user"], name="membership_brand_user_uniq")]
        indexes = [models.Index(fields=["user"])]

    def __str__(self):
        return f"{self.user} · {self.role} @ {self.brand_id}"


class Customer(BrandScopedModel):
    """A mini-program user of one brand: one per (brand, openid)."""

    openid = models.CharField(max_length=64, verbose_name=_("openid"))
    unionid = models.CharField(max_length=64, blank=True, verbose_name=_("unionid"))
    nickname = models.CharField(max_length=64, blank=True, verbose_name=_("nickname"))
    avatar_url = models.URLField(max_length=500, blank=True, verbose_name=_("avatar url"))
    phone = models.CharField(max_length=20, blank=True, verbose_name=_("phone"))
    is_member = models.BooleanField(default=False, verbose_name=_("is member"))
    first_seen_at = models.DateTimeField(auto_now_add=True, verbose_name=_("first seen at"))
    first_paid_at = models.DateTimeField(null=True, blank=True, verbose_name=_("first paid at"))
    last_login_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last login at"))

    # A customer is the authenticated principal of mini-program requests.
    is_authenticated = True
    is_anonymous = False

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
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
        PENDING = "pending", _("Pending")
        ACCEPTED = "accepted", _("Accepted")
        REVOKED = "revoked", _("Revoked")

    class Role(models.TextChoices):
        """The roles an invitation may give (a subset of ``Membership.Role``); the platform makes owners."""

        OPERATOR = Membership.Role.OPERATOR.value, Membership.Role.OPERATOR.label
        STORE_MANAGER = Membership.Role.STORE_MANAGER.value, Membership.Role.STORE_MANAGER.label
        GUIDE = Membership.Role.GUIDE.value, Membership.Role.GUIDE.label

    role = models.CharField(max_length=16, choices=Role.choices, verbose_name=_("role"))
    code_digest = models.CharField(max_length=64, unique=True, verbose_name=_("code digest"))
    note = models.CharField(
        max_length=100,
        blank=True,
        help_text=_("Whom the invitation is for, for the brand's eyes."),
        verbose_name=_("note"),
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING, verbose_name=_("status"))
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("invited by"),
    )
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("accepted by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    accepted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("accepted at"))

    class Meta:
        verbose_name = _("staff invitation")
        verbose_name_plural = _("staff invitations")
        indexes = [models.Index(fields=["brand", "status", "created_at"])]

    def __str__(self):
        return f"{self.role} invitation @ {self.brand_id} ({self.status})"
