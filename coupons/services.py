"""Coupons: templates; giving coupons out (claim, live-room drop, guide issue, referral reward);
using them online (lock to an order, consume on payment, release on cancellation) and in store.

Every limit is the database's. A coupon is given out in one transaction that takes, in order:
the customer's ``CouponHolding`` (an upsert that refuses to pass the per-customer limit), the
coupon row (a drop's unique (drop, customer)), the drop's ``claimed`` and the template's
``issued`` (conditional UPDATEs that refuse to pass their quantity) — the rows every claimant
of a storm updates last, so each transaction holds their locks as briefly as possible. Any
refusal rolls the whole claim back. A coupon's state only moves by conditional UPDATEs, so it is
locked, consumed, released or redeemed exactly once, whatever the retries.
"""

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from commerce.models import Order, Product
from coupons.models import (
    Coupon,
    CouponDrop,
    CouponHolding,
    CouponTemplate,
    CouponUse,
    InviteCode,
    Redemption,
    Referral,
    ReferralProgram,
)
from guides.models import Guide, Store
from guides.selectors import bound_guide
from livestream.models import LiveRoom
from livestream.realtime import publish_room_event
from tenants.errors import Conflict, DomainError, InvalidInput, NotFound
from tenants.models import Brand, Customer
from tenants.scoping import brand_scope

logger = logging.getLogger("siyu.coupons")

Status = CouponTemplate.Status
DROP_ROOMS = (LiveRoom.Status.LIVE, LiveRoom.Status.PAUSED)
CODE_TTL_SECONDS = 300  # a shown code is good for five minutes: a screenshot soon stops working
INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed by hand
INVITE_LENGTH = 8

# Once a template has given out coupons, what those coupons are worth and where they work is fixed.
FROZEN_WHEN_ISSUED = frozenset(
    {
        "kind",
        "amount_off",
        "percent_off",
        "max_discount",
        "min_spend",
        "validity",
        "valid_from",
        "valid_until",
        "valid_days",
        "channel",
        "store_id",
    }
)


# --- templates -----------------------------------------------------------------------------------


def get_template(template_id) -> CouponTemplate:
    template = CouponTemplate.objects.filter(pk=template_id).first()
    if template is None:
        raise NotFound("template_not_found", "No such coupon template.")
    return template


def _store(store_id) -> Store | None:
    if store_id is None:
        return None
    store = Store.objects.filter(pk=store_id).first()
    if store is None:
        raise NotFound("store_not_found", "No such store.", fields={"store_id": ["No such store."]})
    return store


def _products(product_ids) -> list[Product]:
    ids = set(product_ids)
    products = list(Product.objects.filter(pk__in=ids))
    missing = sorted(ids - {p.pk for p in products})
    if missing:
        raise NotFound("product_not_found", "No such product.", fields={"product_ids": missing})
    return products


def _clean_template(template: CouponTemplate, product_ids) -> None:
    try:
        template.full_clean(exclude=["brand", "products"])
    except ValidationError as exc:
        raise InvalidInput("invalid", _first(exc.message_dict), fields=exc.message_dict) from None
    if template.scope == CouponTemplate.Scope.PRODUCTS and not product_ids:
        raise InvalidInput(
            "invalid", "List at least one product.", fields={"product_ids": ["List at least one product."]}
        )


def _first(errors: dict) -> str:
    field, messages = next(iter(errors.items()))
    return f"{field}: {messages[0]}"


@transaction.atomic
def coupon_template_create(*, brand: Brand, product_ids=(), store_id: int | None = None, **fields) -> CouponTemplate:
    with brand_scope(brand):
        template = CouponTemplate(brand=brand, store=_store(store_id), **fields)
        products = _products(product_ids)
        _clean_template(template, product_ids)
        template.save()
        template.products.set(products)
        return template


@transaction.atomic
def coupon_template_update(*, brand: Brand, template: CouponTemplate, product_ids=None, **changes) -> CouponTemplate:
    """Change a template. Once it has given out coupons, their worth, window, channel and store
    stay as they were (409 ``template_in_use``); its quantity never drops below what it gave."""
    with brand_scope(brand):
        # Holding the row keeps claims (which UPDATE it) out while the new quantity is checked.
        template = CouponTemplate.objects.select_for_update().get(pk=template.pk)
        if "store_id" in changes:
            changes["store_id"] = getattr(_store(changes["store_id"]), "pk", None)
        frozen = sorted(
            name for name in FROZEN_WHEN_ISSUED & changes.keys() if changes[name] != getattr(template, name)
        )
        if template.issued and frozen:
            raise Conflict(
                "template_in_use",
                "Coupons of this template were given out: what they are worth cannot change.",
                fields={name: ["Fixed once coupons were given out."] for name in frozen},
            )
        for name, value in changes.items():
            setattr(template, name, value)
        if template.total_quantity is not None and template.total_quantity < template.issued:
            raise InvalidInput(
                "invalid",
                f"{template.issued} coupons were already given out.",
                fields={"total_quantity": [f"At least {template.issued}."]},
            )
        products = _products(product_ids) if product_ids is not None else None
        _clean_template(
            template, product_ids if product_ids is not None else template.products.values_list("pk", flat=True)
        )
        template.save()
        if products is not None:
            template.products.set(products)
        return template


@transaction.atomic
def coupon_template_retire(*, brand: Brand, template: CouponTemplate) -> CouponTemplate:
    """No more coupons of this template are given out; the ones given out stay valid."""
    with brand_scope(brand):
        CouponTemplate.objects.filter(pk=template.pk).update(status=Status.RETIRED, updated_at=timezone.now())
        template.refresh_from_db()
        return template


# --- giving coupons out ------------------------------------------------------------------------


def _check_issuable(template: CouponTemplate, customer: Customer, now: datetime) -> None:
    if template.status != Status.ACTIVE:
        raise Conflict("template_retired", "This coupon is no longer given out.")
    if template.validity == CouponTemplate.Validity.FIXED and template.valid_until <= now:
        raise Conflict("template_expired", "This coupon's validity has ended.")
    if template.remaining is not None and template.remaining <= 0:
        raise Conflict("coupon_sold_out", "All of these coupons were given out.")
    if template.audience == CouponTemplate.Audience.NEW_CUSTOMERS and not customer.is_new:
        raise Conflict("coupon_new_customers_only", "This coupon is for customers without a paid order.")
    if template.audience == CouponTemplate.Audience.MEMBERS and not customer.is_member:
        raise Conflict("coupon_members_only", "This coupon is for members.")


def _window(template: CouponTemplate, now: datetime) -> tuple[datetime, datetime]:
    if template.validity == CouponTemplate.Validity.FIXED:
        return template.valid_from, template.valid_until
    return now, now + timedelta(days=template.valid_days)


def _add_to_holding(template: CouponTemplate, customer: Customer) -> bool:
    """One statement that upserts the customer's count and refuses to pass the limit, so one
    customer's parallel claims serialize on their row and the limit holds."""
    table = CouponHolding._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (brand_id, template_id, customer_id, count) VALUES (%s, %s, %s, 1)
            ON CONFLICT (brand_id, template_id, customer_id)
            DO UPDATE SET count = {table}.count + 1
            WHERE {table}.count + 1 <= %s
            RETURNING count
            """,
            [template.brand_id, template.pk, customer.pk, template.per_customer_limit],
        )
        return cursor.fetchone() is not None


def _issue(
    template: CouponTemplate,
    customer: Customer,
    *,
    source: str,
    now: datetime,
    drop: CouponDrop | None = None,
    guide: Guide | None = None,
    per_customer_limit: bool = True,
) -> Coupon:
    """Give ``customer`` one coupon inside the caller's transaction, or raise (409) and let the
    caller's transaction roll back everything taken so far."""
    if per_customer_limit and not _add_to_holding(template, customer):
        raise Conflict(
            "coupon_limit_reached",
            f"At most {template.per_customer_limit} of this coupon per customer.",
            fields={"limit": template.per_customer_limit},
        )
    valid_from, valid_until = _window(template, now)
    coupon = Coupon(
        brand_id=template.brand_id,
        template=template,
        customer=customer,
        source=source,
        drop=drop,
        issued_by=guide,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    try:
        with transaction.atomic():
            coupon.save()
    except IntegrityError:
        raise Conflict("drop_already_claimed", "You already claimed a coupon from this drop.") from None
    if drop is not None and not CouponDrop.objects.filter(pk=drop.pk, claimed__lt=F("quantity")).update(
        claimed=F("claimed") + 1
    ):
        raise Conflict("drop_sold_out", "All the coupons of this drop were claimed.")
    taken = (
        CouponTemplate.objects.filter(pk=template.pk, status=Status.ACTIVE)
        .filter(Q(total_quantity__isnull=True) | Q(issued__lt=F("total_quantity")))
        .update(issued=F("issued") + 1)
    )
    if not taken:
        template.refresh_from_db(fields=["status", "issued"])
        if template.status != Status.ACTIVE:
            raise Conflict("template_retired", "This coupon is no longer given out.")
        raise Conflict("coupon_sold_out", "All of these coupons were given out.")
    return coupon


@transaction.atomic
def coupon_claim(*, brand: Brand, customer: Customer, template_id: int, now: datetime | None = None) -> Coupon:
    """The customer claims a coupon the brand offers in the mini-program."""
    now = now or timezone.now()
    with brand_scope(brand):
        template = get_template(template_id)
        if not template.claimable:
            raise Conflict("template_not_claimable", "This coupon cannot be claimed; it is given out otherwise.")
        _check_issuable(template, customer, now)
        return _issue(template, customer, source=Coupon.Source.CLAIM, now=now)


@transaction.atomic
def coupon_issue_as_prize(*, brand: Brand, customer: Customer, template_id: int, now: datetime | None = None) -> Coupon:
    """Give a customer one coupon they won (a live-room lottery or gift box). The template's
    quantity and state still hold; its claim limit does not (a prize is not a claim)."""
    now = now or timezone.now()
    with brand_scope(brand):
        template = get_template(template_id)
        if template.status != Status.ACTIVE:
            raise Conflict("template_retired", "This coupon is no longer given out.")
        if template.validity == CouponTemplate.Validity.FIXED and template.valid_until <= now:
            raise Conflict("template_expired", "This coupon's validity has ended.")
        return _issue(template, customer, source=Coupon.Source.REWARD, now=now, per_customer_limit=False)


def drop_event_data(drop: CouponDrop) -> dict:
    template = drop.template
    return {
        "id": drop.pk,
        "room_id": drop.room_id,
        "template_id": template.pk,
        "name": template.name,
        "description": template.description,
        "quantity": drop.quantity,
        "remaining": drop.remaining,
    }


def drop_refusal(template: CouponTemplate, *, quantity: int = 1, now: datetime) -> Conflict | None:
    """Why ``quantity`` coupons of ``template`` cannot be dropped into a live room (None: they
    can): the drop's rule, also what the console's template list marks ``droppable``."""
    if template.status != Status.ACTIVE:
        return Conflict("template_retired", "This coupon is no longer given out.")
    if template.store_id is not None:
        return Conflict("template_store_exclusive", "A store's own coupon is given out by its guides.")
    if template.validity == CouponTemplate.Validity.FIXED and template.valid_until <= now:
        return Conflict("template_expired", "This coupon's validity has ended.")
    if template.remaining is not None and template.remaining < quantity:
        return Conflict(
            "not_enough_coupons",
            f"Only {template.remaining} of these coupons are left.",
            fields={"remaining": template.remaining},
        )
    return None


@transaction.atomic
def coupon_drop(*, brand: Brand, room: LiveRoom, template_id: int, quantity: int, staff=None) -> CouponDrop:
    """Drop ``quantity`` coupons of a template into a live room (``coupon.drop`` to its viewers)."""
    with brand_scope(brand):
        room = LiveRoom.objects.select_for_update().get(pk=room.pk)
        if room.status not in DROP_ROOMS:
            raise Conflict("room_not_live", "Coupons are dropped into a live room.", fields={"status": room.status})
        template = get_template(template_id)
        refusal = drop_refusal(template, quantity=quantity, now=timezone.now())
        if refusal is not None:
            raise refusal
        drop = CouponDrop(brand=brand, room=room, template=template, quantity=quantity, dropped_by=staff)
        try:
            drop.full_clean(exclude=["brand", "room", "template", "dropped_by"])
        except ValidationError as exc:
            raise InvalidInput("invalid", _first(exc.message_dict), fields=exc.message_dict) from None
        drop.save()
        publish_room_event(room.pk, "coupon.drop", drop_event_data(drop))
        return drop


def get_drop(drop_id) -> CouponDrop:
    drop = CouponDrop.objects.filter(pk=drop_id).select_related("template", "room").first()
    if drop is None:
        raise NotFound("drop_not_found", "No such coupon drop.")
    return drop


@transaction.atomic
def coupon_drop_claim(*, brand: Brand, customer: Customer, drop_id: int, now: datetime | None = None) -> Coupon:
    """A viewer claims one coupon of a live-room drop: first come, first served, one each."""
    now = now or timezone.now()
    with brand_scope(brand):
        drop = get_drop(drop_id)
        if drop.room.status not in DROP_ROOMS:
            raise Conflict("drop_closed", "The live room has ended.")
        if drop.remaining <= 0:  # a sold-out drop turns a storm away before it writes anything
            raise Conflict("drop_sold_out", "All the coupons of this drop were claimed.")
        if Coupon.objects.filter(drop=drop, customer=customer).exists():
            raise Conflict("drop_already_claimed", "You already claimed a coupon from this drop.")
        _check_issuable(drop.template, customer, now)
        return _issue(drop.template, customer, source=Coupon.Source.DROP, now=now, drop=drop)


@transaction.atomic
def coupon_issue_by_guide(
    *, brand: Brand, guide: Guide, template_id: int, customer_id: int, now: datetime | None = None
) -> Coupon:
    """A guide gives one of their store's coupons to a customer bound to them."""
    now = now or timezone.now()
    with brand_scope(brand):
        template = get_template(template_id)
        if template.store_id is None:
            raise Conflict("template_not_store_coupon", "Guides give out their store's own coupons.")
        if template.store_id != guide.store_id:
            raise NotFound("template_not_found", "No such coupon template.")  # another store's: not yours to see
        customer = Customer.objects.filter(pk=customer_id).first()
        if customer is None:
            raise NotFound("customer_not_found", "No such customer.")
        bound = bound_guide(customer)
        if bound is None or bound.pk != guide.pk:
            raise Conflict("customer_not_bound", "This customer is not bound to you.")
        _check_issuable(template, customer, now)
        return _issue(template, customer, source=Coupon.Source.GUIDE, now=now, guide=guide)


# --- online: an order's coupon -------------------------------------------------------------------


@dataclass
class CouponOffer:
    """A coupon that may go on an order, with what pricing needs to apply it."""

    coupon: Coupon
    template: CouponTemplate
    product_ids: frozenset

    def covers(self, product) -> bool:
        scope = self.template.scope
        if scope == CouponTemplate.Scope.PRODUCTS:
            return product.pk in self.product_ids
        if scope == CouponTemplate.Scope.CATEGORIES:
            return product.category in self.template.categories
        return True

    def discount_on(self, eligible_amount: int) -> int:
        """The discount on what the covered lines cost; 409 if they do not qualify."""
        if eligible_amount <= 0:
            raise Conflict("coupon_not_applicable", "This coupon does not cover anything in the order.")
        if eligible_amount < self.template.min_spend:
            raise Conflict(
                "coupon_min_spend_not_met",
                f"This coupon needs {self.template.min_spend} fen of eligible items.",
                fields={"min_spend": self.template.min_spend, "eligible_amount": eligible_amount},
            )
        return self.template.discount_for(eligible_amount)


def coupon_options_for_purchase(*, customer: Customer, sku, quantity: int, now: datetime | None = None) -> list[dict]:
    """The customer's available coupons for buying ``quantity`` of ``sku`` online at its price, as
    the order would judge them: each with ``applies``, the ``discount`` it would give, or the
    ``refusal`` the order would answer (``coupon_not_applicable``, ``coupon_min_spend_not_met``).
    In-store coupons are left out. Those that apply first, the largest discount first."""
    from coupons.selectors import customer_coupons

    now = now or timezone.now()
    amount = sku.price * quantity
    options = []
    for coupon in customer_coupons(customer, "available").prefetch_related("template__products"):
        template = coupon.template
        if template.channel == CouponTemplate.Channel.IN_STORE or _unusable(coupon, now) is not None:
            continue
        product_ids = frozenset(p.pk for p in template.products.all())
        offer = CouponOffer(coupon=coupon, template=template, product_ids=product_ids)
        try:  # as pricing applies it (commerce.services.pricing): never the whole amount
            discount, refusal = min(offer.discount_on(amount if offer.covers(sku.product) else 0), amount - 1), None
        except Conflict as problem:
            discount, refusal = 0, problem.code
        options.append({"coupon": coupon, "applies": refusal is None, "discount": discount, "refusal": refusal})
    return sorted(options, key=lambda option: (not option["applies"], -option["discount"]))


def _unusable(coupon: Coupon, now: datetime) -> Conflict | None:
    if coupon.status == Coupon.Status.USED:
        return Conflict("coupon_used", "This coupon was already used.")
    if coupon.status == Coupon.Status.LOCKED:
        return Conflict("coupon_in_use", "This coupon is held by another unpaid order.")
    if now < coupon.valid_from:
        return Conflict(
            "coupon_not_yet_valid", "This coupon is not valid yet.", fields={"valid_from": coupon.valid_from}
        )
    if now >= coupon.valid_until:
        return Conflict("coupon_expired", "This coupon has expired.", fields={"valid_until": coupon.valid_until})
    return None


def coupon_offer_for_order(*, customer: Customer, coupon_id: int, now: datetime) -> CouponOffer:
    """The customer's coupon, checked for an online order (owner, state, validity, channel); the
    lines it covers and the minimum spend are checked when the order is priced. No lock yet."""
    coupon = Coupon.objects.filter(pk=coupon_id, customer=customer).select_related("template").first()
    if coupon is None:
        raise NotFound("coupon_not_found", "No such coupon.", fields={"coupon_id": ["No such coupon."]})
    problem = _unusable(coupon, now)
    if problem is not None:
        raise problem
    template = coupon.template
    if template.channel == CouponTemplate.Channel.IN_STORE:
        raise Conflict("coupon_in_store_only", "This coupon is used in store.")
    product_ids = frozenset()
    if template.scope == CouponTemplate.Scope.PRODUCTS:
        product_ids = frozenset(template.products.values_list("pk", flat=True))
    return CouponOffer(coupon=coupon, template=template, product_ids=product_ids)


def coupon_lock(*, offer: CouponOffer, order: Order, discount: int, now: datetime) -> None:
    """Hold the coupon for ``order`` (inside the order's transaction): one conditional UPDATE, so
    two orders racing for one coupon cannot both have it."""
    coupon = offer.coupon
    locked = Coupon.objects.filter(
        pk=coupon.pk, customer_id=order.customer_id, status=Coupon.Status.AVAILABLE, valid_until__gt=now
    ).update(status=Coupon.Status.LOCKED)
    if not locked:
        coupon.refresh_from_db()
        raise _unusable(coupon, now) or Conflict("coupon_in_use", "This coupon is held by another unpaid order.")
    order.placed_coupon_use = CouponUse.objects.create(
        brand_id=order.brand_id, coupon=coupon, order=order, discount=discount
    )


def coupon_release_for_order(*, order: Order) -> None:
    """The order will not be paid: its coupon becomes available again (once, whoever asks twice)."""
    use = CouponUse.objects.filter(order_id=order.pk, released_at__isnull=True).first()
    if use is None:
        return
    if CouponUse.objects.filter(pk=use.pk, released_at__isnull=True).update(released_at=timezone.now()):
        Coupon.objects.filter(pk=use.coupon_id, status=Coupon.Status.LOCKED).update(status=Coupon.Status.AVAILABLE)


def coupons_order_paid(*, order: Order, paid_at: datetime) -> None:
    """The order was paid (inside the payment's transaction): its coupon is used, and if this is a
    referred customer's first paid order, the inviter is rewarded."""
    with brand_scope(order.brand):
        use = CouponUse.objects.filter(order_id=order.pk, released_at__isnull=True).first()
        if use is not None:
            Coupon.objects.filter(pk=use.coupon_id, status=Coupon.Status.LOCKED).update(
                status=Coupon.Status.USED, used_at=paid_at
            )
        _reward_referral(order.brand, order.customer_id, paid_at)


# --- in store: codes and redemption (核销) -------------------------------------------------------


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt="coupons.redemption-code")


def coupon_code(*, brand: Brand, coupon: Coupon, now: datetime | None = None) -> tuple[str, datetime]:
    """A short signed payload naming the coupon, good for ``CODE_TTL_SECONDS``: shown as a QR code."""
    now = now or timezone.now()
    with brand_scope(brand):
        if coupon.template.channel == CouponTemplate.Channel.ONLINE:
            raise Conflict("coupon_online_only", "This coupon is used online.")
        problem = _unusable(coupon, now)
        if problem is not None:
            raise problem
        return _signer().sign(f"{brand.pk}.{coupon.pk}"), now + timedelta(seconds=CODE_TTL_SECONDS)


def _coupon_id_from_code(brand: Brand, code: str) -> int:
    try:
        value = _signer().unsign(code.strip(), max_age=CODE_TTL_SECONDS)
    except signing.SignatureExpired:
        raise Conflict("code_expired", "This code has expired: ask the customer to show it again.") from None
    except signing.BadSignature:
        raise InvalidInput("invalid_code", "Not a coupon code.", fields={"code": ["Not a coupon code."]}) from None
    brand_id, _, coupon_id = value.partition(".")
    if brand_id != str(brand.pk):
        raise NotFound("coupon_not_found", "No such coupon.")  # another brand's coupon
    return int(coupon_id)


@transaction.atomic
def coupon_redeem(*, brand: Brand, guide: Guide, code: str, now: datetime | None = None) -> Redemption:
    """A guide scans a customer's code in store: the coupon is used, recorded with store and guide."""
    now = now or timezone.now()
    with brand_scope(brand):
        coupon = Coupon.objects.filter(pk=_coupon_id_from_code(brand, code)).select_related("template").first()
        if coupon is None:
            raise NotFound("coupon_not_found", "No such coupon.")
        template = coupon.template
        if template.channel == CouponTemplate.Channel.ONLINE:
            raise Conflict("coupon_online_only", "This coupon is used online.")
        if template.store_id is not None and template.store_id != guide.store_id:
            raise Conflict("coupon_wrong_store", "This coupon is redeemed only at its own store.")
        used = Coupon.objects.filter(
            pk=coupon.pk, status=Coupon.Status.AVAILABLE, valid_from__lte=now, valid_until__gt=now
        ).update(status=Coupon.Status.USED, used_at=now)
        if not used:
            coupon.refresh_from_db()
            raise _unusable(coupon, now) or Conflict("coupon_used", "This coupon was already used.")
        coupon.status, coupon.used_at = Coupon.Status.USED, now
        return Redemption.objects.create(brand=brand, coupon=coupon, store_id=guide.store_id, guide=guide)


# --- referrals (裂变) -----------------------------------------------------------------------------


def invite_code_for(*, brand: Brand, customer: Customer) -> InviteCode:
    """The customer's invite code, made the first time they ask."""
    with brand_scope(brand):
        existing = InviteCode.objects.filter(customer=customer).first()
        if existing is not None:
            return existing
        for _ in range(5):
            code = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))
            try:
                with transaction.atomic():
                    return InviteCode.objects.create(brand=brand, customer=customer, code=code)
            except IntegrityError:
                # The customer's code was made by a parallel request, or the random code is taken.
                existing = InviteCode.objects.filter(customer=customer).first()
                if existing is not None:
                    return existing
        raise AssertionError("no free invite code after five tries")


@transaction.atomic
def invitation_accept(*, brand: Brand, customer: Customer, code: str) -> Referral:
    """A new customer accepts an invite: their inviter is rewarded when their first order is paid."""
    with brand_scope(brand):
        invite = InviteCode.objects.filter(code=code.strip().upper()).first()
        if invite is None:
            raise NotFound("invite_not_found", "No such invite code.", fields={"code": ["No such invite code."]})
        if invite.customer_id == customer.pk:
            raise Conflict("invite_own_code", "You cannot accept your own invite.")
        if not customer.is_new:
            raise Conflict("invite_not_new_customer", "Invites are for customers who have not bought yet.")
        try:
            with transaction.atomic():
                return Referral.objects.create(brand=brand, inviter_id=invite.customer_id, invitee=customer)
        except IntegrityError:
            raise Conflict("invite_already_accepted", "You already accepted an invite.") from None


def _reward_referral(brand: Brand, invitee_id: int, now: datetime) -> None:
    """Reward the inviter of a customer whose first order was paid, once: the conditional UPDATE
    that marks the referral rewarded is the only way in."""
    referral = Referral.objects.filter(invitee_id=invitee_id, rewarded_at__isnull=True).first()
    if referral is None or not Referral.objects.filter(pk=referral.pk, rewarded_at__isnull=True).update(
        rewarded_at=now
    ):
        return
    program = ReferralProgram.objects.filter(is_active=True).select_related("reward_template").first()
    template = program.reward_template if program is not None else None
    if template is None:
        return
    inviter = Customer.objects.get(pk=referral.inviter_id)
    try:
        # A reward that cannot be given (the template retired or given out) never fails the payment.
        with transaction.atomic():
            coupon = _issue(template, inviter, source=Coupon.Source.REWARD, now=now, per_customer_limit=False)
    except DomainError as exc:
        logger.warning("Referral %s not rewarded: %s", referral.pk, exc.code)
        return
    Referral.objects.filter(pk=referral.pk).update(reward_coupon=coupon)


@transaction.atomic
def referral_program_set(*, brand: Brand, is_active: bool, reward_template_id: int | None) -> ReferralProgram:
    with brand_scope(brand):
        template = get_template(reward_template_id) if reward_template_id is not None else None
        if is_active and template is None:
            raise InvalidInput(
                "invalid",
                "An active programme needs a reward coupon.",
                fields={"reward_template_id": ["Required when active."]},
            )
        program, _ = ReferralProgram.objects.update_or_create(
            brand=brand, defaults={"is_active": is_active, "reward_template": template}
        )
        return program


@transaction.atomic
def coupon_issue_for_follow_up(
    *, brand: Brand, customer: Customer, template_id: int, now: datetime | None = None
) -> Coupon:
    """A post-show follow-up gives the customer one coupon; the template's audience, quota and
    per-customer limit hold as for any other way of giving it out."""
    now = now or timezone.now()
    with brand_scope(brand):
        template = get_template(template_id)
        _check_issuable(template, customer, now)
        return _issue(template, customer, source=Coupon.Source.FOLLOW_UP, now=now)


# --- subscribers of commerce's hooks (coupons.apps) ---------------------------------------------


def on_order_paid(paid) -> None:
    """"order paid": the order's coupon is used (and a referral rewarded), in the payment's transaction."""
    coupons_order_paid(order=paid.order, paid_at=paid.paid_at)


def on_order_cancelled(cancelled) -> None:
    """"order cancelled": the order's coupon is available again, in the cancel's transaction."""
    coupon_release_for_order(order=cancelled.order)
