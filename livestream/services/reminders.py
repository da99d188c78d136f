"""Start reminders (开播提醒): a customer subscribes; a periodic task tells them, once.

Each subscription is sent **at most once** (a WeChat subscribe message is a one-time grant):
a batch is claimed (``pending → sending``) in its own transaction before anything is sent, so
two task runs at once never take the same subscription; what WeChat refuses is marked and
never retried; what failed in transit goes back to ``pending`` for the next run. A claim left
``sending`` by a worker that died is closed as failed after ``STALE_CLAIM``, not resent.
"""

import logging
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, Max, OuterRef, Q
from django.utils import timezone

from livestream.models import LiveRoom, ReminderSubscription
from tenants.errors import Conflict, DomainError
from tenants.models import Brand, Customer
from tenants.scoping import brand_scope, platform_scope
from tenants.wechat import MessageRejected, SubscribeMessage, mini_program_client
from tenants.wechat.base import fit_subscribe_data

logger = logging.getLogger("siyu.reminders")

Status = ReminderSubscription.Status
BATCH_SIZE = 1000  # claimed, sent and recorded together: what a worker that dies leaves unknown
PENDING_PAGE = 50_000
STALE_CLAIM = timedelta(minutes=10)
STALE_CLAIM_ROOMS = timedelta(days=2)  # rooms that started this long ago have no claims in flight
# A notice owed for a cancelled room goes out at once; one whose start is this far past is moot.
CANCEL_NOTICE_WINDOW = timedelta(days=1)
SANDBOX_TEMPLATE = "sandbox-live-reminder"
DEFAULT_TEMPLATE_DATA = {"thing1": "{title}", "time2": "{start}", "thing3": "{anchor}", "phrase4": "{status}"}
STATUS_WORDS = {"scheduled": "即将开播", "live": "正在直播", "paused": "正在直播", "cancelled": "直播取消"}


@transaction.atomic
def reminder_subscribe(*, brand: Brand, room: LiveRoom, customer: Customer) -> ReminderSubscription:
    with brand_scope(brand):
        if room.status != LiveRoom.Status.SCHEDULED:
            raise Conflict(
                "room_not_upcoming", "Only a room that has not started takes reminders.", fields={"status": room.status}
            )
        subscription, created = ReminderSubscription.objects.get_or_create(brand=brand, room=room, customer=customer)
        # Unsubscribed, or refused by WeChat: subscribing again is a new grant, sent once more.
        if not created and subscription.status in (Status.CANCELLED, Status.REFUSED):
            subscription.status = Status.PENDING
            subscription.save(update_fields=["status"])
        return subscription


@transaction.atomic
def reminder_unsubscribe(*, brand: Brand, room: LiveRoom, customer: Customer) -> None:
    with brand_scope(brand):
        ReminderSubscription.objects.filter(room=room, customer=customer, status=Status.PENDING).update(
            status=Status.CANCELLED
        )


def reminders_room_cancelled(*, brand: Brand, room: LiveRoom, notify: bool | None = None) -> None:
    """A cancelled room sends nothing, or a cancellation notice if the brand chose so (the
    pending subscriptions then stay pending and go out as notices on the next run)."""
    if notify is None:
        notify = brand.reminder_cancel_notice
    if not notify:
        with brand_scope(brand):
            ReminderSubscription.objects.filter(room=room, status=Status.PENDING).update(status=Status.CANCELLED)


def due_rooms(now=None) -> list[LiveRoom]:
    """Rooms whose reminders are due and that still have pending subscriptions: starting within
    their brand's lead time, already on air (started early), or cancelled with a notice owed
    (sent at once, however far off the start was). Suspended brands' rooms are left alone."""
    now = now or timezone.now()
    with platform_scope():
        longest_lead = Brand.objects.aggregate(longest=Max("reminder_lead_minutes"))["longest"] or 0
        pending = ReminderSubscription.objects.filter(room=OuterRef("pk"), status=Status.PENDING)
        candidates = (
            LiveRoom.objects.filter(
                Q(status=LiveRoom.Status.SCHEDULED, scheduled_start__lte=now + timedelta(minutes=longest_lead))
                | Q(status__in=(LiveRoom.Status.LIVE, LiveRoom.Status.PAUSED))
                | Q(status=LiveRoom.Status.CANCELLED, scheduled_start__gte=now - CANCEL_NOTICE_WINDOW),
                Exists(pending),
                brand__status=Brand.Status.ACTIVE,
            )
            .select_related("brand")
            .order_by("scheduled_start", "pk")
        )
        return [
            room
            for room in candidates
            if room.status != LiveRoom.Status.SCHEDULED
            or room.scheduled_start <= now + timedelta(minutes=room.brand.reminder_lead_minutes)
        ]


def send_due_reminders(now=None) -> dict:
    """The periodic task's body: every due room's pending reminders, once. One room's trouble
    (a brand's broken template layout, a bug) is logged and does not hold up the others'."""
    totals = {"rooms": 0, "errors": 0, "batches": 0, "sent": 0, "refused": 0, "failed": 0, "retry": 0}
    close_stale_claims(now)
    for room in due_rooms(now):
        totals["rooms"] += 1
        try:
            result = reminders_send_for_room(brand=room.brand, room=room)
        except Exception:
            logger.exception("Reminders for room %s of brand %s stopped", room.pk, room.brand_id)
            totals["errors"] += 1
            continue
        for key, count in result.items():
            totals[key] += count
    return totals


def close_stale_claims(now=None) -> int:
    """Claims left ``sending`` for longer than ``STALE_CLAIM`` by a worker that stopped: their
    messages may have gone out, so they are closed as failed, never sent again.

    Looked for in rooms around their start only (reminders are sent then), room by room through
    the (room, status) index: the table of every subscription ever is never scanned."""
    now = now or timezone.now()
    with platform_scope():
        rooms = LiveRoom.objects.filter(
            Q(scheduled_start__gte=now - STALE_CLAIM_ROOMS)
            | Q(status__in=(LiveRoom.Status.LIVE, LiveRoom.Status.PAUSED))
        ).values("pk")
        return ReminderSubscription.objects.filter(
            room__in=rooms, status=Status.SENDING, claimed_at__lt=now - STALE_CLAIM
        ).update(status=Status.FAILED, error="outcome unknown: the sending worker stopped")


def reminders_send_for_room(*, brand: Brand, room: LiveRoom, batch_size: int = BATCH_SIZE) -> dict:
    """Send the room's pending reminders, a batch at a time; safe to run in parallel with itself."""
    result = {"batches": 0, "sent": 0, "refused": 0, "failed": 0, "retry": 0}
    client = mini_program_client(brand)
    template_id = brand.reminder_template_id or (SANDBOX_TEMPLATE if settings.WECHAT_BACKEND == "sandbox" else "")
    if not template_id:
        logger.error("Brand %s has no reminder template: room %s's reminders fail", brand.pk, room.pk)
    # The same message for every subscriber but the openid: built and fitted once per room.
    data = fit_subscribe_data(_message_data(brand, room))
    page = f"{settings.MP_ROOM_PAGE}?id={room.pk}&source=reminder"
    with brand_scope(brand):
        while True:
            claimed_any = False
            for chunk in _pending_chunks(room, batch_size):
                openids = dict(chunk)
                claimed = [(pk, openids[pk]) for pk in _claim_batch(room, list(openids))]
                if not claimed:  # another worker took this chunk
                    continue
                claimed_any = True
                outcome = _send_batch(client, brand.pk, claimed, template_id=template_id, data=data, page=page)
                result["batches"] += 1
                for key, done in outcome.items():
                    result[key] += len(done)
                if outcome["retry"]:  # WeChat pushed back: leave the rest for the next run
                    logger.warning(
                        "Reminders for room %s paused; %d wait for the next run", room.pk, len(outcome["retry"])
                    )
                    return result
            if not claimed_any:  # nothing left that another worker is not already sending
                return result


def _pending_chunks(room: LiveRoom, batch_size: int):
    """The room's pending subscriptions as chunks of (id, openid), in id order, read a page at a
    time. A claim then finds its chunk by primary key, so it costs the same for the last batch
    of a big room as for the first (a claim that searched by status would read every row done)."""
    after = 0
    while True:
        page = list(
            ReminderSubscription.objects.filter(room=room, status=Status.PENDING, pk__gt=after)
            .order_by("pk")
            .values_list("pk", "customer__openid")[:PENDING_PAGE]
        )
        for start in range(0, len(page), batch_size):
            yield page[start : start + batch_size]
        if len(page) < PENDING_PAGE:
            return
        after = page[-1][0]


def _claim_batch(room: LiveRoom, ids: list[int]) -> list[int]:
    """Take those of ``ids`` (the room's) that are still pending and that no other worker is
    taking: its rows are skipped, not waited for. Answers the ids taken, in order."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        return _claim_batch_postgresql(room.brand_id, ids, now)
    with transaction.atomic():
        claimed = list(
            ReminderSubscription.objects.select_for_update(skip_locked=True)
            .filter(pk__in=ids, room=room, status=Status.PENDING)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if claimed:
            ReminderSubscription.objects.filter(pk__in=claimed).update(status=Status.SENDING, claimed_at=now)
        return claimed


def _claim_batch_postgresql(brand_id: int, ids: list[int], now) -> list[int]:
    """The claim in one statement and one round trip: the hot path of a big room.

    Raw SQL, so the brand (the one in scope) is spelled out. The rows are found by primary key
    only: with ``room_id`` in the condition the planner may pick the (room, status) index and
    read every pending row of the room for each batch, since statistics see few pending rows.
    The rows locked are then updated by their physical address (a TID scan, not a second index
    lookup): safe, since the lock keeps anyone else from making a newer version of them.
    """
    table = ReminderSubscription._meta.db_table
    sql = f"""
        WITH taken AS (
            SELECT ctid FROM {table}
            WHERE id = ANY(%(ids)s::bigint[]) AND brand_id = %(brand)s AND status = %(pending)s
            FOR NO KEY UPDATE SKIP LOCKED
        )
        UPDATE {table} SET status = %(sending)s, claimed_at = %(now)s
        WHERE ctid = ANY(ARRAY(SELECT ctid FROM taken)) AND status = %(pending)s
        RETURNING id
    """
    params = {"ids": ids, "brand": brand_id, "pending": Status.PENDING, "sending": Status.SENDING, "now": now}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(pk for (pk,) in cursor.fetchall())


def _start_text(start, tz) -> str:
    """WeChat's ``time``/``date`` values: 年月日 and a 24-hour time (WECHAT.md §3)."""
    local = timezone.localtime(start, tz)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def _message_data(brand: Brand, room: LiveRoom) -> dict[str, str]:
    values = {
        "title": room.title,
        "start": _start_text(room.scheduled_start, brand.tz),
        "anchor": room.anchor_name,
        "status": STATUS_WORDS.get(room.status, ""),
    }
    layout = brand.reminder_template_data or DEFAULT_TEMPLATE_DATA
    return {key: str(template).format(**values) for key, template in layout.items()}


def _send_batch(client, brand_id: int, claimed, *, template_id: str, data: dict, page: str) -> dict[str, list]:
    """Send a claimed batch and record each outcome. WeChat pushing back stops the batch and
    returns the unsent to ``pending``; an unexpected error does the same after marking the
    message in flight failed (it may have gone out), then propagates."""
    outcome = {"sent": [], "refused": [], "failed": [], "retry": []}
    if not template_id:
        outcome["failed"] = [(pk, "no_template") for pk, _ in claimed]
        _record(brand_id, outcome)
        return outcome
    sent, position = outcome["sent"], 0
    try:
        for position, (subscription_id, openid) in enumerate(claimed):
            try:
                client.send_subscribe_message(
                    SubscribeMessage(openid=openid, template_id=template_id, data=data, page=page)
                )
            except MessageRejected as rejected:
                outcome["refused" if rejected.reason == "refused" else "failed"].append(
                    (subscription_id, rejected.reason)
                )
            except DomainError as exc:  # WeChat busy, unreachable or rate limited: not this message's fault
                logger.warning("Reminder %s not sent: %s", subscription_id, exc)
                outcome["retry"].extend((pk, "") for pk, _ in claimed[position:])
                break
            else:
                sent.append((subscription_id, ""))
    except Exception as exc:
        outcome["failed"].append((claimed[position][0], f"outcome unknown: {type(exc).__name__}"[:200]))
        outcome["retry"].extend((pk, "") for pk, _ in claimed[position + 1 :])
        _record(brand_id, outcome)
        raise
    _record(brand_id, outcome)
    return outcome


def _record(brand_id: int, outcome: dict[str, list]) -> None:
    """Write a batch's outcomes: one statement per kind of outcome (and per failure reason)."""
    now = timezone.now()
    changes = [
        ([pk for pk, _ in outcome["sent"]], {"status": Status.SENT, "sent_at": now}),
        ([pk for pk, _ in outcome["refused"]], {"status": Status.REFUSED}),
        ([pk for pk, _ in outcome["retry"]], {"status": Status.PENDING, "claimed_at": None}),
    ]
    by_reason = defaultdict(list)
    for pk, reason in outcome["failed"]:
        by_reason[reason].append(pk)
    changes += [(ids, {"status": Status.FAILED, "error": reason}) for reason, ids in by_reason.items()]
    for ids, fields in changes:
        if ids:
            _update_by_ids(brand_id, ids, fields)


def _update_by_ids(brand_id: int, ids: list[int], fields: dict) -> None:
    if connection.vendor != "postgresql":
        ReminderSubscription.objects.filter(pk__in=ids).update(**fields)
        return
    # One array parameter instead of a thousand placeholders; found by primary key only.
    columns = ", ".join(f"{ReminderSubscription._meta.get_field(name).column} = %s" for name in fields)
    sql = f"UPDATE {ReminderSubscription._meta.db_table} SET {columns} WHERE id = ANY(%s::bigint[]) AND brand_id = %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*fields.values(), ids, brand_id])
