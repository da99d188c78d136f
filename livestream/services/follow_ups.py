"""Audience follow-up (二次营销) after a show: an operator sends a segment of the room's audience
a coupon (through the coupon service) and/or a subscribe message (through the reminders'
message client), at most once per customer per follow-up, in batches by a task.

Once per customer: the recipients are unique rows made when the follow-up is created; a task
run claims a batch (``pending → sending``, rows another worker holds are skipped) before it
gives anything, and a recipient is never put back to ``pending``; the coupon and the record
that it was given commit together. A claim whose worker died stays ``sending``: never resent.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from kombu.exceptions import OperationalError

from coupons.services import coupon_issue_for_follow_up, get_template
from livestream import reports
from livestream.models import AudienceContact, FollowUp, FollowUpRecipient, LiveRoom
from livestream.services.reminders import DEFAULT_TEMPLATE_DATA, SANDBOX_TEMPLATE, _start_text
from tenants.errors import Conflict, DomainError, InvalidInput, NotFound
from tenants.models import Brand
from tenants.scoping import brand_scope, platform_scope
from tenants.wechat import MessageRejected, SubscribeMessage, mini_program_client
from tenants.wechat.base import fit_subscribe_data

logger = logging.getLogger("siyu.follow_ups")

Recipient = FollowUpRecipient.Status
BATCH_SIZE = 500
INSERT_BATCH = 5000


@transaction.atomic
def follow_up_create(
    *,
    brand: Brand,
    room: LiveRoom,
    segment: str,
    guide_id: int | None = None,
    coupon_template_id: int | None = None,
    message_text: str = "",
    staff=None,
) -> FollowUp:
    """Freeze the segment's customers as the follow-up's recipients and queue the sending."""
    from livestream.tasks import send_follow_up  # the task module imports the services

    with brand_scope(brand):
        if room.started_at is None:
            raise Conflict("room_not_started", "Follow up on a show that took place.", fields={"status": room.status})
        message_text = message_text.strip()
        if coupon_template_id is None and not message_text:
            raise InvalidInput(
                "nothing_to_send",
                "Give a coupon, a message, or both.",
                fields={"coupon_template_id": ["Or a message_text."]},
            )
        template = get_template(coupon_template_id) if coupon_template_id is not None else None
        guide = reports.segment_guide(guide_id) if guide_id is not None else None
        customer_ids = list(reports.segment_customers(brand=brand, room=room, segment=segment, guide=guide))
        if not customer_ids:  # a follow-up that reaches nobody is not a success to report
            raise Conflict(
                "empty_segment", "Nobody is in this segment: there is no one to follow up.", fields={"segment": segment}
            )
        follow_up = FollowUp.objects.create(
            brand=brand,
            room=room,
            segment=segment,
            guide=guide,
            coupon_template=template,
            message_text=message_text,
            created_by=staff,
        )
        FollowUpRecipient.objects.bulk_create(
            [FollowUpRecipient(brand=brand, follow_up=follow_up, customer_id=pk) for pk in customer_ids],
            batch_size=INSERT_BATCH,
            ignore_conflicts=True,
        )
        follow_up.recipient_count = len(customer_ids)
        follow_up.save(update_fields=["recipient_count"])
        transaction.on_commit(lambda: _queue_sending(send_follow_up, follow_up.pk))
        return follow_up


def follow_up_progress(follow_up: FollowUp) -> dict[str, int]:
    counts = dict(
        FollowUpRecipient.objects.filter(follow_up=follow_up)
        .values("status")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("status", "n")
    )
    return {status: counts.get(status, 0) for status in Recipient.values}


def _queue_sending(task, follow_up_id: int) -> None:
    """Queue the sending once the follow-up is saved. With the broker (Redis) unreachable the
    follow-up stays ``sending`` and the beat's sweep (``follow_ups_send_pending``) sends it: the
    request that made it is answered, not failed after its commit."""
    try:
        task.apply_async((follow_up_id,), retry=False)
    except OperationalError as exc:
        logger.warning("Follow-up %s not queued (%s); the periodic sweep sends it", follow_up_id, exc)


def follow_ups_send_pending() -> int:
    """Every follow-up still sending, of every brand (the beat's safety net for a lost task)."""
    with platform_scope():
        pending = list(FollowUp.objects.filter(status=FollowUp.Status.SENDING).values_list("pk", flat=True))
    for follow_up_id in pending:
        follow_up_send(follow_up_id=follow_up_id)
    return len(pending)


def follow_up_send(*, follow_up_id: int, batch_size: int = BATCH_SIZE) -> dict:
    """Send what the follow-up still owes, a claimed batch at a time; safe to run twice at once."""
    with platform_scope():
        follow_up = FollowUp.objects.select_related("brand", "room").filter(pk=follow_up_id).first()
    if follow_up is None:
        raise NotFound("follow_up_not_found", "No such follow-up.")
    brand, result = follow_up.brand, {"batches": 0, "done": 0, "failed": 0}
    message = _message(brand, follow_up) if follow_up.message_text else None
    client = mini_program_client(brand) if message else None
    with brand_scope(brand):
        while True:
            claimed = _claim_batch(follow_up, batch_size)
            if not claimed:
                break
            result["batches"] += 1
            for recipient in claimed:
                outcome = _give(brand, follow_up, recipient, client, message)
                result[outcome] += 1
        if not FollowUpRecipient.objects.filter(
            follow_up=follow_up, status__in=(Recipient.PENDING, Recipient.SENDING)
        ).exists():
            FollowUp.objects.filter(pk=follow_up.pk, status=FollowUp.Status.SENDING).update(
                status=FollowUp.Status.DONE, finished_at=timezone.now()
            )
    return result


def _claim_batch(follow_up: FollowUp, batch_size: int) -> list[FollowUpRecipient]:
    with transaction.atomic():
        ids = list(
            FollowUpRecipient.objects.select_for_update(skip_locked=True)
            .filter(follow_up=follow_up, status=Recipient.PENDING)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        FollowUpRecipient.objects.filter(pk__in=ids, status=Recipient.PENDING).update(status=Recipient.SENDING)
    return list(FollowUpRecipient.objects.filter(pk__in=ids).select_related("customer").order_by("pk"))


def _give(brand: Brand, follow_up: FollowUp, recipient: FollowUpRecipient, client, message) -> str:
    errors = []
    coupon_id = None
    if follow_up.coupon_template_id:
        try:
            with transaction.atomic():
                coupon = coupon_issue_for_follow_up(
                    brand=brand, customer=recipient.customer, template_id=follow_up.coupon_template_id
                )
                FollowUpRecipient.objects.filter(pk=recipient.pk).update(coupon=coupon)
                coupon_id = coupon.pk
        except DomainError as refused:  # sold out, limit reached, not for this customer: recorded, not retried
            errors.append(refused.code)
    sent = False
    if message is not None:
        try:
            client.send_subscribe_message(SubscribeMessage(openid=recipient.customer.openid, **message))
            sent = True
        except MessageRejected as rejected:
            errors.append(f"message_{rejected.reason}")
        except DomainError as exc:
            logger.warning("Follow-up %s message to %s not sent: %s", follow_up.pk, recipient.customer_id, exc)
            errors.append("message_not_delivered")
    done = coupon_id is not None or sent
    FollowUpRecipient.objects.filter(pk=recipient.pk).update(
        status=Recipient.DONE if done else Recipient.FAILED,
        message_sent=sent,
        error=", ".join(errors)[:200],
        done_at=timezone.now(),
    )
    return "done" if done else "failed"


def _message(brand: Brand, follow_up: FollowUp) -> dict:
    """The subscribe message: the brand's live-room template, the operator's line as its status."""
    room = follow_up.room
    template_id = brand.reminder_template_id or (SANDBOX_TEMPLATE if settings.WECHAT_BACKEND == "sandbox" else "")
    values = {
        "title": room.title,
        "start": _start_text(room.started_at or room.scheduled_start, brand.tz),
        "anchor": room.anchor_name,
        "status": follow_up.message_text,
    }
    layout = brand.reminder_template_data or DEFAULT_TEMPLATE_DATA
    return {
        "template_id": template_id,
        "data": fit_subscribe_data({key: str(text).format(**values) for key, text in layout.items()}),
        "page": f"{settings.MP_ROOM_PAGE}?id={room.pk}&source=follow_up",
    }


@transaction.atomic
def audience_contact_mark(*, brand: Brand, guide, room_id: int, customer_id: int) -> AudienceContact:
    """A guide ticks a customer of their to-do list as contacted; ticking twice changes nothing.
    A customer who is not on the guide's list (another guide's, or one who bought) is not found."""
    with brand_scope(brand):
        on_list = reports.guide_follow_up_list(brand=brand, guide=guide, room_id=room_id).filter(
            customer_id=customer_id
        )
        if not on_list.exists():
            raise NotFound("follow_up_not_found", "This customer is not on your follow-up list for that show.")
        contact, _ = AudienceContact.objects.get_or_create(
            brand=brand, room_id=room_id, customer_id=customer_id, defaults={"guide": guide}
        )
        return contact
