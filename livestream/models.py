import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

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
        SCHEDULED = "scheduled"
        LIVE = "live"
        PAUSED = "paused"
        ENDED = "ended"
        CANCELLED = "cancelled"
        BANNED = "banned"

    class Kind(models.TextChoices):
        PUSH = "push", "push stream (OBS, encoder)"
        PHONE = "phone", "phone"

    title = models.CharField(max_length=34)
    anchor_name = models.CharField(max_length=30)
    anchor_wechat = models.CharField(max_length=64, blank=True)
    cover_image_url = models.URLField(max_length=500, blank=True)
    share_image_url = models.URLField(max_length=500, blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.PUSH)
    host_store = models.ForeignKey(
        "guides.Store",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rooms",
        help_text="Set for a store's own show (店播).",
    )
    scheduled_start = models.DateTimeField()
    scheduled_end = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    status_reason = models.CharField(max_length=200, blank=True, help_text="Why it was cancelled or banned.")

    comments_enabled = models.BooleanField(default=True)
    likes_enabled = models.BooleanField(default=True)
    goods_enabled = models.BooleanField(default=True)
    replay_enabled = models.BooleanField(default=True)
    share_enabled = models.BooleanField(default=True)

    pushed_product = models.ForeignKey(
        "RoomProduct",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The product being presented (讲解).",
    )
    stream_key = models.CharField(max_length=32, default=new_stream_key, editable=False)
    costream_code = models.CharField(
        max_length=16,
        default=new_costream_code,
        unique=True,
        editable=False,
        help_text="Give this to another room's operator to be invited to a co-stream.",
    )
    replay_url = models.URLField(max_length=500, blank=True)

    class FanoutMode(models.TextChoices):
        EACH = "each", "every event to every viewer"
        TICKS = "ticks", "coalesced into one frame per tick (very large rooms)"

    fanout_mode = models.CharField(max_length=8, choices=FanoutMode.choices, default=FanoutMode.EACH)

    # Persisted by the counter flush (DESIGN §8); the live values are in Redis.
    like_total = models.PositiveBigIntegerField(default=0)
    peak_online = models.PositiveIntegerField(default=0)
    likes_per_minute = models.JSONField(default=dict, blank=True, help_text='{"2026-11-23T20:15": 1234, ...} (UTC)')

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
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

    room = models.ForeignKey(LiveRoom, on_delete=models.CASCADE, related_name="room_products")
    product = models.ForeignKey("commerce.Product", on_delete=models.CASCADE, related_name="room_listings")
    position = models.PositiveIntegerField(default=0)
    on_sale = models.BooleanField(default=True)
    added_at = models.DateTimeField(auto_now_add=True)

    MAX_PER_ROOM = 500

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "room", "product"], name="roomproduct_uniq")]
        indexes = [models.Index(fields=["brand", "room", "position"])]
        ordering = ["position", "id"]


class ReminderSubscription(BrandScopedModel):
    """A customer asked to be told when a room starts (开播提醒). Sent at most once."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SENT = "sent"
        REFUSED = "refused", "refused by the user"
        FAILED = "failed"
        CANCELLED = "cancelled", "unsubscribed or room cancelled"

    room = models.ForeignKey(LiveRoom, on_delete=models.CASCADE, related_name="reminders")
    customer = models.ForeignKey("tenants.Customer", on_delete=models.CASCADE, related_name="reminders")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
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
        INVITED = "invited"
        ACCEPTED = "accepted"
        DECLINED = "declined"
        ENDED = "ended"

    ACTIVE = (Status.INVITED, Status.ACCEPTED)

    inviter_room = models.ForeignKey(LiveRoom, on_delete=models.CASCADE, related_name="costreams_sent")
    invitee_brand = models.ForeignKey("tenants.Brand", on_delete=models.CASCADE, related_name="+")
    invitee_room = models.ForeignKey(LiveRoom, on_delete=models.CASCADE, related_name="costreams_received")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.INVITED)
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    objects = CoStreamManager()

    class Meta:
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
        DRAFT = "draft"
        PUBLISHED = "published"
        ENDED = "ended"

    name = models.CharField(max_length=100)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    main_room = models.ForeignKey(
        LiveRoom, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="主会场."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(name="festival_window", condition=Q(ends_at__gt=models.F("starts_at")))]

    def __str__(self):
        return self.name


class Venue(BrandScopedModel):
    """A brand's part in a festival (分会场): invited by the platform, accepted with a room, or left."""

    class Status(models.TextChoices):
        INVITED = "invited"
        JOINED = "joined"
        LEFT = "left"

    festival = models.ForeignKey(Festival, on_delete=models.CASCADE, related_name="venues")
    room = models.ForeignKey(LiveRoom, null=True, blank=True, on_delete=models.SET_NULL, related_name="venues")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.INVITED)
    invited_at = models.DateTimeField(auto_now_add=True)
    joined_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "festival"], name="venue_brand_festival_uniq")]


class Comment(BrandScopedModel):
    """A viewer's comment. Its id comes from the live store when it is accepted, so the batch
    that persists it can be retried without writing it twice."""

    class Status(models.TextChoices):
        VISIBLE = "visible"
        HIDDEN = "hidden", "hidden by an operator"

    id = models.BigIntegerField(primary_key=True)
    room = models.ForeignKey(LiveRoom, on_delete=models.CASCADE, related_name="comments")
    customer = models.ForeignKey("tenants.Customer", on_delete=models.CASCADE, related_name="comments")
    text = models.CharField(max_length=200)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.VISIBLE)
    is_pinned = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["brand", "room", "-id"]), models.Index(fields=["brand", "customer"])]


class Mute(BrandScopedModel):
    """An operator silenced a customer: in one room, or (no room) in all the brand's rooms."""

    customer = models.ForeignKey("tenants.Customer", on_delete=models.CASCADE, related_name="mutes")
    room = models.ForeignKey(LiveRoom, null=True, blank=True, on_delete=models.CASCADE, related_name="mutes")
    until = models.DateTimeField(null=True, blank=True, help_text="Empty: until lifted.")
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["brand", "customer"])]


class ViewingSession(BrandScopedModel):
    """One socket's stay in a room, with where the viewer came from (for the post-show report)."""

    room = models.ForeignKey(LiveRoom, on_delete=models.CASCADE, related_name="viewing_sessions")
    customer = models.ForeignKey(
        "tenants.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="viewing_sessions"
    )
    socket_id = models.CharField(max_length=32)
    source_kind = models.CharField(max_length=16, blank=True)
    source_scene = models.CharField(max_length=32, blank=True)
    festival_id = models.BigIntegerField(null=True, blank=True)
    costream_id = models.BigIntegerField(null=True, blank=True)
    referring_room_id = models.BigIntegerField(null=True, blank=True)
    joined_at = models.DateTimeField()
    left_at = models.DateTimeField()
    seconds = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "socket_id"], name="viewingsession_socket_uniq")]
        indexes = [models.Index(fields=["brand", "room", "joined_at"])]


class ProductPush(BrandScopedModel):
    """A product presented (讲解) from ``started_at`` until the next push, an unpush or the show's
    end: what the report matches sales against. ``ended_at`` is empty while it is on screen."""

    room = models.ForeignKey(LiveRoom, on_delete=models.CASCADE, related_name="pushes")
    product = models.ForeignKey("commerce.Product", on_delete=models.CASCADE, related_name="+")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["brand", "room", "started_at"])]


class ProductClick(BrandScopedModel):
    """A customer opened a product's card in a live room, ``clicks`` times. Clicks are counted in
    the live store as they come and persisted by the flush, which only ever raises ``clicks`` to
    the live store's running count: a flush that runs twice or is retried never adds them twice."""

    room = models.ForeignKey(LiveRoom, on_delete=models.CASCADE, related_name="product_clicks")
    product = models.ForeignKey("commerce.Product", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("tenants.Customer", on_delete=models.CASCADE, related_name="+")
    clicks = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["brand", "room", "product", "customer"], name="productclick_uniq")
        ]


class FollowUp(BrandScopedModel):
    """An operator's follow-up (二次营销) to one segment of a room's audience: a coupon and/or a
    subscribe message, sent in batches by a task, at most once per customer."""

    class Segment(models.TextChoices):
        BOUGHT = "bought", "watched and bought"
        WATCHED_NOT_BOUGHT = "watched_not_bought", "watched, did not buy"
        SUBSCRIBED_ABSENT = "subscribed_absent", "subscribed to the reminder, did not come"
        REFUNDED = "refunded", "bought and refunded"

    class Status(models.TextChoices):
        SENDING = "sending"
        DONE = "done"

    room = models.ForeignKey(LiveRoom, on_delete=models.CASCADE, related_name="follow_ups")
    segment = models.CharField(max_length=24, choices=Segment.choices)
    guide = models.ForeignKey(
        "guides.Guide",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Only their customers.",
    )
    coupon_template = models.ForeignKey(
        "coupons.CouponTemplate", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    message_text = models.CharField(max_length=20, blank=True, help_text="The subscribe message's line; empty: none.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.SENDING)
    recipient_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
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
        PENDING = "pending"
        SENDING = "sending"
        DONE = "done"
        FAILED = "failed"

    follow_up = models.ForeignKey(FollowUp, on_delete=models.CASCADE, related_name="recipients")
    customer = models.ForeignKey("tenants.Customer", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    coupon = models.ForeignKey("coupons.Coupon", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    message_sent = models.BooleanField(default=False)
    error = models.CharField(max_length=200, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["brand", "follow_up", "customer"], name="followuprecipient_once")
        ]
        indexes = [models.Index(fields=["follow_up", "status"])]


class AudienceContact(BrandScopedModel):
    """A guide contacted one of their customers one-to-one after a show (their to-do list's tick)."""

    room = models.ForeignKey(LiveRoom, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("tenants.Customer", on_delete=models.CASCADE, related_name="+")
    guide = models.ForeignKey("guides.Guide", on_delete=models.CASCADE, related_name="audience_contacts")
    contacted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "room", "customer"], name="audiencecontact_once")]


class Lottery(BrandScopedModel):
    """A lottery (抽奖) opened in a live room, drawn verifiably (livestream.services.lotteries).

    ``seed`` stays secret until the draw; ``commitment`` (its SHA-256) is public from the open,
    so the brand cannot pick the seed after seeing who entered.
    """

    class Status(models.TextChoices):
        OPEN = "open"
        DRAWN = "drawn"
        STOPPED = "stopped", "stopped without a draw"

    class Rule(models.TextChoices):
        PRESENT = "present", "everyone watching the room"
        KEYWORD = "keyword", "commented the keyword"
        LIKED = "liked", "liked the room"
        SUBSCRIBED = "subscribed", "subscribed to the room's start reminder"
        NEW_CUSTOMERS = "new_customers", "customers without a paid order"

    class PrizeKind(models.TextChoices):
        COUPON = "coupon"
        PHYSICAL = "physical", "physical prize, shipped to an address"

    room = models.ForeignKey(LiveRoom, on_delete=models.CASCADE, related_name="lotteries")
    title = models.CharField(max_length=60)
    prize_kind = models.CharField(max_length=8, choices=PrizeKind.choices)
    coupon_template = models.ForeignKey(
        "coupons.CouponTemplate", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    prize_name = models.CharField(max_length=60, blank=True, help_text="What a physical prize is.")
    winner_count = models.PositiveIntegerField(help_text="Prizes to give (a physical prize's stock).")
    rule = models.CharField(max_length=16, choices=Rule.choices, default=Rule.PRESENT)
    keyword = models.CharField(max_length=20, blank=True)
    draw_at = models.DateTimeField(null=True, blank=True, help_text="Empty: the operator draws by hand.")
    address_hours = models.PositiveIntegerField(
        default=72, help_text="Hours a physical-prize winner has to give an address before the prize lapses."
    )
    seed = models.CharField(max_length=64, editable=False)
    commitment = models.CharField(max_length=64, editable=False)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    entrant_count = models.PositiveIntegerField(default=0)
    entrant_ids = models.JSONField(default=list, blank=True, editable=False, help_text="Frozen at the draw.")
    winner_ids = models.JSONField(default=list, blank=True, editable=False)
    opened_at = models.DateTimeField(auto_now_add=True)
    drawn_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "lotteries"
        indexes = [
            models.Index(fields=["brand", "room", "-opened_at"]),
            models.Index(fields=["status", "draw_at"], name="lottery_due_scan"),
        ]
        constraints = [models.CheckConstraint(name="lottery_has_winners", condition=Q(winner_count__gte=1))]

    def __str__(self):
        return self.title


class LotteryEntry(BrandScopedModel):
    lottery = models.ForeignKey(Lottery, on_delete=models.CASCADE, related_name="entries")
    customer = models.ForeignKey("tenants.Customer", on_delete=models.CASCADE, related_name="lottery_entries")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "lottery", "customer"], name="lotteryentry_uniq")]
        verbose_name_plural = "lottery entries"


class LotteryWinner(BrandScopedModel):
    """A winner and what became of the prize: a coupon issued at once, or a physical prize
    waiting for an address until ``address_deadline``, then claimed or lapsed."""

    class Status(models.TextChoices):
        ISSUED = "issued", "coupon issued"
        ISSUE_FAILED = "issue_failed", "the coupon could not be issued"
        AWAITING_ADDRESS = "awaiting_address"
        CLAIMED = "claimed", "address given"
        LAPSED = "lapsed", "no address before the deadline"

    lottery = models.ForeignKey(Lottery, on_delete=models.CASCADE, related_name="winners")
    customer = models.ForeignKey("tenants.Customer", on_delete=models.CASCADE, related_name="lottery_wins")
    rank = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices)
    coupon = models.ForeignKey("coupons.Coupon", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    issue_error = models.CharField(max_length=200, blank=True)
    address_deadline = models.DateTimeField(null=True, blank=True)
    recipient = models.CharField(max_length=30, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    address = models.CharField(max_length=200, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "lottery", "customer"], name="lotterywinner_uniq")]
        indexes = [models.Index(fields=["status", "address_deadline"], name="lotterywinner_lapse_scan")]
        ordering = ["rank"]


class GiftBox(BrandScopedModel):
    """A gift box (拆礼盒): a viewer who has watched the room for ``watch_minutes`` opens it once."""

    class Status(models.TextChoices):
        OPEN = "open"
        STOPPED = "stopped"

    room = models.ForeignKey(LiveRoom, on_delete=models.CASCADE, related_name="gift_boxes")
    title = models.CharField(max_length=60)
    watch_minutes = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["brand", "room", "-created_at"])]

    def __str__(self):
        return self.title


class GiftBoxPrize(BrandScopedModel):
    """One prize of a box's pool, drawn with probability ``weight`` / the weights of prizes left."""

    class Kind(models.TextChoices):
        COUPON = "coupon"
        POINTS = "points"
        ITEM = "item", "physical item"
        THANKS = "thanks", "thanks for watching"

    box = models.ForeignKey(GiftBox, on_delete=models.CASCADE, related_name="prizes")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    name = models.CharField(max_length=60)
    coupon_template = models.ForeignKey(
        "coupons.CouponTemplate", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    points = models.PositiveIntegerField(default=0)
    weight = models.PositiveIntegerField()
    stock = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: unlimited.")
    remaining = models.IntegerField(null=True, blank=True)

    class Meta:
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

    box = models.ForeignKey(GiftBox, on_delete=models.CASCADE, related_name="openings")
    customer = models.ForeignKey("tenants.Customer", on_delete=models.CASCADE, related_name="gift_box_openings")
    prize = models.ForeignKey(GiftBoxPrize, null=True, blank=True, on_delete=models.PROTECT, related_name="openings")
    coupon = models.ForeignKey("coupons.Coupon", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    points = models.PositiveIntegerField(default=0)
    watched_seconds = models.PositiveIntegerField(help_text="Server-side watch time when it was opened.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "box", "customer"], name="giftboxopening_uniq")]
