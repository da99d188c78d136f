"""Commission rules and the ledger: accrued when an order is paid, reversed in proportion on refund.

Commission is per order line, on what was actually paid for it (the line's amount after its
discount), at the most specific rate that applies; the guide's team leader earns the brand's
leader override on the same amount. A refund reverses the same share of each line's commission;
once that commission has been settled, the reversal is a negative ``adjust`` carried into the
next settlement instead.
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum

from commerce.models import Order, OrderLine
from guides.models import MAX_RATE_BP, CommissionEntry, CommissionPolicy, CommissionRule, Guide
from tenants.errors import Conflict, InvalidInput, NotFound
from tenants.models import Brand

Kind, Role = CommissionEntry.Kind, CommissionEntry.Role


def policy_get(*, brand: Brand) -> CommissionPolicy:
    return CommissionPolicy.objects.filter().first() or CommissionPolicy(brand=brand)


@transaction.atomic
def policy_set(*, brand: Brand, **rates) -> CommissionPolicy:
    policy = CommissionPolicy.objects.select_for_update().filter().first() or CommissionPolicy(brand=brand)
    for name in ("default_rate_bp", "leader_rate_bp"):
        if name in rates:
            setattr(policy, name, rates[name])
    try:
        policy.full_clean(exclude=["brand"], validate_unique=False)
    except ValidationError as exc:
        raise InvalidInput("invalid", "Rates are 0 to 10,000 basis points.", fields=exc.message_dict) from exc
    policy.save()
    return policy


def rule_create(
    *, brand: Brand, rate_bp: int, product=None, category: str = "", guide_kind: str = ""
) -> CommissionRule:
    rule = CommissionRule(
        brand=brand, product=product, category=category.strip(), guide_kind=guide_kind, rate_bp=rate_bp
    )
    try:
        rule.full_clean(exclude=["brand"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise InvalidInput("invalid", "The rule is not valid.", fields=exc.message_dict) from exc
    if product is not None and category:
        raise InvalidInput("invalid", "A rule names a product or a category, not both.", fields={"category": ["Both."]})
    if product is None and not category and not guide_kind:
        raise InvalidInput(
            "invalid",
            "Name a product, a category or a promoter kind (the default rate is the policy's).",
            fields={"product": ["Required."]},
        )
    try:
        with transaction.atomic():
            rule.save()
    except IntegrityError as exc:
        raise Conflict("rule_exists", "A rule for this product or category and kind exists.") from exc
    return rule


def rule_delete(*, brand: Brand, rule_id) -> None:
    if not CommissionRule.objects.filter(pk=rule_id).delete()[0]:
        raise NotFound("rule_not_found", "No such commission rule.")


class Rates:
    """The brand's rates, loaded once, answering the rate of a product for a promoter kind."""

    def __init__(self):
        policy = CommissionPolicy.objects.filter().first()
        self.default = policy.default_rate_bp if policy else 0
        self.leader = policy.leader_rate_bp if policy else 0
        self.by_product, self.by_category = {}, {}
        for rule in CommissionRule.objects.all():
            if rule.product_id:
                self.by_product[(rule.product_id, rule.guide_kind)] = rule.rate_bp
            else:
                self.by_category[(rule.category, rule.guide_kind)] = rule.rate_bp

    def rate(self, *, product_id: int, category: str, kind: str) -> int:
        for table, key in (
            (self.by_product, (product_id, kind)),
            (self.by_product, (product_id, "")),
            (self.by_category, (category, kind)) if category else (None, None),
            (self.by_category, (category, "")) if category else (None, None),
            (self.by_category, ("", kind)),
        ):
            if table is not None and key in table:
                return table[key]
        return self.default


def _share(amount: int, rate_bp: int) -> int:
    return amount * min(rate_bp, MAX_RATE_BP) // MAX_RATE_BP


def commission_accrue(*, order: Order) -> list[CommissionEntry]:
    """The paid order's commission, per line, for its guide and their leader (inside the payment's
    transaction; an order whose payment arrives twice is marked paid once, so this runs once)."""
    if order.guide_id is None:
        return []
    guide = Guide.objects.get(pk=order.guide_id)
    rates = Rates()
    entries = []
    for line in OrderLine.objects.filter(order_id=order.pk).select_related("product"):
        base = line.amount
        rate = rates.rate(product_id=line.product_id, category=line.product.category, kind=guide.kind)
        for role, who, rate_bp in ((Role.GUIDE, order.guide_id, rate), (Role.LEADER, order.leader_id, rates.leader)):
            amount = _share(base, rate_bp)
            if who is not None and amount > 0:
                entries.append(
                    CommissionEntry(
                        brand_id=order.brand_id,
                        guide_id=who,
                        kind=Kind.ACCRUE,
                        role=role,
                        amount=amount,
                        order_id=order.pk,
                        order_line=line,
                        base_amount=base,
                        rate_bp=rate_bp,
                    )
                )
    return CommissionEntry.objects.bulk_create(entries)


def commission_sync_refunds(*, order: Order) -> list[CommissionEntry]:
    """Reverse each line's commission in proportion to what has been refunded of the line so far.

    Idempotent: it tops the reversals up to the refunded share, so running it twice (or after
    each of several refunds) reverses each fen once. The last units of a line reverse all that
    is left, so rounding never keeps a fen.
    """
    accruals = list(
        CommissionEntry.objects.select_for_update(of=("self",))
        .filter(order_id=order.pk, kind=Kind.ACCRUE)
        .select_related("order_line")
        .order_by("pk")
    )
    created = []
    for accrual in accruals:
        line = accrual.order_line
        if line.refunded_quantity >= line.quantity or line.refunded_amount >= line.amount:
            due = accrual.amount
        else:
            due = accrual.amount * line.refunded_amount // line.amount
        reversed_ = -(
            CommissionEntry.objects.filter(
                order_line_id=line.pk, role=accrual.role, kind__in=[Kind.REVERSE, Kind.ADJUST]
            ).aggregate(total=Sum("amount"))["total"]
            or 0
        )
        if due > reversed_:
            settled = accrual.settlement_id is not None
            created.append(
                CommissionEntry.objects.create(
                    brand_id=accrual.brand_id,
                    guide_id=accrual.guide_id,
                    kind=Kind.ADJUST if settled else Kind.REVERSE,
                    role=accrual.role,
                    amount=-(due - reversed_),
                    order_id=order.pk,
                    order_line_id=line.pk,
                    base_amount=accrual.base_amount,
                    rate_bp=accrual.rate_bp,
                    note="refund after settlement" if settled else "refund",
                )
            )
    return created


# --- subscribers of commerce's hooks (guides.apps) ----------------------------------------------


def on_order_paid(paid) -> None:
    """"order paid": the order's commission accrues (in the payment's transaction)."""
    commission_accrue(order=paid.order)


def on_order_refunded(refunded) -> None:
    """"order refunded": the refunded share of the commission is reversed (in the refund's transaction)."""
    commission_sync_refunds(order=refunded.order)
