"""Settlement: pay each guide everything payable, once, through the transfer client.

An accrual (and its reversals) is payable once its order is completed and the brand's return
window has passed since; an ``adjust`` (a refund after settlement, a reward) is payable at once.
A guide's settlement locks the guide's row, then moves exactly the unsettled payable entries into
the settlement with a conditional UPDATE, all in one transaction: a second run at the same time
waits, then finds nothing left. The transfer happens after the commit; a refusal releases the
entries (payable again) and keeps the failed settlement, with its reason, in view. A transfer
whose fate is unknown stays ``processing`` and is asked again under the same bill number.
"""

import logging
import secrets
from datetime import timedelta

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from commerce.models import Order
from commerce.payments.transfers import TransferRequest, TransferResult, transfer_client
from guides.models import CommissionEntry, Guide, Settlement
from tenants.errors import Conflict, UpstreamError
from tenants.models import Brand
from tenants.scoping import brand_scope, platform_scope

logger = logging.getLogger("siyu.guides")

Kind = CommissionEntry.Kind


def payable_q(brand: Brand, now) -> Q:
    """Entries not settled whose money the guide may have now."""
    cutoff = now - timedelta(days=brand.return_window_days)
    matured = Q(order__status=Order.Status.COMPLETED, order__completed_at__lte=cutoff)
    return Q(settlement__isnull=True) & ~Q(kind=Kind.SETTLE) & (Q(kind=Kind.ADJUST) | matured)


def _out_bill_no(brand: Brand) -> str:
    return f"S{brand.pk}T{timezone.now():%y%m%d%H%M}{secrets.token_hex(6).upper()}"[:32]


def settle_guide(*, brand: Brand, guide_id: int, now=None) -> Settlement | None:
    """Settle one guide's payable commission; None when there is nothing (or only a debt) to pay."""
    now = now or timezone.now()
    with brand_scope(brand):
        with transaction.atomic():
            guide = Guide.objects.select_for_update().get(pk=guide_id)
            entries = list(
                CommissionEntry.objects.select_for_update(of=("self",))
                .filter(payable_q(brand, now), guide=guide)
                .values_list("pk", "amount")
            )
            total = sum(amount for _, amount in entries)
            if total <= 0:  # a debt from refunds after settlement waits for new commission
                return None
            settlement = Settlement.objects.create(
                brand=brand, guide=guide, amount=total, entry_count=len(entries), out_bill_no=_out_bill_no(brand)
            )
            ids = [pk for pk, _ in entries]
            if CommissionEntry.objects.filter(pk__in=ids, settlement__isnull=True).update(settlement=settlement) != len(
                ids
            ):
                raise Conflict("settlement_raced", "Another settlement took some of these entries.")
        if not guide.openid:
            return _finish(settlement, TransferResult("FAIL", fail_reason="The guide has no openid to be paid to."))
        return _transfer(settlement, guide)


def _transfer(settlement: Settlement, guide: Guide) -> Settlement:
    request = TransferRequest(
        appid=settlement.brand.appid,
        out_bill_no=settlement.out_bill_no,
        openid=guide.openid,
        amount=settlement.amount,
        remark=f"{settlement.brand.name} 佣金",
    )
    try:
        result = transfer_client().transfer(request)
    except UpstreamError as exc:  # the bill may or may not exist: ask again with the same number later
        logger.warning("Transfer %s unknown: %s", settlement.out_bill_no, exc)
        Settlement.objects.filter(pk=settlement.pk).update(transfer_state="UNKNOWN", failure_reason=exc.message[:200])
        settlement.refresh_from_db()
        return settlement
    return _finish(settlement, result)


@transaction.atomic
def _finish(settlement: Settlement, result: TransferResult) -> Settlement:
    """Apply a transfer's answer once: paid (a ``settle`` entry), failed (entries payable again), or on its way."""
    settlement = Settlement.objects.select_for_update().get(pk=settlement.pk)
    if settlement.status != Settlement.Status.PROCESSING:
        return settlement
    settlement.transfer_state = result.state
    settlement.transfer_bill_no = result.transfer_bill_no or settlement.transfer_bill_no
    if result.succeeded:
        settlement.status, settlement.finished_at, settlement.failure_reason = (
            Settlement.Status.PAID,
            timezone.now(),
            "",
        )
        CommissionEntry.objects.create(
            brand_id=settlement.brand_id,
            guide_id=settlement.guide_id,
            kind=Kind.SETTLE,
            amount=-settlement.amount,
            settlement=settlement,
            note=f"paid out ({settlement.out_bill_no})",
        )
    elif result.failed:
        settlement.status, settlement.finished_at = Settlement.Status.FAILED, timezone.now()
        settlement.failure_reason = (result.fail_reason or result.state)[:200]
        CommissionEntry.objects.filter(settlement=settlement).update(settlement=None)
    settlement.save()
    return settlement


def settlement_resume(*, settlement: Settlement) -> Settlement:
    """Ask again about a transfer still on its way (or whose answer was lost)."""
    with brand_scope(settlement.brand):
        client = transfer_client()
        try:
            result = client.query(settlement.out_bill_no)
        except UpstreamError as exc:
            if exc.fields.get("code") != "NOT_FOUND":
                logger.warning("Transfer %s still unknown: %s", settlement.out_bill_no, exc)
                return settlement
            # The first request never arrived: send it again under the same number.
            return _transfer(settlement, settlement.guide)
        return _finish(settlement, result)


def settlements_run(*, now=None) -> int:
    """The periodic job: resume transfers on their way, then settle every guide with payable
    commission, brand by brand (each by its own return window). Answers how many were paid."""
    now = now or timezone.now()
    paid = 0
    with platform_scope():
        pending = list(
            Settlement.objects.filter(status=Settlement.Status.PROCESSING, created_at__lte=now - timedelta(minutes=1))
            .select_related("brand", "guide")
            .order_by("pk")
        )
        brands = list(
            Brand.objects.filter(
                pk__in=CommissionEntry.objects.filter(settlement__isnull=True).values("brand"),
                status=Brand.Status.ACTIVE,
            )
        )
    for settlement in pending:
        paid += settlement_resume(settlement=settlement).status == Settlement.Status.PAID
    for brand in brands:
        with brand_scope(brand):
            guide_ids = list(
                CommissionEntry.objects.filter(payable_q(brand, now))
                .values("guide")
                .annotate(total=Sum("amount"))
                .filter(total__gt=0)
                .values_list("guide", flat=True)
            )
        for guide_id in sorted(guide_ids):
            settlement = settle_guide(brand=brand, guide_id=guide_id, now=now)
            paid += settlement is not None and settlement.status == Settlement.Status.PAID
    return paid
