"""Lotteries (抽奖) in a live room, drawn so that anyone can check the draw.

An operator opens a lottery: the server picks a secret 32-byte seed and publishes its
commitment ``sha256(seed)`` with ``lottery.open``. Viewers who meet the rule join. At the draw
(the draw time, or by hand) the entrants are frozen, the winners computed by ``pick_winners``
from the seed and the sorted entrant ids, the seed revealed, and ``lottery.result`` broadcast.
The proof (``lottery_proof``) holds everything needed to recompute the winners.

Coupon prizes are issued at once through the coupon service; a physical prize waits for the
winner's address until the brand's deadline, then lapses (``lapse_unclaimed_prizes``).
"""

import hashlib
import hmac
import secrets
import time
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from livestream.models import Comment, LiveRoom, Lottery, LotteryEntry, LotteryWinner, ReminderSubscription
from livestream.realtime import publish_room_event, store
from livestream.room_state import rooms_changed_on_commit
from livestream.services import live
from tenants import ratelimit
from tenants.errors import Conflict, DomainError, InvalidInput, NotFound
from tenants.models import Brand, Customer
from tenants.scoping import brand_scope, platform_scope

OPEN_ROOMS = (LiveRoom.Status.LIVE, LiveRoom.Status.PAUSED)
MAX_WINNERS = 1000
JOINS_PER_MINUTE = 10
ALGORITHM = (
    "commitment = hex(SHA-256(bytes.fromhex(seed))). entrants = the customer ids, ascending. "
    "uniform(m): for counter = 0, 1, 2, … (shared by the whole draw) take "
    "r = int.from_bytes(HMAC-SHA256(key=bytes.fromhex(seed), msg=counter as 8-byte big-endian), 'big'); "
    "reject r >= 2**256 - (2**256 % m) and take the next counter, else answer r % m. "
    "For i in 0 … k-1 (k = min(winner_count, len(entrants))): j = i + uniform(n - i); swap entrants[i] "
    "and entrants[j]. The winners are entrants[0:k], in that order."
)


# --- the verifiable draw ---------------------------------------------------------------------


def commitment_of(seed: str) -> str:
    return hashlib.sha256(bytes.fromhex(seed)).hexdigest()


def pick_winners(seed: str, entrant_ids, winner_count: int) -> list[int]:
    """The draw: a partial Fisher–Yates shuffle of the sorted ids driven by HMAC-SHA256(seed,
    counter) with rejection sampling, so every entrant is equally likely (see ALGORITHM)."""
    key = bytes.fromhex(seed)
    ids = sorted(entrant_ids)
    counter = 0

    def uniform(m: int) -> int:
        nonlocal counter
        limit = 2**256 - (2**256 % m)
        while True:
            digest = hmac.new(key, counter.to_bytes(8, "big"), hashlib.sha256).digest()
            counter += 1
            value = int.from_bytes(digest, "big")
            if value < limit:
                return value % m

    k = min(winner_count, len(ids))
    for i in range(k):
        j = i + uniform(len(ids) - i)
        ids[i], ids[j] = ids[j], ids[i]
    return ids[:k]


# --- reads -----------------------------------------------------------------------------------


def get_lottery(*, room: LiveRoom, lottery_id) -> Lottery:
    lottery = Lottery.objects.filter(pk=lottery_id, room=room).select_related("coupon_template").first()
    if lottery is None:
        raise NotFound("lottery_not_found", "No such lottery in this room.")
    return lottery


def prize_data(lottery: Lottery) -> dict:
    if lottery.prize_kind == Lottery.PrizeKind.COUPON:
        return {
            "kind": "coupon",
            "name": lottery.coupon_template.name,
            "coupon_template_id": lottery.coupon_template_id,
        }
    return {"kind": "physical", "name": lottery.prize_name, "coupon_template_id": None}


def open_event_data(lottery: Lottery) -> dict:
    return {
        "id": lottery.pk,
        "room_id": lottery.room_id,
        "title": lottery.title,
        "prize": prize_data(lottery),
        "winner_count": lottery.winner_count,
        "rule": lottery.rule,
        "keyword": lottery.keyword,
        "draw_at": lottery.draw_at,
        "commitment": lottery.commitment,
    }


def result_event_data(lottery: Lottery) -> dict:
    customers = Customer.objects.in_bulk(lottery.winner_ids)
    return {
        "id": lottery.pk,
        "room_id": lottery.room_id,
        "title": lottery.title,
        "prize": prize_data(lottery),
        "entrant_count": len(lottery.entrant_ids),
        "seed": lottery.seed,
        "commitment": lottery.commitment,
        "winners": [
            {"customer_id": pk, "nickname": customers[pk].nickname, "avatar_url": customers[pk].avatar_url}
            for pk in lottery.winner_ids
            if pk in customers
        ],
    }


def lottery_proof(lottery: Lottery) -> dict:
    """Everything needed to check the draw; the seed only once it is drawn."""
    drawn = lottery.status == Lottery.Status.DRAWN
    return {
        "lottery_id": lottery.pk,
        "status": lottery.status,
        "commitment": lottery.commitment,
        "seed": lottery.seed if drawn else None,
        "winner_count": lottery.winner_count,
        "entrant_ids": lottery.entrant_ids if drawn else None,
        "winner_ids": lottery.winner_ids if drawn else None,
        "algorithm": ALGORITHM,
    }


# --- operators -------------------------------------------------------------------------------


def clean_lottery(*, title, prize_kind, coupon_template_id, prize_name, winner_count, rule, keyword, draw_at, now):
    errors = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = ["Name the lottery."]
    if prize_kind not in Lottery.PrizeKind.values:
        errors["prize_kind"] = [f"One of {', '.join(Lottery.PrizeKind.values)}."]
    if not isinstance(winner_count, int) or not 1 <= winner_count <= MAX_WINNERS:
        errors["winner_count"] = [f"1 to {MAX_WINNERS}."]
    if rule not in Lottery.Rule.values:
        errors["rule"] = [f"One of {', '.join(Lottery.Rule.values)}."]
    keyword = (keyword or "").strip()
    if rule == Lottery.Rule.KEYWORD and not keyword:
        errors["keyword"] = ["Give the keyword viewers comment to join."]
    if draw_at is not None and draw_at <= now:
        errors["draw_at"] = ["The draw time is in the future."]
    template = None
    if prize_kind == Lottery.PrizeKind.COUPON:
        from coupons.models import CouponTemplate  # coupons depends on livestream: read it here

        template = CouponTemplate.objects.filter(pk=coupon_template_id).first() if coupon_template_id else None
        if template is None:
            errors["coupon_template_id"] = ["A coupon template of the brand."]
        elif template.status != CouponTemplate.Status.ACTIVE:
            errors["coupon_template_id"] = ["This template is retired."]
        elif template.remaining is not None and isinstance(winner_count, int) and template.remaining < winner_count:
            errors["coupon_template_id"] = [f"Only {template.remaining} of these coupons are left."]
    elif prize_kind == Lottery.PrizeKind.PHYSICAL and not (prize_name or "").strip():
        errors["prize_name"] = ["Say what the prize is."]
    if errors:
        raise InvalidInput("invalid", next(iter(errors.values()))[0], fields=errors)
    return title, template, keyword


@transaction.atomic
def lottery_open(
    *,
    brand: Brand,
    room: LiveRoom,
    title: str,
    prize_kind: str,
    winner_count: int,
    rule: str = Lottery.Rule.PRESENT,
    keyword: str = "",
    coupon_template_id: int | None = None,
    prize_name: str = "",
    draw_at=None,
    address_hours: int | None = None,
) -> Lottery:
    """Open a lottery in a live room; ``lottery.open`` carries its commitment."""
    now = timezone.now()
    with brand_scope(brand):
        room = LiveRoom.objects.select_for_update().get(pk=room.pk)
        if room.status not in OPEN_ROOMS:
            raise Conflict("room_not_live", "A lottery is opened in a live room.", fields={"status": room.status})
        title, template, keyword = clean_lottery(
            title=title,
            prize_kind=prize_kind,
            coupon_template_id=coupon_template_id,
            prize_name=prize_name,
            winner_count=winner_count,
            rule=rule,
            keyword=keyword,
            draw_at=draw_at,
            now=now,
        )
        if address_hours is not None and not (isinstance(address_hours, int) and 1 <= address_hours <= 24 * 30):
            raise InvalidInput("invalid", "1 hour to 30 days.", fields={"address_hours": ["1 to 720 hours."]})
        seed = secrets.token_hex(32)
        lottery = Lottery.objects.create(
            brand=brand,
            room=room,
            title=title,
            prize_kind=prize_kind,
            coupon_template=template,
            prize_name=(prize_name or "").strip() if prize_kind == Lottery.PrizeKind.PHYSICAL else "",
            winner_count=winner_count,
            rule=rule,
            keyword=keyword if rule == Lottery.Rule.KEYWORD else "",
            draw_at=draw_at,
            seed=seed,
            commitment=commitment_of(seed),
            **({"address_hours": address_hours} if address_hours is not None else {}),
        )
        rooms_changed_on_commit(brand_id=brand.pk, room_ids=[room.pk])
        publish_room_event(room.pk, "lottery.open", open_event_data(lottery))
        return lottery


def _locked_open(lottery: Lottery) -> Lottery:
    locked = Lottery.objects.select_for_update(of=("self",)).select_related("coupon_template").get(pk=lottery.pk)
    if locked.status != Lottery.Status.OPEN:
        raise Conflict(
            "lottery_not_open", f"This lottery is already {locked.status}.", fields={"status": locked.status}
        )
    return locked


def _award(brand: Brand, lottery: Lottery, customer_id: int, rank: int, now) -> LotteryWinner:
    winner = LotteryWinner(brand=brand, lottery=lottery, customer_id=customer_id, rank=rank)
    if lottery.prize_kind == Lottery.PrizeKind.PHYSICAL:
        winner.status = LotteryWinner.Status.AWAITING_ADDRESS
        winner.address_deadline = now + timedelta(hours=lottery.address_hours)
        return winner
    from coupons.services import coupon_issue_as_prize  # coupons depends on livestream

    try:
        with transaction.atomic():  # a coupon that cannot be issued leaves the rest of the draw standing
            winner.coupon = coupon_issue_as_prize(
                brand=brand,
                customer=Customer.objects.get(pk=customer_id),
                template_id=lottery.coupon_template_id,
                now=now,
            )
        winner.status = LotteryWinner.Status.ISSUED
    except DomainError as exc:
        winner.status, winner.issue_error = LotteryWinner.Status.ISSUE_FAILED, exc.message[:200]
    return winner


@transaction.atomic
def lottery_draw(*, brand: Brand, lottery: Lottery) -> Lottery:
    """Draw the winners from the frozen, sorted entrants; reveal the seed; issue the prizes.
    Holding the lottery's row lock, so a join still in flight is either in or refused."""
    now = timezone.now()
    with brand_scope(brand):
        lottery = _locked_open(lottery)
        entrants = sorted(LotteryEntry.objects.filter(lottery=lottery).values_list("customer_id", flat=True))
        winners = pick_winners(lottery.seed, entrants, lottery.winner_count)
        lottery.entrant_ids, lottery.winner_ids = entrants, winners
        lottery.entrant_count = len(entrants)
        lottery.status, lottery.drawn_at = Lottery.Status.DRAWN, now
        lottery.save(update_fields=["entrant_ids", "winner_ids", "entrant_count", "status", "drawn_at"])
        LotteryWinner.objects.bulk_create(
            [_award(brand, lottery, customer_id, rank, now) for rank, customer_id in enumerate(winners, 1)]
        )
        rooms_changed_on_commit(brand_id=brand.pk, room_ids=[lottery.room_id])
        publish_room_event(lottery.room_id, "lottery.result", result_event_data(lottery))
        return lottery


@transaction.atomic
def lottery_stop(*, brand: Brand, lottery: Lottery) -> Lottery:
    """Call a lottery off without a draw (its seed stays secret: no one won)."""
    with brand_scope(brand):
        lottery = _locked_open(lottery)
        lottery.status, lottery.stopped_at = Lottery.Status.STOPPED, timezone.now()
        lottery.save(update_fields=["status", "stopped_at"])
        rooms_changed_on_commit(brand_id=brand.pk, room_ids=[lottery.room_id])
        publish_room_event(lottery.room_id, "lottery.stopped", {"id": lottery.pk, "room_id": lottery.room_id})
        return lottery


# --- viewers ---------------------------------------------------------------------------------


def watched_seconds(*, room_id: int, customer_id: int) -> int:
    """How long the customer has watched the room, by the server's record of their sockets:
    closed sockets (the live store, or the persisted sessions if the store lost them) plus the
    sockets still sending heartbeats."""
    from livestream.models import ViewingSession

    closed, open_seconds = store().watched_seconds(room_id, customer_id, time.time())
    if not closed:
        closed = sum(
            ViewingSession.objects.filter(room_id=room_id, customer_id=customer_id).values_list("seconds", flat=True)
        )
    return int(closed + open_seconds)


def _commented_keyword(lottery: Lottery, customer: Customer) -> bool:
    def found():
        return Comment.objects.filter(
            room_id=lottery.room_id,
            customer=customer,
            created_at__gte=lottery.opened_at,
            text__icontains=lottery.keyword,
            status=Comment.Status.VISIBLE,
        ).exists()

    if found():
        return True
    with platform_scope():  # a comment of the last seconds may still be queued: persist the queue
        live.comments_flush()
    return found()


def check_eligible(*, lottery: Lottery, customer: Customer) -> None:
    rule, room_id = lottery.rule, lottery.room_id
    if rule == Lottery.Rule.PRESENT:
        ok = store().watched_seconds(room_id, customer.pk, time.time())[1] > 0
        reason = "Join from the live room while you watch it."
    elif rule == Lottery.Rule.KEYWORD:
        ok = _commented_keyword(lottery, customer)
        reason = f"Comment “{lottery.keyword}” in the room to join."
    elif rule == Lottery.Rule.LIKED:
        ok = store().has_liked(room_id, customer.pk)
        reason = "Like the room to join."
    elif rule == Lottery.Rule.SUBSCRIBED:
        ok = (
            ReminderSubscription.objects.filter(room_id=room_id, customer=customer)
            .exclude(status=ReminderSubscription.Status.CANCELLED)
            .exists()
        )
        reason = "This lottery is for viewers who subscribed to the room's start reminder."
    else:
        ok = customer.is_new
        reason = "This lottery is for customers without a paid order."
    if not ok:
        raise Conflict("lottery_not_eligible", reason, fields={"rule": rule})


def lottery_join(*, brand: Brand, lottery: Lottery, customer: Customer) -> LotteryEntry:
    """Enter a lottery once. Eligibility is judged first, outside the transaction (the keyword
    rule may persist the queued comments, which must not roll back with a refused join); then
    the entry and the lottery's count are written together, the count by a conditional UPDATE
    on an open lottery: a join that meets the draw is in the draw, or refused."""
    with brand_scope(brand):
        ratelimit.limit(
            "lottery_join",
            customer.pk,
            per_window=JOINS_PER_MINUTE,
            code="lottery_rate_limited",
            message="Too many tries; wait a moment.",
        )
        if lottery.status != Lottery.Status.OPEN:
            raise Conflict("lottery_not_open", f"This lottery is already {lottery.status}.")
        if LotteryEntry.objects.filter(lottery=lottery, customer=customer).exists():
            raise Conflict("lottery_already_joined", "You are already in this lottery.")
        check_eligible(lottery=lottery, customer=customer)
        with transaction.atomic():
            try:
                with transaction.atomic():
                    entry = LotteryEntry.objects.create(brand=brand, lottery=lottery, customer=customer)
            except IntegrityError:
                raise Conflict("lottery_already_joined", "You are already in this lottery.") from None
            if not Lottery.objects.filter(pk=lottery.pk, status=Lottery.Status.OPEN).update(
                entrant_count=F("entrant_count") + 1
            ):
                raise Conflict("lottery_not_open", "This lottery has just been drawn or stopped.")
            return entry


@transaction.atomic
def prize_address_submit(
    *, brand: Brand, lottery: Lottery, customer: Customer, recipient: str, phone: str, address: str
) -> LotteryWinner:
    """A physical-prize winner says where to send it, before the deadline."""
    with brand_scope(brand):
        winner = LotteryWinner.objects.filter(lottery=lottery, customer=customer).first()
        if winner is None:
            raise NotFound("prize_not_found", "You did not win this lottery.")
        errors = {}
        for name, value, size in (("recipient", recipient, 30), ("phone", phone, 20), ("address", address, 200)):
            value = (value or "").strip()
            if not value or len(value) > size:
                errors[name] = [f"1 to {size} characters."]
        if errors:
            raise InvalidInput("invalid", next(iter(errors.values()))[0], fields=errors)
        updated = LotteryWinner.objects.filter(
            pk=winner.pk, status=LotteryWinner.Status.AWAITING_ADDRESS, address_deadline__gt=timezone.now()
        ).update(
            status=LotteryWinner.Status.CLAIMED,
            recipient=recipient.strip(),
            phone=phone.strip(),
            address=address.strip(),
            claimed_at=timezone.now(),
        )
        if not updated:
            winner.refresh_from_db()
            if winner.status == LotteryWinner.Status.CLAIMED:
                raise Conflict("prize_already_claimed", "You already gave an address for this prize.")
            if winner.status == LotteryWinner.Status.AWAITING_ADDRESS:  # past the deadline, not yet swept
                raise Conflict("prize_lapsed", "The deadline for this prize has passed.")
            codes = {LotteryWinner.Status.LAPSED: "prize_lapsed"}
            raise Conflict(codes.get(winner.status, "prize_not_physical"), "This prize takes no address.")
        winner.refresh_from_db()
        return winner


# --- periodic --------------------------------------------------------------------------------


def draw_due_lotteries(now=None) -> int:
    """Draw every open lottery whose draw time has come; a lottery drawn meanwhile is skipped."""
    now = now or timezone.now()
    with platform_scope():
        due = list(
            Lottery.objects.filter(status=Lottery.Status.OPEN, draw_at__lte=now).select_related("brand").order_by("pk")
        )
    drawn = 0
    for lottery in due:
        try:
            lottery_draw(brand=lottery.brand, lottery=lottery)
            drawn += 1
        except Conflict:
            continue
    return drawn


def lapse_unclaimed_prizes(now=None) -> int:
    """Physical prizes whose winner gave no address in time lapse (one conditional UPDATE)."""
    now = now or timezone.now()
    with platform_scope():
        return LotteryWinner.objects.filter(
            status=LotteryWinner.Status.AWAITING_ADDRESS, address_deadline__lte=now
        ).update(status=LotteryWinner.Status.LAPSED)
