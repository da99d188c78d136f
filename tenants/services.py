from django.contrib.auth import authenticate, get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from tenants import brand_state
from tenants.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated
from tenants.models import Brand, Customer, Membership
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


def brand_update_settings(*, brand: Brand, **fields) -> Brand:
    """Settings a brand's owners and operators may change themselves."""
    editable = {"name", "timezone"}
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
