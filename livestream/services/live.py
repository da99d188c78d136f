"""What happens in a room while it is on air: comments and their moderation, mutes, product
clicks, and the periodic flushes that persist the live store (like totals, per-minute series,
peaks, comments, viewing sessions, product clicks) in batches.

Moderation runs before a comment is broadcast: the room must allow comments, the text must
keep the one text rule (tenants.text) and fit, the customer must not be muted or over their
rate, and the brand's blocked words are masked or the comment rejected (a brand setting). A
rejected comment answers its author only.

A flush that cannot write a batch writes its rows one by one: the rows that can be written are,
and each one that cannot is kept in the live store's dead letters with the error (and logged
with the row), for ``manage.py live_dead_letters`` to show, retry or drop. A database that is
down is not a row's fault: the whole batch goes back to its queue for the next run.
"""

import json
import logging
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Max, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from commerce.models import Product
from livestream import selectors
from livestream.models import Comment, LiveRoom, Mute, ProductClick, ViewingSession
from livestream.realtime import UNAVAILABLE, encode, publish_room_event, store
from tenants import ratelimit
from tenants import text as text_rule
from tenants.errors import Conflict, InvalidInput, NotFound
from tenants.models import Brand, Customer
from tenants.scoping import brand_scope, platform_scope

MAX_COMMENT = 200
FLUSH_BATCH = 5000
CLICKS_PER_MINUTE = 120  # a customer's product clicks counted per minute; more are refused
UPSERT_ROWS = 500  # rows per INSERT … ON CONFLICT statement (SQLite's parameter limit)
DOWN = (OperationalError, InterfaceError)  # the database cannot be reached: no row's fault

logger = logging.getLogger("siyu.live")


@dataclass(frozen=True)
class Moderation:
    """What a room's consumer needs to judge a comment without a query per comment."""

    comments_enabled: bool
    blocked: re.Pattern | None
    action: str  # "mask" or "reject"
    per_minute: int

    @classmethod
    def for_room(cls, room: LiveRoom) -> "Moderation":
        brand = room.brand
        words = [w.strip() for w in brand.blocked_words.splitlines() if w.strip()]
        pattern = re.compile("|".join(map(re.escape, sorted(words, key=len, reverse=True))), re.I) if words else None
        return cls(room.comments_enabled, pattern, brand.blocked_word_action, brand.comments_per_minute)


def is_muted(*, brand: Brand, room: LiveRoom, customer: Customer) -> bool:
    now = timezone.now()
    with brand_scope(brand):
        return Mute.objects.filter(
            Q(room=room) | Q(room__isnull=True), Q(until__isnull=True) | Q(until__gt=now), customer=customer
        ).exists()


def comment_accept(*, moderation: Moderation, room_id: int, customer_id: int, text) -> str:
    """Judge a comment (no database query); answers the text to publish, or raises."""
    if not moderation.comments_enabled:
        raise Conflict("comments_disabled", "Comments are off in this room.")
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("comment_empty", "Say something.")
    text_rule.check_text(text, "text")
    text = " ".join(text.split())
    if len(text) > MAX_COMMENT:
        raise InvalidInput("comment_too_long", f"A comment is at most {MAX_COMMENT} characters.")
    if moderation.blocked is not None and moderation.blocked.search(text):
        if moderation.action == "reject":
            raise Conflict("comment_blocked", "This comment contains words the brand does not allow.")
        text = moderation.blocked.sub(lambda m: "*" * len(m.group()), text)
    ratelimit.limit(
        "comment",
        customer_id,
        per_window=moderation.per_minute,
        code="comment_rate_limited",
        message="You are commenting too fast; wait a moment.",
    )
    return text


def comment_event(*, comment_id: int, room_id: int, customer: Customer, text: str, at: float) -> dict:
    return {
        "id": comment_id,
        "room_id": room_id,
        "customer": {"id": customer.pk, "nickname": customer.nickname, "avatar_url": customer.avatar_url},
        "text": text,
        "at": datetime.fromtimestamp(at, UTC).isoformat(),
    }


def _largest_comment_id() -> int:
    with platform_scope():
        return Comment.objects.aggregate(top=Max("id"))["top"] or 0


def next_comment_id() -> int:
    """A comment id unique across processes (continuing after the largest persisted one when the
    live store has none)."""
    return store().next_comment_ids(1, _largest_comment_id)[0]


def comment_submit(*, brand: Brand, room_id: int, customer: Customer, text: str, moderation: Moderation) -> dict:
    """Accept, queue for persistence and publish a comment; answers its event data. No database
    write happens here: the flush persists comments in batches.

    Queued before it is published: a comment that anyone saw is saved. When the live store cannot
    be reached before the comment is queued, ``UNAVAILABLE`` is raised and nothing was accepted
    (the consumer tells the author); once it is queued, the comment is accepted even if its
    broadcast then fails."""
    text = comment_accept(moderation=moderation, room_id=room_id, customer_id=customer.pk, text=text)
    now = time.time()
    data = comment_event(comment_id=next_comment_id(), room_id=room_id, customer=customer, text=text, at=now)
    live = store()
    frame = encode("comment", data)
    live.queue_comments([json.dumps({"brand": brand.pk, **data, "customer": customer.pk}, ensure_ascii=False)])
    try:
        live.publish(room_id, frame)
        live.remember_comment(room_id, frame)
    except UNAVAILABLE:
        logger.warning("Comment %s queued but not broadcast: the live store went away", data["id"])
    return data


@contextmanager
def _requeued_on_failure(queue, payloads: list):
    """Taking a batch removes it from the live store: if the database cannot take it right now,
    put it back for the next run (its rows have fixed keys, so writing them twice is harmless)."""
    try:
        yield
    except DOWN:
        queue(payloads)
        raise


def _checked() -> None:
    """Deferred constraints (foreign keys) checked now, so that a savepoint fails on its own row
    even inside an outer transaction (PostgreSQL; elsewhere they fail at the commit)."""
    if connection.vendor == "postgresql":
        connection.check_constraints()


def _write_batch(kind: str, payloads: list, write, requeue) -> int:
    """``write(payloads)`` in one transaction; if a row breaks it, each row on its own: answers
    how many were written. A row that cannot be written goes to the dead letters with its error;
    a database that is down sends back what is left of the batch and raises."""
    with _requeued_on_failure(requeue, payloads):
        try:
            with transaction.atomic():
                write(payloads)
                _checked()
            return len(payloads)
        except DOWN:
            raise
        except Exception:
            logger.warning("A %s batch of %d failed; writing its rows one by one", kind, len(payloads), exc_info=True)
    written = 0
    for index, payload in enumerate(payloads):
        with _requeued_on_failure(requeue, payloads[index:]):
            try:
                with transaction.atomic():
                    write([payload])
                    _checked()
                written += 1
            except DOWN:
                raise
            except Exception as exc:
                dead_letter(kind, payload, exc)
    return written


def dead_letter(kind: str, payload, exc: Exception) -> None:
    """Keep a row that cannot be written, with why, for an operator (``manage.py live_dead_letters``)."""
    row = payload if isinstance(payload, str) else json.dumps(payload)
    error = f"{type(exc).__name__}: {exc}"
    logger.error("Live %s row kept as a dead letter (%s): %s", kind, error, row)
    store().dead_letter(kind, row, error)


def _comment_rows(payloads: list[str]) -> None:
    rows = [json.loads(payload) for payload in payloads]
    Comment.objects.bulk_create(
        [
            Comment(
                id=row["id"],
                brand_id=row["brand"],
                room_id=row["room_id"],
                customer_id=row["customer"],
                text=row["text"],
                created_at=datetime.fromisoformat(row["at"]),
            )
            for row in rows
        ],
        ignore_conflicts=True,
    )


def comments_flush(limit: int = FLUSH_BATCH) -> int:
    """Persist queued comments in batches; safe to retry (their ids are fixed)."""
    written = 0
    while True:
        payloads = store().take_comments(limit)
        if not payloads:
            return written
        with platform_scope():
            written += _write_batch("comments", payloads, _comment_rows, store().queue_comments)


def session_payload(
    *, brand_id: int, room_id: int, customer_id, socket_id: str, source: dict, joined_at: float, left_at: float
) -> str:
    return json.dumps(
        {
            "brand": brand_id,
            "room": room_id,
            "customer": customer_id,
            "socket": socket_id,
            "joined": joined_at,
            "left": left_at,
            **{k: source.get(k) for k in ("kind", "scene", "festival_id", "costream_id", "referring_room_id")},
        }
    )


def session_record(**session) -> None:
    store().queue_sessions([session_payload(**session)])


def sessions_flush(limit: int = FLUSH_BATCH) -> int:
    """Persist the sessions of sockets that left, in batches; each is then dropped from its room's
    unsaved sessions (``sessions_checkpoint`` would write it otherwise)."""
    written = 0
    while True:
        payloads = store().take_sessions(limit)
        if not payloads:
            return written
        with platform_scope():
            written += _write_batch("sessions", payloads, _session_rows, store().queue_sessions)
        done = {}
        for payload in payloads:
            row = json.loads(payload)
            done.setdefault(row["room"], []).append((row["socket"], payload))
        store().forget_sessions(done)


def sessions_checkpoint(room_ids=None, now: float | None = None, every_s: float | None = None) -> int:
    """Write the sessions the live store holds and the database may not, as they stand now: a
    socket still open (heartbeat alive) as a session up to ``now`` — raised again by every later
    run and by its leave, never lowered — so the report counts viewers who have not left yet; one
    that left, as it ended; one whose process died (its heartbeat expired without a leave) is
    closed where the last run saw it alive. ``room_ids`` None: every room that has any; with
    ``every_s``, each of those at most once in that many seconds (the periodic flush: a busy room's
    open sessions are not rewritten every few seconds). Answers how many rows were written."""
    now = time.time() if now is None else now
    live = store()
    if room_ids is None and every_s:
        room_ids = [r for r in live.session_rooms() if live.claim_tick("sessions", r, int(every_s * 1000))]
    unsaved = live.unsaved_sessions(room_ids, now)
    if not unsaved:
        return 0
    entries = [(room_id, socket, json.loads(payload), payload, alive)
               for room_id, held in unsaved.items() for socket, payload, alive in held]  # fmt: skip
    with platform_scope():
        rooms = set(LiveRoom.objects.filter(pk__in=unsaved).values_list("pk", "brand_id"))
        customer_ids = {row["customer"] for _, _, row, _, _ in entries if row["customer"] is not None}
        customers = set(Customer.objects.filter(pk__in=customer_ids).values_list("pk", "brand_id"))
    rows, done = [], {}
    for room_id, socket, row, payload, alive in entries:
        kept = (row["room"], row["brand"]) in rooms and (
            row["customer"] is None or (row["customer"], row["brand"]) in customers
        )
        if kept:
            if row["left"] is None:  # open: up to now while alive, else as the database last had it
                row = {**row, "left": max(now, row["joined"]) if alive else row["joined"]}
            rows.append(json.dumps(row))
        if not alive or json.loads(payload)["left"] is not None:
            done.setdefault(room_id, []).append((socket, payload))
    written = 0
    with platform_scope():
        for start in range(0, len(rows), SESSION_UPSERT_ROWS):
            written += _write_batch(
                "sessions", rows[start : start + SESSION_UPSERT_ROWS], _session_rows, lambda _left: None
            )
    live.forget_sessions(done)
    return written


SESSION_UPSERT_ROWS = 250  # 12 columns each: within SQLite's parameter limit


def _session_rows(payloads: list[str]) -> None:
    """Insert the sessions, or raise a session's end (and seconds) to the payload's when the
    socket's row is there already: a session written while open grows to where it ended."""
    ops = connection.ops
    values = []
    for payload in payloads:
        r = json.loads(payload)
        joined, left = datetime.fromtimestamp(r["joined"], UTC), datetime.fromtimestamp(r["left"], UTC)
        values.append(
            (
                r["brand"], r["room"], r["customer"], r["socket"], r["kind"] or "", r["scene"] or "",
                r["festival_id"], r["costream_id"], r["referring_room_id"],
                ops.adapt_datetimefield_value(joined), ops.adapt_datetimefield_value(left),
                max(int(r["left"] - r["joined"]), 0),
            )
        )  # fmt: skip
    table = ViewingSession._meta.db_table
    greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"  # SQLite's MAX(a, b) is scalar
    for start in range(0, len(values), SESSION_UPSERT_ROWS):
        chunk = values[start : start + SESSION_UPSERT_ROWS]
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {table} (brand_id, room_id, customer_id, socket_id, source_kind, source_scene,
                    festival_id, costream_id, referring_room_id, joined_at, left_at, seconds)
                VALUES {", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(chunk))}
                ON CONFLICT (brand_id, socket_id) DO UPDATE SET
                    left_at = {greatest}({table}.left_at, excluded.left_at),
                    seconds = {greatest}({table}.seconds, excluded.seconds)
                """,
                [value for row in chunk for value in row],
            )


def room_live_checkpoint(*, brand: Brand, room_ids) -> None:
    """What the report reads of the rooms, written as the live store holds it now: their
    unsaved viewing sessions (open ones up to now) and the product clicks not yet flushed. Cheap
    when there is nothing (two round trips to the live store, no query). Skipped, with a warning,
    while the live store cannot be reached: the report then shows what the database holds."""
    room_ids = list(room_ids)
    if not room_ids:
        return
    try:
        sessions_checkpoint(room_ids)
        product_clicks_flush()  # the counts that changed since the last flush (any room's: it is the flush)
    except UNAVAILABLE:
        logger.warning("Rooms %s: the report reads the database only, the live store is unreachable", room_ids)


def product_click(*, brand: Brand, room_id, product_id, customer: Customer) -> None:
    """A viewer opened a product's card in a room: counted in the live store, no database write
    (``product_clicks_flush`` persists the counts). The room must be one of the brand's that
    viewers can open, and list the product."""
    with brand_scope(brand):
        if not selectors.room_lists_product(room_id=room_id, product_id=product_id):
            raise NotFound(
                "product_not_in_room", "This product is not in the room.", fields={"product": ["Not in this room."]}
            )
    live = store()
    ratelimit.limit(
        "product_click",
        customer.pk,
        per_window=CLICKS_PER_MINUTE,
        code="click_rate_limited",
        message="Too many product clicks; wait a moment.",
    )
    live.add_product_click(brand.pk, int(room_id), int(product_id), customer.pk)


def product_clicks_flush(limit: int = FLUSH_BATCH) -> int:
    """Persist the click counts that changed, in batches. Each row is raised to the live store's
    running count (never lowered, never added to), so a batch written twice — a retried flush,
    two flushes at once — counts each click once. Counts of a room, product or customer deleted
    meanwhile are dropped."""
    written = 0
    while True:
        rows = store().take_product_clicks(limit)
        if not rows:
            return written
        requeue = store().requeue_product_clicks
        with platform_scope(), _requeued_on_failure(requeue, [row[:4] for row in rows]):
            rooms = set(LiveRoom.objects.filter(pk__in={r[1] for r in rows}).values_list("pk", "brand_id"))
            products = set(Product.objects.filter(pk__in={r[2] for r in rows}).values_list("pk", "brand_id"))
            customers = set(Customer.objects.filter(pk__in={r[3] for r in rows}).values_list("pk", "brand_id"))
        kept = [r for r in rows if (r[1], r[0]) in rooms and (r[2], r[0]) in products and (r[3], r[0]) in customers]
        with platform_scope():
            for start in range(0, len(kept), UPSERT_ROWS):
                chunk = kept[start : start + UPSERT_ROWS]
                written += _write_batch(
                    "clicks", chunk, _raise_click_counts, lambda left, back=requeue: back([row[:4] for row in left])
                )


def _raise_click_counts(rows: list[tuple[int, int, int, int, int]]) -> None:
    table = ProductClick._meta.db_table
    greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"  # SQLite's MAX(a, b) is scalar
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (brand_id, room_id, product_id, customer_id, clicks)
            VALUES {", ".join(["(%s, %s, %s, %s, %s)"] * len(rows))}
            ON CONFLICT (brand_id, room_id, product_id, customer_id)
            DO UPDATE SET clicks = {greatest}({table}.clicks, excluded.clicks)
            """,
            [value for row in rows for value in row],
        )


def counters_flush() -> int:
    """Persist the like totals, per-minute likes and online peaks of rooms that changed:
    one UPDATE per room. Totals only grow, so a late or repeated flush never lowers them."""
    live = store()
    rooms = sorted(live.take_dirty_rooms())
    if not rooms:
        return 0
    try:
        totals, peaks = live.like_totals(rooms), live.peaks(rooms)
    except UNAVAILABLE:
        live.mark_dirty(rooms)
        raise
    with platform_scope(), _requeued_on_failure(live.mark_dirty, rooms):
        # The live store may have lost minutes the database kept (Redis flushed, the embedded
        # process restarted): merge the series, keeping the larger count of each minute.
        kept = dict(
            LiveRoom.objects.filter(pk__in=[r for r in rooms if r in totals]).values_list("pk", "likes_per_minute")
        )
        for room_id in rooms:
            fields = {}
            if room_id in totals:
                fields["like_total"] = Greatest("like_total", totals[room_id])
                series = dict(kept.get(room_id) or {})
                for minute, count in live.likes_per_minute(room_id).items():
                    series[minute] = max(count, series.get(minute, 0))
                fields["likes_per_minute"] = series
            if room_id in peaks:
                fields["peak_online"] = Greatest("peak_online", peaks[room_id])
            if fields:
                _write_batch("counters", [room_id], lambda ids, f=fields: _update_room(ids[0], f), live.mark_dirty)
    return len(rooms)


def _update_room(room_id: int, fields: dict) -> None:
    LiveRoom.objects.filter(pk=room_id).update(**fields)


def saved_like_totals(room_ids) -> dict[int, int]:
    """The like totals the database holds: where a room's count starts when the live store has none."""
    with platform_scope():
        return dict(LiveRoom.objects.filter(pk__in=list(room_ids)).values_list("pk", "like_total"))


def live_flush() -> dict:
    """The periodic task's body: every batch the live store holds, into the database."""
    return {
        "rooms": counters_flush(),
        "comments": comments_flush(),
        "sessions": sessions_flush(),
        "open_sessions": sessions_checkpoint(every_s=settings.LIVE_OPEN_SESSIONS_EVERY_S),
        "clicks": product_clicks_flush(),
    }


# --- operators ------------------------------------------------------------------------------------


def get_comment(comment_id) -> Comment:
    comment = Comment.objects.filter(pk=comment_id).select_related("customer").first()
    if comment is None:
        raise NotFound("comment_not_found", "No such comment (a very new one may not be saved yet).")
    return comment


def _comment_data(comment: Comment) -> dict:
    return comment_event(
        comment_id=comment.pk,
        room_id=comment.room_id,
        customer=comment.customer,
        text=comment.text,
        at=comment.created_at.timestamp(),
    )


@transaction.atomic
def comment_hide(*, brand: Brand, comment: Comment, hidden: bool = True) -> Comment:
    """Hide a comment (viewers' screens drop it at once) or show it again."""
    with brand_scope(brand):
        status = Comment.Status.HIDDEN if hidden else Comment.Status.VISIBLE
        Comment.objects.filter(pk=comment.pk).update(status=status, is_pinned=False if hidden else comment.is_pinned)
        comment.refresh_from_db()
        if hidden:
            store().forget_comment(comment.room_id, comment.pk)
            publish_room_event(comment.room_id, "comment.hidden", {"room_id": comment.room_id, "id": comment.pk})
        else:
            publish_room_event(comment.room_id, "comment", _comment_data(comment))
        return comment


@transaction.atomic
def comment_pin(*, brand: Brand, comment: Comment, pinned: bool = True) -> Comment:
    """Pin a comment on top of the room (one at a time) or unpin it."""
    with brand_scope(brand):
        if pinned and comment.status == Comment.Status.HIDDEN:
            raise Conflict("comment_hidden", "Show the comment before pinning it.")
        if pinned:
            Comment.objects.filter(room_id=comment.room_id, is_pinned=True).update(is_pinned=False)
        Comment.objects.filter(pk=comment.pk).update(is_pinned=pinned)
        comment.refresh_from_db()
        data = {"room_id": comment.room_id, "comment": _comment_data(comment) if pinned else None}
        publish_room_event(comment.room_id, "comment.pinned", data)
        return comment


@transaction.atomic
def mute_create(
    *, brand: Brand, customer: Customer, room: LiveRoom | None = None, until=None, reason: str = ""
) -> Mute:
    with brand_scope(brand):
        if until is not None and until <= timezone.now():
            raise InvalidInput("invalid", "A mute ends in the future.", fields={"until": ["Must be in the future."]})
        mute = Mute.objects.create(brand=brand, customer=customer, room=room, until=until, reason=reason.strip())
        rooms = (
            [room.pk]
            if room
            else list(
                LiveRoom.objects.filter(status__in=(LiveRoom.Status.LIVE, LiveRoom.Status.PAUSED)).values_list(
                    "pk", flat=True
                )
            )
        )
        for room_id in rooms:
            publish_room_event(room_id, "customer.muted", {"room_id": room_id, "customer_id": customer.pk})
        return mute


@transaction.atomic
def mute_lift(*, brand: Brand, mute: Mute) -> None:
    with brand_scope(brand):
        Mute.objects.filter(pk=mute.pk).delete()
        still = Mute.objects.filter(customer_id=mute.customer_id).filter(
            Q(until__isnull=True) | Q(until__gt=timezone.now())
        )
        rooms = (
            [mute.room_id]
            if mute.room_id
            else list(
                LiveRoom.objects.filter(status__in=(LiveRoom.Status.LIVE, LiveRoom.Status.PAUSED)).values_list(
                    "pk", flat=True
                )
            )
        )
        for room_id in rooms:
            if not still.filter(Q(room_id=room_id) | Q(room__isnull=True)).exists():
                publish_room_event(room_id, "customer.unmuted", {"room_id": room_id, "customer_id": mute.customer_id})
