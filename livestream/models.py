import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tenants.scoping import BrandScopedManager, BrandScopedModel, current_brand


def new_stream_key() -> str:
    return secrets.token_urlsafe(18)


def new_costream_code() -> str:
    return secrets.token_hex(5)


class LiveRoom(BrandScopedModel):
    """A live room (直播间) in the brand's mini-program.

    ``scheduled → live ⇄ paused → ended``; ``cancelled`` by the brand before the start;
    ``banned`` by the platform from any state. The rules live in livestream.services.rooms.
    """

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        LIVE = "live", _("Live")
        PAUSED = "paused", _("Paused")
        ENDED = "ended", _("Ended")
        CANCELLED = "cancelled", _("Cancelled")
        BANNED = "banned", _("Banned")

    class Kind(models.TextChoices):
        PUSH = "push", _("push stream (OBS, encoder)")
        PHONE = "phone", _("Phone")

    title = models.CharField(max_length=34, verbose_name=_("title"))
    anchor_name = models.CharField(max_length=30, verbose_name=_("anchor name"))
    anchor_wechat = models.CharField(max_length=64, blank=True, verbose_name=_("anchor wechat"))
    cover_image_url = models.URLField(max_length=500, blank=True, verbose_name=_("cover image url"))
    share_image_url = models.URLField(max_length=500, blank=True, verbose_name=_("share image url"))
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.PUSH, verbose_name=_("kind"))
    host_store = models.ForeignKey(
        "guides.Store",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rooms",
        help_text=_("Set for a store's own show (店播)."),
        verbose_name=_("host store"),
    )
    scheduled_start = models.DateTimeField(verbose_name=_("scheduled start"))
    scheduled_end = models.DateTimeField(verbose_name=_("scheduled end"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    ended_at = models.DateTimeField(null=True, blank=True, verbose_name=_("ended at"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED, verbose_name=_("status"))
    status_reason = models.CharField(
        max_length=200, blank=True, help_text=_("Why it was cancelled or banned."), verbose_name=_("status reason")
    )

    comments_enabled = models.BooleanField(default=True, verbose_name=_("comments enabled"))
    likes_enabled = models.BooleanField(default=True, verbose_name=_("likes enabled"))
    goods_enabled = models.BooleanField(default=True, verbose_name=_("goods enabled"))
    replay_enabled = models.BooleanField(default=True, verbose_name=_("replay enabled"))
    share_enabled = models.BooleanField(default=True, verbose_name=_("share enabled"))

    pushed_product = models.ForeignKey(
        "RoomProduct",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The product being presented (讲解)."),
        verbose_name=_("pushed product"),
    )
    stream_key = models.CharField(max_length=32, default=new_stream_key, editable=False, verbose_name=_("stream key"))
    costream_code = models.CharField(
        max_length=16,
        default=new_costream_code,
        unique=True,
        editable=False,
        help_text=_("Give this to another room's operator to be invited to a co-stream."),
        verbose_name=_("costream code"),
    )
    replay_url = models.URLField(max_length=500, blank=True, verbose_name=_("replay url"))

    class FanoutMode(models.TextChoices):
        EACH = "each", _("every event to every viewer")
        TICKS = "ticks", _("coalesced into one frame per tick (very large rooms)")

    fanout_mode = models.CharField(
        max_length=8, choices=FanoutMode.choices, default=FanoutMode.EACH, verbose_name=_("fanout mode")
    )

    # Persisted by the counter flush (DESIGN §8); the live values are in Redis.
    like_total = models.PositiveBigIntegerField(default=0, verbose_name=_("like total"))
    peak_online = models.PositiveIntegerField(default=0, verbose_name=_("peak online"))
    likes_per_minute = models.JSONField(
        default=dict,
        blank=True,
        help_text=_('{"2026-11-23T20:15": 1234, ...} (UTC)'),
        verbose_name=_("likes per minute"),
    )

    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("live room")
        verbose_name_plural = _("live rooms")
        indexes = [
            models.Index(fields=["brand", "status", "scheduled_start"]),
            models.Index(fields=["status", "scheduled_start"], name="room_reminder_scan"),
        ]
        constraints = [
            models.CheckConstraint(
                name="room_end_after_start", condition=Q(scheduled_end__gt=models.F("scheduled_start"))
            )
        ]

    def __str__(self):
        return self.title

    @property
    def is_open(self) -> bool:
        """Viewers can be in the room (it is on air or briefly paused)."""
        return self.status in (self.Status.LIVE, self.Status.PAUSED)


class RoomProduct(BrandScopedModel):
    """A product listed in a room, in the room's order, on or off sale there."""

    room = models.ForeignKey(LiveRoom, on_delete=models.CASCADE, related_name="room_products", verbose_name=_("room"))
    product = models.ForeignKey(
        "commerce.Product", on_delete=models.CASCADE, related_name="room_listings", verbose_name=_("product")
    )
    position = models.PositiveIntegerField(default=0, verbose_name=_("position"))
    on_sale = models.BooleanField(default=True, verbose_name=_("on sale"))
    added_at = models.DateTimeField(auto_now_add=True, verbose_name=_("added at"))

    MAX_PER_ROOM = 500

    class Meta:
        verbose_name = _("room product")
        verbose_name_plural = _("room products")
        constraints = [models.UniqueConstraint(fields=["brand", "room", "product"], name="roomproduct_uniq")]
        indexes = [models.Index(fields=["brand", "room", "position"])]
        ordering = ["position", "id"]


class ReminderSubscription(BrandScopedModel):
    """A customer asked to be told when a room starts (开播提醒). Sent at most once."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        REFUSED = "refused", _("refused by the user")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("unsubscribed or room cancelled")

    room = models.ForeignKey(LiveRoom, on_delete=models.CASCADE, related_name="reminders", verbose_name=_("room"))
    customer = models.ForeignKey(
        "tenants.Customer", on_delete=models.CASCADE, related_name="reminders", verbose_name=_("customer")
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, verbose_name=_("status"))
    error = models.CharField(max_length=200, blank=True, verbose_name=_("error"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    claimed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("claimed at"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))

    class Meta:
        verbose_name = _("reminder subscription")
        verbose_name_plural = _("reminder subscriptions")
        constraints = [models.UniqueConstraint(fields=["brand", "room", "customer"], name="reminder_uniq")]
        indexes = [models.Index(fields=["room", "status"])]


class CoStreamManager(BrandScopedManager):
    def brand_filter(self, brand):
        return Q(brand_id=brand.pk) | Q(invitee_brand_id=brand.pk)


class CoStream(BrandScopedModel):
    """Two live rooms linked (连麦), possibly of two brands. Both brands see it.

    ``brand`` is the inviting brand; ``invitee_brand`` the other side.
    """

    class Status(models.TextChoices):
        INVITED = "invited", _("Invited")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")
        ENDED = "ended", _("Ended")

    ACTIVE = (Status.INVITED, Status.ACCEPTED)

    inviter_room = models.ForeignKey(
        LiveRoom, on_delete=models.CASCADE, related_name="costreams_sent", verbose_name=_("inviter room")
    )
    invitee_brand = models.ForeignKey(
        "tenants.Brand", on_delete=models.CASCADE, related_name="+", verbose_name=_("invitee brand")
    )
    invitee_room = models.ForeignKey(
        LiveRoom, on_delete=models.CASCADE, related_name="costreams_received", verbose_name=_("invitee room")
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.INVITED, verbose_name=_("status"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    accepted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("accepted at"))
    ended_at = models.DateTimeField(null=True, blank=True, verbose_name=_("ended at"))

    objects = CoStreamManager()

    class Meta:
        verbose_name = _("co-stream")
        verbose_name_plural = _("co-streams")
        indexes = [models.Index(fields=["brand", "status"]), models.Index(fields=["invitee_brand", "status"])]

    @property
    def inviter_brand_id(self):
        return self.brand_id

    def assign_scope_brand(self):
        brand = current_brand()
        if brand is not None and self.brand_id and brand.pk == self.invitee_brand_id:
            return  # the invited brand answers the invitation: its write, on a shared row
        super().assign_scope_brand()

    def other_room(self, room: LiveRoom) -> LiveRoom:
        return self.invitee_room if room.pk == self.inviter_room_id else self.inviter_room


class Festival(models.Model):
    """A platform event (大促) gathering rooms of many brands: a main venue and sub-venues."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        ENDED = "ended", _("Ended")

    name = models.CharField(max_length=100, verbose_name=_("name"))
    starts_at = models.DateTimeField(verbose_name=_("starts at"))
    ends_at = models.DateTimeField(verbose_name=_("ends at"))
    main_room = models.ForeignKey(
        LiveRoom,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("主会场."),
        verbose_name=_("main room"),
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, verbose_name=_("status"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("festival")
        verbose_name_plural = _("festivals")
        constraints = [models.CheckConstraint(name="festival_window", condition=Q(ends_at__gt=models.F("starts_at")))]

    def __str__(self):
        return self.name


class Venue(BrandScopedModel):
    """A brand's part in a festival (分会场): invited by the platform, accepted with a room, or left."""

    class Status(models.TextChoices):
        INVITED = "invited", _("Invited")
        JOINED = "joined", _("Joined")
        LEFT = "left", _("Left")

    festival = models.ForeignKey(Festival, on_delete=models.CASCADE, related_name="venues", verbose_name=_("festival"))
    room = models.ForeignKey(
        LiveRoom, null=True, blank=True, on_delete=models.SET_NULL, related_name="venues", verbose_name=_("room")
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.INVITED, verbose_name=_("status"))
    invited_at = models.DateTimeField(auto_now_add=True, verbose_name=_("invited at"))
    joined_at = models.DateTimeField(null=True, blank=True, verbose_name=_("joined at"))
    left_at = models.DateTimeField(null=True, blank=True, verbose_name=_("left at"))

    class Meta:
        verbose_name = _("venue")
        verbose_name_plural = _("venues")
        constraints = [models.UniqueConstraint(fields=["brand", "festival"], name="venue_brand_festival_uniq")]


class Comment(BrandScopedModel):
    """A viewer's comment. Its id comes from the live store when it is accepted, so the batch
    that persists it can be retried without writing it twice."""

    class Status(models.TextChoices):
        VISIBLE = "visible", _("Visible")
        HIDDEN = "hidden", _("hidden by an operator")

    id = models.BigIntegerField(primary_key=True, verbose_name=_("id"))
    room = models.ForeignKey(LiveRoom, on_delete=models.CASCADE, related_name="comments", verbose_name=_("room"))
    customer = models.ForeignKey(
        "tenants.Customer", on_delete=models.CASCADE, related_name="comments", verbose_name=_("customer")
    )
    text = models.CharField(max_length=200, verbose_name=_("text"))
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.VISIBLE, verbose_name=_("status"))
    is_pinned = models.BooleanField(default=False, verbose_name=_("is pinned"))
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("comment")
        verbose_name_plural = _("comments")
        indexes = [models.Index(fields=["brand", "room", "-id"]), models.Index(fields=["brand", "customer"])]


class Mute(BrandScopedModel):
    """An operator silenced a customer: in one room, or (no room) in all the brand's rooms."""

    customer = models.ForeignKey(
        "tenants.Customer", on_delete=models.CASCADE, related_name="mutes", verbose_name=_("customer")
    )
    room = models.ForeignKey(
        LiveRoom, null=True, blank=True, on_delete=models.CASCADE, related_name="mutes", verbose_name=_("room")
    )
    until = models.DateTimeField(null=True, blank=True, help_text=_("Empty: until lifted."), verbose_name=_("until"))
    reason = models.CharField(max_length=200, blank=True, verbose_name=_("reason"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("mute")
        verbose_name_plural = _("mutes")
        indexes = [models.Index(fields=["brand", "customer"])]


class ViewingSession(BrandScopedModel):
    """One socket's stay in a room, with where the viewer came from (for the post-show report)."""

    room = models.ForeignKey(
        LiveRoom, on_delete=models.CASCADE, related_name="viewing_sessions", verbose_name=_("room")
    )
    customer = models.ForeignKey(
        "tenants.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="viewing_sessions",
        verbose_name=_("customer"),
    )
    socket_id = models.CharField(max_length=32, verbose_name=_("socket id"))
    source_kind = models.CharField(max_length=16, blank=True, verbose_name=_("source kind"))
    source_scene = models.CharField(max_length=32, blank=True, verbose_name=_("source scene"))
    festival_id = models.BigIntegerField(null=True, blank=True, verbose_name=_("festival id"))
    costream_id = models.BigIntegerField(null=True, blank=True, verbose_name=_("costream id"))
    referring_room_id = models.BigIntegerField(null=True, blank=True, verbose_name=_("referring room id"))
    joined_at = models.DateTimeField(verbose_name=_("joined at"))
    left_at = models.DateTimeField(verbose_name=_("left at"))
    seconds = models.PositiveIntegerField(verbose_name=_("seconds"))

    class Meta:
        verbose_name = _("viewing session")
        verbose_name_plural = _("viewing sessions")
        constraints = [models.UniqueConstraint(fields=["brand", "socket_id"], name="viewingsession_socket_uniq")]
        indexes = [models.Index(fields=["brand", "room", "joined_at"])]


class ProductPush(BrandScopedModel):
    """A product presented (讲解) from ``started_at`` until the next push, an unpush or the show's
    end: what the report matches sales against. ``ended_at`` is empty while it is on screen."""

    room = models.ForeignKey(LiveRoom, on_delete=models.CASCADE, related_name="pushes", verbose_name=_("room"))
    product = models.ForeignKey(
        "commerce.Product", on_delete=models.CASCADE, related_name="+", verbose_name=_("product")
    )
    started_at = models.DateTimeField(verbose_name=_("started at"))
    ended_at = models.DateTimeField(null=True, blank=True, verbose_name=_("ended at"))

    class Meta:
        verbose_name = _("product push")
        verbose_name_plural = _("product pushes")
        indexes = [models.Index(fields=["brand", "room", "started_at"])]


class ProductClick(BrandScopedModel):
    """A customer opened a product's card in a live room, ``clicks`` times. Clicks are counted in
    the live store as they come and persisted by the flush, which only ever raises ``clicks`` to
    the live store's running count: a flush that runs twice or is retried never adds them twice."""

    room = models.ForeignKey(LiveRoom, on_delete=models.CASCADE, related_name="product_clicks", verbose_name=_("room"))
    product = models.ForeignKey(
        "commerce.Product", on_delete=models.CASCADE, related_name="+", verbose_name=_("product")
    )
    customer = models.ForeignKey(
        "tenants.Customer", on_delete=models.CASCADE, related_name="+", verbose_name=_("customer")
    )
    clicks = models.PositiveIntegerField(default=0, verbose_name=_("clicks"))

    class Meta:
        verbose_name = _("product click")
        verbose_name_plural = _("product clicks")
        constraints = [
            models.UniqueConstraint(fields=["brand", "room", "product", "customer"], name="productclick_uniq")
        ]


class FollowUp(BrandScopedModel):
    """An operator's follow-up (二次营销) to one segment of a room's audience: a coupon and/or a
    subscribe message, sent in batches by a task, at most once per customer."""

    class Segment(models.TextChoices):
        BOUGHT = "bought", _("watched and bought")
        WATCHED_NOT_BOUGHT = "watched_not_bought", _("watched, did not buy")
        SUBSCRIBED_ABSENT = "subscribed_absent", _("subscribed to the reminder, did not come")
        REFUNDED = "refunded", _("bought and refunded")

    class Status(models.TextChoices):
        SENDING = "sending", _("Sending")
        DONE = "done", _("Done")

    room = models.ForeignKey(LiveRoom, on_delete=models.CASCADE, related_name="follow_ups", verbose_name=_("room"))
    segment = models.CharField(max_length=24, choices=Segment.choices, verbose_name=_("segment"))
    guide = models.ForeignKey(
        "guides.Guide",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Only their customers."),
        verbose_name=_("guide"),
    )
    coupon_template = models.ForeignKey(
        "coupons.CouponTemplate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("coupon template"),
    )
    message_text = models.CharField(
        max_length=20,
        blank=True,
        help_text=_("The subscribe message's line; empty: none."),
        verbose_name=_("message text"),
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.SENDING, verbose_name=_("status"))
    recipient_count = models.PositiveIntegerField(default=0, verbose_name=_("recipient count"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))

    class Meta:
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")
        indexes = [models.Index(fields=["brand", "room", "-created_at"]), models.Index(fields=["status"])]
        constraints = [
            models.CheckConstraint(
                name="followup_sends_something",
                condition=Q(coupon_template__isnull=False) | ~Q(message_text=""),
            )
        ]


class FollowUpRecipient(BrandScopedModel):
    """One customer of a follow-up; the unique row is what makes it once per customer."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    follow_up = models.ForeignKey(
        FollowUp, on_delete=models.CASCADE, related_name="recipients", verbose_name=_("follow up")
    )
    customer = models.ForeignKey(
        "tenants.Customer", on_delete=models.CASCADE, related_name="+", verbose_name=_("customer")
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING, verbose_name=_("status"))
    coupon = models.ForeignKey(
        "coupons.Coupon", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("coupon")
    )
    message_sent = models.BooleanField(default=False, verbose_name=_("message sent"))
    error = models.CharField(max_length=200, blank=True, verbose_name=_("error"))
    done_at = models.DateTimeField(null=True, blank=True, verbose_name=_("done at"))

    class Meta:
        verbose_name = _("follow-up recipient")
        verbose_name_plural = _("follow-up recipients")
        constraints = [
            models.UniqueConstraint(fields=["brand", "follow_up", "customer"], name="followuprecipient_once")
        ]
        indexes = [models.Index(fields=["follow_up", "status"])]


class AudienceContact(BrandScopedModel):
    """A guide contacted one of their customers one-to-one after a show (their to-do list's tick)."""

    room = models.ForeignKey(LiveRoom, on_delete=models.CASCADE, related_name="+", verbose_name=_("room"))
    customer = models.ForeignKey(
        "tenants.Customer", on_delete=models.CASCADE, related_name="+", verbose_name=_("customer")
    )
    guide = models.ForeignKey(
        "guides.Guide", on_delete=models.CASCADE, related_name="audience_contacts", verbose_name=_("guide")
    )
    contacted_at = models.DateTimeField(auto_now_add=True, verbose_name=_("contacted at"))

    class Meta:
        verbose_name = _("audience contact")
        verbose_name_plural = _("audience contacts")
        constraints = [models.UniqueConstraint(fields=["brand", "room", "customer"], name="audiencecontact_once")]


class Lottery(BrandScopedModel):
    """A lottery (抽奖) opened in a live room, drawn verifiably (livestream.services.lotteries).

    ``seed`` stays secret until the draw; ``commitment`` (its SHA-256) is public from the open,
    so the brand cannot pick the seed after seeing who entered.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DRAWN = "drawn", _("Drawn")
        STOPPED = "stopped", _("stopped without a draw")

    class Rule(models.TextChoices):
        PRESENT = "present", _("everyone watching the room")
        KEYWORD = "keyword", _("commented the keyword")
        LIKED = "liked", _("liked the room")
        SUBSCRIBED = "subscribed", _("subscribed to the room's start reminder")
        NEW_CUSTOMERS = "new_customers", _("customers without a paid order")

    class PrizeKind(models.TextChoices):
        COUPON = "coupon", _("Coupon")
        PHYSICAL = "physical", _("physical prize, shipped to an address")

    room = models.ForeignKey(LiveRoom, on_delete=models.CASCADE, related_name="lotteries", verbose_name=_("room"))
    title = models.CharField(max_length=60, verbose_name=_("title"))
    prize_kind = models.CharField(max_length=8, choices=PrizeKind.choices, verbose_name=_("prize kind"))
    coupon_template = models.ForeignKey(
        "coupons.CouponTemplate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("coupon template"),
    )
    prize_name = models.CharField(
        max_length=60, blank=True, help_text=_("What a physical prize is."), verbose_name=_("prize name")
    )
    winner_count = models.PositiveIntegerField(
        help_text=_("Prizes to give (a physical prize's stock)."), verbose_name=_("winner count")
    )
    rule = models.CharField(max_length=16, choices=Rule.choices, default=Rule.PRESENT, verbose_name=_("rule"))
    keyword = models.CharField(max_length=20, blank=True, verbose_name=_("keyword"))
    draw_at = models.DateTimeField(
        null=True, blank=True, help_text=_("Empty: the operator draws by hand."), verbose_name=_("draw at")
    )
    address_hours = models.PositiveIntegerField(
        default=72,
        help_text=_("Hours a physical-prize winner has to give an address before the prize lapses."),
        verbose_name=_("address hours"),
    )
    seed = models.CharField(max_length=64, editable=False, verbose_name=_("seed"))
    commitment = models.CharField(max_length=64, editable=False, verbose_name=_("commitment"))
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN, verbose_name=_("status"))
    entrant_count = models.PositiveIntegerField(default=0, verbose_name=_("entrant count"))
    entrant_ids = models.JSONField(
        default=list, blank=True, editable=False, help_text=_("Frozen at the draw."), verbose_name=_("entrant ids")
    )
    winner_ids = models.JSONField(default=list, blank=True, editable=False, verbose_name=_("winner ids"))
    opened_at = models.DateTimeField(auto_now_add=True, verbose_name=_("opened at"))
    drawn_at = models.DateTimeField(null=True, blank=True, verbose_name=_("drawn at"))
    stopped_at = models.DateTimeField(null=True, blank=True, verbose_name=_("stopped at"))

    class Meta:
        verbose_name = _("lottery")
        verbose_name_plural = _("lotteries")
        indexes = [
            models.Index(fields=["brand", "room", "-opened_at"]),
            models.Index(fields=["status", "draw_at"], name="lottery_due_scan"),
        ]
        constraints = [models.CheckConstraint(name="lottery_has_winners", condition=Q(winner_count__gte=1))]

    def __str__(self):
        return self.title


class LotteryEntry(BrandScopedModel):
    lottery = models.ForeignKey(Lottery, on_delete=models.CASCADE, related_name="entries", verbose_name=_("lottery"))
    customer = models.ForeignKey(
        "tenants.Customer", on_delete=models.CASCADE, related_name="lottery_entries", verbose_name=_("customer")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("lottery entry")
        constraints = [models.UniqueConstraint(fields=["brand", "lottery", "customer"], name="lotteryentry_uniq")]
        verbose_name_plural = _("lottery entries")


class LotteryWinner(BrandScopedModel):
    """A winner and what became of the prize: a coupon issued at once, or a physical prize
    waiting for an address until ``address_deadline``, then claimed or lapsed."""

    class Status(models.TextChoices):
        ISSUED = "issued", _("coupon issued")
        ISSUE_FAILED = "issue_failed", _("the coupon could not be issued")
        AWAITING_ADDRESS = "awaiting_address", _("Awaiting Address")
        CLAIMED = "claimed", _("address given")
        LAPSED = "lapsed", _("no address before the deadline")

    lottery = models.ForeignKey(Lottery, on_delete=models.CASCADE, related_name="winners", verbose_name=_("lottery"))
    customer = models.ForeignKey(
        "tenants.Customer", on_delete=models.CASCADE, related_name="lottery_wins", verbose_name=_("customer")
    )
    rank = models.PositiveIntegerField(verbose_name=_("rank"))
    status = models.CharField(max_length=16, choices=Status.choices, verbose_name=_("status"))
    coupon = models.ForeignKey(
        "coupons.Coupon", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("coupon")
    )
    issue_error = models.CharField(max_length=200, blank=True, verbose_name=_("issue error"))
    address_deadline = models.DateTimeField(null=True, blank=True, verbose_name=_("address deadline"))
    recipient = models.CharField(max_length=30, blank=True, verbose_name=_("recipient"))
    phone = models.CharField(max_length=20, blank=True, verbose_name=_("phone"))
    address = models.CharField(max_length=200, blank=True, verbose_name=_("address"))
    claimed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("claimed at"))

    class Meta:
        verbose_name = _("lottery winner")
        verbose_name_plural = _("lottery winners")
        constraints = [models.UniqueConstraint(fields=["brand", "lottery", "customer"], name="lotterywinner_uniq")]
        indexes = [models.Index(fields=["status", "address_deadline"], name="lotterywinner_lapse_scan")]
        ordering = ["rank"]


class GiftBox(BrandScopedModel):
    """A gift box (拆礼盒): a viewer who has watched the room for ``watch_minutes`` opens it once."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        STOPPED = "stopped", _("Stopped")

    room = models.ForeignKey(LiveRoom, on_delete=models.CASCADE, related_name="gift_boxes", verbose_name=_("room"))
    title = models.CharField(max_length=60, verbose_name=_("title"))
    watch_minutes = models.PositiveIntegerField(verbose_name=_("watch minutes"))
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN, verbose_name=_("status"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    stopped_at = models.DateTimeField(null=True, blank=True, verbose_name=_("stopped at"))

    class Meta:
        verbose_name = _("gift box")
        verbose_name_plural = _("gift boxes")
        indexes = [models.Index(fields=["brand", "room", "-created_at"])]

    def __str__(self):
        return self.title


class GiftBoxPrize(BrandScopedModel):
    """One prize of a box's pool, drawn with probability ``weight`` / the weights of prizes left."""

    class Kind(models.TextChoices):
        COUPON = "coupon", _("Coupon")
        POINTS = "points", _("Points")
        ITEM = "item", _("physical item")
        THANKS = "thanks", _("thanks for watching")

    box = models.ForeignKey(GiftBox, on_delete=models.CASCADE, related_name="prizes", verbose_name=_("box"))
    kind = models.CharField(max_length=8, choices=Kind.choices, verbose_name=_("kind"))
    name = models.CharField(max_length=60, verbose_name=_("name"))
    coupon_template = models.ForeignKey(
        "coupons.CouponTemplate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("coupon template"),
    )
    points = models.PositiveIntegerField(default=0, verbose_name=_("points"))
    weight = models.PositiveIntegerField(verbose_name=_("weight"))
    stock = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Empty: unlimited."), verbose_name=_("stock")
    )
    remaining = models.IntegerField(null=True, blank=True, verbose_name=_("remaining"))

    class Meta:
        verbose_name = _("gift box prize")
        verbose_name_plural = _("gift box prizes")
        constraints = [
            models.CheckConstraint(name="giftboxprize_weight_positive", condition=Q(weight__gte=1)),
            models.CheckConstraint(
                name="giftboxprize_remaining_not_negative", condition=Q(remaining__isnull=True) | Q(remaining__gte=0)
            ),
        ]

    def __str__(self):
        return self.name


class GiftBoxOpening(BrandScopedModel):
    """A customer's one opening of a box; ``prize`` is empty when the pool had nothing left."""

    box = models.ForeignKey(GiftBox, on_delete=models.CASCADE, related_name="openings", verbose_name=_("box"))
    customer = models.ForeignKey(
        "tenants.Customer", on_delete=models.CASCADE, related_name="gift_box_openings", verbose_name=_("customer")
    )
    prize = models.ForeignKey(
        GiftBoxPrize, null=True, blank=True, on_delete=models.PROTECT, related_name="openings", verbose_name=_("prize")
    )
    coupon = models.ForeignKey(
        "coupons.Coupon", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("coupon")
    )
    points = models.PositiveIntegerField(default=0, verbose_name=_("points"))
    watched_seconds = models.PositiveIntegerField(
        help_text=_("Server-side watch time when it was opened."), verbose_name=_("watched seconds")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("gift box opening")
        verbose_name_plural = _("gift box openings")
        constraints = [models.UniqueConstraint(fields=["brand", "box", "customer"], name="giftboxopening_uniq")]
