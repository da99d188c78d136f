"""Paying for orders and refunding them, through the payment provider (commerce.payments).

A notification may arrive twice, late, or in parallel with itself: the payment row is locked
and moves ``created → paid`` once, so the second delivery changes nothing. A payment for an
order that can no longer be honoured (it expired meanwhile) is refunded automatically.
Provider calls (prepay, refund, close) happen outside database transactions.
"""

import logging
import secrets

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from commerce.hooks import ORDER_REFUNDED, OrderRefunded, products_changed
from commerce.models import Order, OrderEvent, OrderLine, Payment, Refund
from commerce.payments import payment_provider
from commerce.payments.base import InvalidNotification, Notification, PrepayRequest, RefundRequest
from commerce.services.orders import Status, _invalid_transition, _move, order_mark_paid, stock_return
from tenants.errors import Conflict, InvalidInput, NotFound
from tenants.models import Brand, Customer
from tenants.scoping import brand_scope

logger = logging.getLogger("siyu.payments")

Actor = OrderEvent.Actor
REFUNDABLE = (Status.PAID, Status.SHIPPED, Status.COMPLETED)


# --- paying ---------------------------------------------------------------------------------------


def order_pay(*, brand: Brand, order: Order, customer: Customer) -> dict:
    """Start paying: answers what the mini-program passes to ``wx.requestPayment``."""
    with brand_scope(brand):
        order.refresh_from_db()
        if order.status != Status.PENDING_PAYMENT:
            raise _invalid_transition(order, "pay")
        if order.expires_at <= timezone.now():
            raise Conflict("order_expired", "The payment window of this order has closed.")
        provider = payment_provider()
        payment = Payment.objects.create(
            brand=brand, order=order, provider=provider.name, out_trade_no=_trade_no(order), amount=order.payable
        )
        description = ", ".join(order.lines.values_list("product_name", flat=True))[:127] or order.number
        params = provider.prepay(
            PrepayRequest(
                appid=brand.appid,
                out_trade_no=payment.out_trade_no,
                description=description,
                amount=order.payable,
                payer_openid=customer.openid,
                expires_at=order.expires_at,
            )
        )
        Payment.objects.filter(pk=payment.pk).update(prepay_id=params.prepay_id)
        return {"provider": provider.name, "out_trade_no": payment.out_trade_no, "params": params.params}


def _trade_no(order: Order) -> str:
    """6–32 characters of [0-9A-Za-z_-|*] (WeChat Pay's out_trade_no)."""
    return f"{order.number}{secrets.token_hex(3)}"[:32]


def close_open_payments(order: Order) -> None:
    """After an order is cancelled, close its unpaid payments at the provider (best effort)."""
    trade_nos = list(
        Payment.objects.filter(order=order, status=Payment.Status.CREATED).values_list("out_trade_no", flat=True)
    )
    if not trade_nos:
        return
    Payment.objects.filter(out_trade_no__in=trade_nos).update(status=Payment.Status.CLOSED)

    def close():
        provider = payment_provider()
        for out_trade_no in trade_nos:
            try:
                provider.close(out_trade_no)
            except Exception:  # a close that fails leaves an unpaid prepay that expires on its own
                logger.warning("Could not close payment %s", out_trade_no, exc_info=True)

    transaction.on_commit(close)


def payment_notification_received(headers, body: bytes) -> None:
    """The provider's notification endpoint: verify, decrypt, apply once. Raises InvalidNotification."""
    provider = payment_provider()
    notification = provider.parse_notification(headers, body)
    # Signed and decrypted with our keys, it may still be about another merchant's trade (one
    # platform certificate serves many merchants): only ours is applied.
    if notification.mchid != provider.mchid:
        logger.error("Notification for merchant %r, we are %r", notification.mchid, provider.mchid)
        raise InvalidNotification("the notification is for another merchant")
    if notification.event_type.startswith("TRANSACTION."):
        _apply_payment(notification)
    elif notification.event_type.startswith("REFUND."):
        _apply_refund_notification(notification)
    else:
        logger.info("Ignoring payment notification %s", notification.event_type)


def _apply_payment(notification: Notification) -> None:
    if notification.trade_state != "SUCCESS":
        logger.info("Payment %s is %s", notification.out_trade_no, notification.trade_state)
        return
    payment = Payment.unscoped.select_related("brand").filter(out_trade_no=notification.out_trade_no).first()
    if payment is None:
        raise InvalidNotification(f"unknown out_trade_no {notification.out_trade_no}")
    if notification.amount_total != payment.amount:
        logger.error("Payment %s amount %s != %s", payment.out_trade_no, notification.amount_total, payment.amount)
        raise InvalidNotification("amount does not match the order")
    if notification.appid != payment.brand.appid:
        logger.error(
            "Payment %s paid in app %r, the brand's is %r",
            payment.out_trade_no,
            notification.appid,
            payment.brand.appid,
        )
        raise InvalidNotification("the payment was made in another mini-program than the order's brand")
    refund_after = None
    with brand_scope(payment.brand), transaction.atomic():
        # The order's row first, then the payment's: expiry and cancellation lock them in that order
        # (the order's UPDATE, then closing its payments), so the other order would deadlock with them.
        Order.objects.select_for_update().only("pk").get(pk=payment.order_id)
        payment = Payment.objects.select_for_update().select_related("order").get(pk=payment.pk)
        if payment.status == Payment.Status.PAID:
            return  # delivered twice
        payment.status, payment.transaction_id = Payment.Status.PAID, notification.transaction_id
        payment.paid_at = notification.success_time or timezone.now()
        payment.save(update_fields=["status", "transaction_id", "paid_at"])
        if not order_mark_paid(order=payment.order, paid_at=payment.paid_at):
            refund_after = _refund_unhonourable(payment)
    if refund_after is not None:
        refund_submit(refund=refund_after)


def _refund_unhonourable(payment: Payment) -> Refund:
    """Money arrived for an order that was cancelled (or already paid): give it all back."""
    order = payment.order
    order.refresh_from_db(fields=["status"])
    logger.warning(
        "Payment %s arrived for order %s, which is %s: refunding", payment.out_trade_no, order.number, order.status
    )
    return Refund.objects.create(
        brand_id=payment.brand_id,
        order=order,
        out_refund_no=f"R{payment.out_trade_no}"[:64],
        amount=payment.amount,
        lines=[],
        reason="paid after the order could no longer be honoured",
        status=Refund.Status.PROCESSING,
        order_status_before=order.status,
        decided_at=timezone.now(),
        payment=payment,
    )


# --- refunds --------------------------------------------------------------------------------------


def _refund_lines(order: Order, requested) -> tuple[list[dict], int, bool]:
    """The lines and amounts a refund covers (``requested`` is [{line_id, quantity}], or None for
    everything left), their total, and whether that is everything left to refund."""
    lines = {line.pk: line for line in OrderLine.objects.filter(order=order)}
    wanted = requested or [
        {"line_id": pk, "quantity": line.quantity - line.refunded_quantity} for pk, line in lines.items()
    ]
    chosen, total = [], 0
    for index, item in enumerate(wanted):
        line = lines.get(item.get("line_id"))
        if line is None:
            raise NotFound("line_not_found", "No such line in this order.", fields={"lines": {index: ["Unknown."]}})
        if any(item["line_id"] == line.pk for item in chosen):  # twice would refund it twice
            raise InvalidInput("invalid", "A line appears twice.", fields={"lines": {index: ["Named twice."]}})
        refundable = line.quantity - line.refunded_quantity
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= refundable:
            if refundable == 0 and requested is None:
                continue
            raise InvalidInput(
                "invalid_quantity",
                f"Refund 1 to {refundable} of this line.",
                fields={"lines": {index: {"quantity": [f"1 to {refundable}."]}}},
            )
        if quantity == refundable:  # the last units take what is left, so rounding never loses a fen
            amount = line.amount - line.refunded_amount
        else:
            amount = line.amount * quantity // line.quantity
        chosen.append({"line_id": line.pk, "quantity": quantity, "amount": amount})
        total += amount
    if not chosen:
        raise Conflict("nothing_to_refund", "Everything in this order has been refunded.")
    left = sum(line.quantity - line.refunded_quantity for line in lines.values())
    return chosen, total, left == sum(item["quantity"] for item in chosen)


@transaction.atomic
def refund_request(*, brand: Brand, order: Order, customer: Customer, lines=None, reason: str = "") -> Refund:
    """The customer asks for money back for some lines (or all of them)."""
    with brand_scope(brand):
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status not in REFUNDABLE:
            if order.status == Status.REFUNDING:
                raise Conflict("refund_in_progress", "A refund of this order is being decided.")
            raise _invalid_transition(order, "refund")
        from commerce.services.group_buys import check_settled  # group buys build on payments

        check_settled(order, "refund")
        chosen, amount, refunds_everything = _refund_lines(order, lines)
        if refunds_everything and order.status == Status.PAID:
            amount += order.shipping_fee  # nothing shipped: the shipping comes back too
        amount = min(amount, order.payable - order.refunded_total)
        refund = Refund.objects.create(
            brand=brand,
            order=order,
            out_refund_no=f"R{order.number}{secrets.token_hex(3)}",
            amount=amount,
            lines=chosen,
            reason=reason.strip()[:200],
            order_status_before=order.status,
        )
        _move(
            order,
            sources=REFUNDABLE,
            target=Status.REFUNDING,
            actor=Actor.CUSTOMER,
            actor_id=customer.pk,
            reason=reason.strip()[:200],
        )
        return refund


def order_refund_automatic(*, order: Order, reason: str) -> Refund | None:
    """Inside the caller's transaction: refund the whole of a paid order nobody asked about (a
    group buy that did not fill). None if the order is no longer paid. The caller submits the
    refund (``refund_submit``) after its transaction; the fixed ``out_refund_no`` makes a second
    attempt a unique-key error, never a second refund."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.status != Status.PAID:
        return None
    chosen, amount, _ = _refund_lines(order, None)
    refund = Refund.objects.create(
        brand_id=order.brand_id,
        order=order,
        out_refund_no=f"A{order.number}",
        amount=min(amount + order.shipping_fee, order.payable - order.refunded_total),
        lines=chosen,
        reason=reason[:200],
        status=Refund.Status.PROCESSING,
        order_status_before=order.status,
        decided_at=timezone.now(),
    )
    _move(order, sources=[Status.PAID], target=Status.REFUNDING, actor=Actor.SYSTEM, reason=reason[:200])
    return refund


def _lock_requested(refund: Refund) -> Refund:
    refund = Refund.objects.select_for_update().select_related("order").get(pk=refund.pk)
    if refund.status != Refund.Status.REQUESTED:
        raise Conflict("invalid_transition", f"The refund is {refund.status}.", fields={"status": refund.status})
    return refund


def refund_approve(*, brand: Brand, refund: Refund, staff=None, note: str = "") -> Refund:
    with brand_scope(brand):
        with transaction.atomic():
            refund = _lock_requested(refund)
            refund.status, refund.decided_by, refund.decided_at = Refund.Status.PROCESSING, staff, timezone.now()
            refund.decision_note = note.strip()[:200]
            refund.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        return refund_submit(refund=refund)


@transaction.atomic
def refund_reject(*, brand: Brand, refund: Refund, staff=None, note: str = "") -> Refund:
    with brand_scope(brand):
        refund = _lock_requested(refund)
        refund.status, refund.decided_by, refund.decided_at = Refund.Status.REJECTED, staff, timezone.now()
        refund.decision_note = note.strip()[:200]
        refund.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        _move(
            refund.order,
            sources=[Status.REFUNDING],
            target=refund.order_status_before,
            actor=Actor.STAFF,
            actor_id=getattr(staff, "pk", None),
            reason=f"refund rejected: {refund.decision_note}"[:200],
        )
        return refund


def refund_submit(*, refund: Refund) -> Refund:
    """Ask the provider to refund (outside any transaction); apply the answer if it is final."""
    # Not a payment given back whole (it came after the order was paid or cancelled): the one that paid.
    payment = (
        refund.payment
        or Payment.unscoped.filter(order_id=refund.order_id, status=Payment.Status.PAID, refunds__isnull=True).first()
    )
    if payment is None:
        raise Conflict("not_paid", "This order has no payment to refund.")
    result = payment_provider().refund(
        RefundRequest(
            out_trade_no=payment.out_trade_no,
            out_refund_no=refund.out_refund_no,
            amount=refund.amount,
            total=payment.amount,
            reason=refund.reason,
        )
    )
    with brand_scope(refund.brand):
        Refund.objects.filter(pk=refund.pk).update(provider_refund_id=result.refund_id)
        if result.status in ("SUCCESS", "CLOSED", "ABNORMAL"):
            refund_settle(refund=refund, succeeded=result.status == "SUCCESS")
        refund.refresh_from_db()
        return refund


def _apply_refund_notification(notification: Notification) -> None:
    refund = Refund.unscoped.select_related("brand").filter(out_refund_no=notification.out_refund_no).first()
    if refund is None:
        raise InvalidNotification(f"unknown out_refund_no {notification.out_refund_no}")
    if notification.refund_status in ("SUCCESS", "CLOSED", "ABNORMAL"):
        with brand_scope(refund.brand):
            refund_settle(refund=refund, succeeded=notification.refund_status == "SUCCESS")


@transaction.atomic
def refund_settle(*, refund: Refund, succeeded: bool) -> bool:
    """The provider's final answer, applied once (a refund still ``processing`` moves on)."""
    refund = Refund.objects.select_for_update().select_related("order").get(pk=refund.pk)
    if refund.status != Refund.Status.PROCESSING:
        return False
    now = timezone.now()
    order = refund.order
    if not succeeded:
        refund.status = Refund.Status.FAILED
        refund.save(update_fields=["status"])
        _move(
            order,
            sources=[Status.REFUNDING],
            target=refund.order_status_before,
            actor=Actor.PAYMENT,
            reason="refund failed at the payment provider",
        )
        return True
    refund.status, refund.succeeded_at = Refund.Status.SUCCEEDED, now
    refund.save(update_fields=["status", "succeeded_at"])
    if not refund.lines:  # a payment that came too late or twice: given back, the order is untouched
        return True
    restocked = {}
    for item in refund.lines:
        OrderLine.objects.filter(pk=item["line_id"]).update(
            refunded_quantity=F("refunded_quantity") + item["quantity"],
            refunded_amount=F("refunded_amount") + item["amount"],
        )
        if refund.order_status_before == Status.PAID:  # never shipped: the units go back on sale
            sku_id = OrderLine.objects.filter(pk=item["line_id"]).values_list("sku_id", flat=True).get()
            restocked[sku_id] = restocked.get(sku_id, 0) + item["quantity"]
    if back_on_sale := stock_return(brand_id=order.brand_id, sku_units=restocked):
        products_changed(brand_id=order.brand_id, sku_ids=sorted(back_on_sale))
    Order.objects.filter(pk=order.pk).update(refunded_total=F("refunded_total") + refund.amount)
    ORDER_REFUNDED.announce(OrderRefunded(order=order))  # guides: the commission clawed back
    fully = not OrderLine.objects.filter(order=order, refunded_quantity__lt=F("quantity")).exists()
    _move(
        order,
        sources=[Status.REFUNDING],
        target=Status.REFUNDED if fully else refund.order_status_before,
        actor=Actor.PAYMENT,
        reason="refunded" if fully else "partly refunded",
    )
    return True


def sandbox_pay(*, brand: Brand, order: Order, customer: Customer) -> None:
    """The sandbox's stand-in for the customer paying: its provider signs the notification that
    WeChat Pay would send, and it goes through the same endpoint code as a real one."""
    provider = payment_provider()
    if provider.name != "sandbox":
        raise NotFound("not_found", "The sandbox is off.")
    with brand_scope(brand):
        payment = Payment.objects.filter(order=order, status=Payment.Status.CREATED).order_by("-pk").first()
        if payment is None:
            raise Conflict("no_payment_started", "Start paying first (POST …/pay).")
    headers, body = provider.payment_notification(payment.out_trade_no, payment.amount, customer.openid, brand.appid)
    payment_notification_received(headers, body)
