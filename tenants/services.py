import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth import authenticate, get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from tenants import brand_state
from tenants.auth import forget_customers
from tenants.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound
from tenants.models import Brand, Customer, Membership, StaffInvitation
from tenants.scoping import brand_scope
from tenants.wechat import mini_program_client


def brand_for_appid(appid: str) -> Brand:
    brand = Brand.objects.filter(appid=appid).first()
    if brand is None:
        raise InvalidInput(
            "unknown_appid", "No brand uses this mini-program appid.", fields={"appid": ["Unknown appid."]}
        )
    return brand


def customer_login(*, brand: Brand, code: str, nickname: str = "", avatar_url: str = "") -> Customer:
    """Exchange a ``wx.login`` code for the brand's customer, creating them on first sight."""
    if not brand.is_active:
        raise Forbidden("brand_suspended", f"The brand {brand.slug!r} is suspended.")
    session = mini_program_client(brand).code_to_session(code)
    now = timezone.now()
    profile = {k: v for k, v in {"nickname": nickname, "avatar_url": avatar_url}.items() if v}
    with brand_scope(brand):
        try:
            with transaction.atomic():
                customer, _ = Customer.objects.get_or_create(
                    brand=brand, openid=session.openid, defaults={"unionid": session.unionid, **profile}
                )
        except IntegrityError:  # the same user's parallel first logins: the other one created it
            customer = Customer.objects.get(openid=session.openid)
        changed = {"last_login_at": now, **profile}
        if session.unionid and not customer.unionid:
            changed["unionid"] = session.unionid
        for field, value in changed.items():
            setattr(customer, field, value)
        customer.save(update_fields=list(changed))
    customer.brand = brand
    return customer


def customer_update_profile(*, brand: Brand, customer: Customer, **fields) -> Customer:
    editable = {"nickname", "avatar_url", "phone"}
    changed = {field: value for field, value in fields.items() if field in editable}
    for field, value in changed.items():
        setattr(customer, field, value)
    if changed:
        customer.full_clean(validate_unique=False)
        customer.save(update_fields=list(changed))
    return customer


def staff_login(*, username: str, password: str):
    user = authenticate(username=username, password=password)
    if user is None or not user.is_active:
        raise NotAuthenticated("invalid_credentials", "Wrong username or password.")
    return user


def staff_brands(user) -> list[dict]:
    """The brands a staff user may act for, with their role in each."""
    memberships = Membership.unscoped.filter(user=user).select_related("brand").order_by("brand__name", "brand_id")
    return [
        {"id": m.brand_id, "slug": m.brand.slug, "name": m.brand.name, "role": m.role, "status": m.brand.status}
        for m in memberships
    ]


@transaction.atomic
def brand_create(
    *, slug: str, name: str, appid: str, app_secret: str = "", timezone_name: str = "Asia/Shanghai", owner=None
) -> Brand:
    brand = Brand(slug=slug, name=name, appid=appid, app_secret=app_secret, timezone=timezone_name)
    brand.full_clean()
    try:
        with transaction.atomic():
            brand.save()
    except IntegrityError as exc:  # a parallel create took the slug or appid after full_clean()
        raise Conflict("brand_exists", "A brand with this slug or appid exists.") from exc
    if owner is not None:
        Membership.objects.create(brand=brand, user=owner, role=Membership.Role.OWNER)
    return brand


# The settings a brand's owners change themselves (console API and admin; operators read them);
# the rest of a brand (slug, appid, AppSecret, status, plan limits) is the platform operator's.
BRAND_SETTINGS = (
    "name",
    "timezone",
    "blocked_words",
    "blocked_word_action",
    "comments_per_minute",
    "allow_anonymous_viewers",
    "reminder_lead_minutes",
    "reminder_template_id",
    "reminder_template_data",
    "reminder_cancel_notice",
)


def brand_update_settings(*, brand: Brand, **fields) -> Brand:
    """Settings a brand's owners may change themselves (``BRAND_SETTINGS``); others are ignored."""
    editable = set(BRAND_SETTINGS)
    changed = {field: value for field, value in fields.items() if field in editable}
    for field, value in changed.items():
        setattr(brand, field, value)
    if changed:
        brand.full_clean()
        brand.save(update_fields=list(changed))
    return brand


def brand_suspend(*, brand: Brand, reason: str = "") -> Brand:
    if brand.status == Brand.Status.SUSPENDED:
        raise Conflict("already_suspended", "The brand is already suspended.", fields={"status": brand.status})
    brand.status, brand.suspended_reason = Brand.Status.SUSPENDED, reason
    brand.save(update_fields=["status", "suspended_reason"])
    transaction.on_commit(forget_customers)  # at once here; other processes within CUSTOMER_CACHE_SECONDS
    brand_state.forget_on_commit(brand.pk)
    return brand


def brand_reactivate(*, brand: Brand) -> Brand:
    if brand.status == Brand.Status.ACTIVE:
        raise Conflict("already_active", "The brand is already active.", fields={"status": brand.status})
    brand.status, brand.suspended_reason = Brand.Status.ACTIVE, ""
    brand.save(update_fields=["status", "suspended_reason"])
    brand_state.forget_on_commit(brand.pk)
    return brand


def staff_user_create(*, username: str, password: str, email: str = "", is_superuser: bool = False):
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise Conflict("username_taken", "This username is taken.", fields={"username": ["Taken."]})
    if is_superuser:
        return User.objects.create_superuser(username=username, password=password, email=email)
    return User.objects.create_user(username=username, password=password, email=email)


# --- staff invitations ---------------------------------------------------------------------------

INVITATION_LIFETIME = timedelta(days=7)

# Who may invite to which role: operators run the brand's daily work, so only owners make them.
INVITING_ROLES = {
    Membership.Role.OWNER: frozenset(StaffInvitation.Role.values),
    Membership.Role.OPERATOR: frozenset({Membership.Role.STORE_MANAGER, Membership.Role.GUIDE}),
}


def _code_digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def staff_invitation_create(
    *, brand: Brand, role: str, invited_by, inviter_role: str, note: str = ""
) -> tuple[StaffInvitation, str]:
    """A pending invitation and its one-time code (shown once: only its digest is kept)."""
    if role not in INVITING_ROLES.get(inviter_role, ()):
        raise Forbidden("role_not_allowed", f"A {inviter_role} cannot invite a {role}.", fields={"role": [role]})
    code = secrets.token_urlsafe(24)
    invitation = StaffInvitation.objects.create(
        brand=brand,
        role=role,
        note=note,
        code_digest=_code_digest(code),
        invited_by=invited_by,
        expires_at=timezone.now() + INVITATION_LIFETIME,
    )
    return invitation, code


def staff_invitation_revoke(*, brand: Brand, invitation: StaffInvitation) -> StaffInvitation:
    revoked = StaffInvitation.objects.filter(pk=invitation.pk, status=StaffInvitation.Status.PENDING).update(
        status=StaffInvitation.Status.REVOKED
    )
    if not revoked:
        raise Conflict("invitation_closed", "The invitation was accepted or revoked already.")
    invitation.refresh_from_db()
    return invitation


@transaction.atomic
def staff_invitation_accept(*, user, code: str) -> Membership:
    """The account, logged in as itself, joins the invitation's brand in its role.

    The only way an existing account joins a second brand. A code that is unknown, expired,
    revoked or used answers the same 404, so codes cannot be probed.
    """
    invitation = (
        StaffInvitation.unscoped.select_for_update()
        .select_related("brand")
        .filter(code_digest=_code_digest(code or ""), status=StaffInvitation.Status.PENDING)
        .first()
    )
    if invitation is None or invitation.expires_at <= timezone.now():
        raise NotFound("invitation_not_found", "No such invitation, or it has expired.")
    if user.is_superuser:
        raise Conflict("platform_account", "The platform's accounts act for every brand already.")
    brand = invitation.brand
    if not brand.is_active:
        raise Forbidden("brand_suspended", f"The brand {brand.slug!r} is suspended.")
    if Membership.unscoped.filter(brand=brand, user=user).exists():
        raise Conflict("already_a_member", "You are a member of this brand already.")
    with brand_scope(brand):
        membership = Membership.objects.create(brand=brand, user=user, role=invitation.role)
        invitation.status, invitation.accepted_by, invitation.accepted_at = (
            StaffInvitation.Status.ACCEPTED,
            user,
            timezone.now(),
        )
        invitation.save(update_fields=["status", "accepted_by", "accepted_at"])
    return membership
