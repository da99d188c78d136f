"""Tokens and principals: who a request is, and for which brand it acts (DESIGN §6).

* A customer token (from ``POST /api/v1/mp/login``) carries the customer and their brand.
* A staff token (from ``POST /api/v1/staff/login``) carries the user; each request names the brand
  it acts for in the ``X-Brand`` header (id or slug) and is refused unless the user is a member.

The same tokens authenticate websockets (``?token=`` or the ``Authorization`` header).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from tenants.errors import Forbidden, NotAuthenticated
from tenants.models import Brand, Customer, Membership
from tenants.sql import RowLoader

BRAND_HEADER = "HTTP_X_BRAND"


class CustomerAccessToken(AccessToken):
    token_type = "customer"

    @classmethod
    def for_customer(cls, customer: Customer) -> CustomerAccessToken:
        token = cls()
        token["customer_id"] = customer.pk
        token["brand_id"] = customer.brand_id
        return token


def staff_tokens(user) -> dict:
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def ensure_brand_active(brand: Brand) -> None:
    if not brand.is_active:
        raise Forbidden("brand_suspended", f"The brand {brand.slug!r} is suspended.")


def customer_from_token(raw_token: str | bytes) -> Customer:
    """Validate a customer token and load its customer (with the brand). Raises InvalidToken.

    Every customer request starts here, so both halves are remembered in this process (see
    ``_Remembered``): a token once verified, until it expires; the customer's and brand's row for
    ``settings.CUSTOMER_CACHE_SECONDS``. A suspended brand (or a changed customer) is therefore
    seen by every process within that many seconds, and at once by the process that changed it
    (``forget_customers``)."""
    claims = _remembered.claims(raw_token)
    customer = _remembered.customer(*claims)
    if customer is None:
        raise InvalidToken({"detail": "Customer not found.", "code": "token_not_valid"})
    return customer


def customer_claims(raw_token: str | bytes) -> tuple[int, int] | None:
    """``(customer_id, brand_id)`` of a valid customer token, or None: for the hot reads that need
    only the brand (the shared room detail). Verified in full the first time this process sees
    the token, then remembered until it expires (access tokens are not revocable)."""
    try:
        return _remembered.claims(raw_token)
    except InvalidToken:
        return None


@dataclass(frozen=True)
class TokenCustomer:
    """The customer a verified token names, before their row is read: ``pk`` and ``brand_id``
    from its claims, ``load()`` for the customer (``customer_from_token``; InvalidToken when the
    row is gone). Where only the ids are needed first (a flash sale's stock gate turns most
    buyers away), no row is read for those turned away."""

    pk: int
    brand_id: int
    raw_token: str | bytes

    def load(self) -> Customer:
        return customer_from_token(self.raw_token)


def token_customer(raw_token: str | bytes) -> TokenCustomer | None:
    """The verified token's customer as a TokenCustomer, or None for an invalid token."""
    claims = customer_claims(raw_token)
    return TokenCustomer(claims[0], claims[1], raw_token) if claims is not None else None


def remembered_brand(brand_id: int) -> Brand | None:
    """The brand's row as this process remembers it (with its customers' rows, or alone), for
    ``settings.CUSTOMER_CACHE_SECONDS`` like them; None if there is no such brand."""
    return _remembered.brand(brand_id)


class _Remembered:
    """Verified tokens and customer rows of this process, each instance built fresh per request
    so that no request sees another's changes to its objects. Bounded: emptied past MAX entries."""

    MAX = 50_000

    def __init__(self):
        self.tokens: dict[str | bytes, tuple[int, int, float]] = {}
        self.rows: dict[int, tuple[float, tuple, tuple]] = {}
        self.brands: dict[int, tuple[float, tuple]] = {}

    def claims(self, raw_token) -> tuple[int, int]:
        known = self.tokens.get(raw_token)
        if known is None or known[2] <= time.time():
            try:
                token = CustomerAccessToken(raw_token)
                known = (int(token["customer_id"]), int(token["brand_id"]), float(token["exp"]))
            except (TokenError, KeyError, TypeError, ValueError) as exc:
                raise InvalidToken({"detail": str(exc), "code": "token_not_valid"}) from exc
            if len(self.tokens) >= self.MAX:
                self.tokens.clear()
            self.tokens[raw_token] = known
        return known[0], known[1]

    def customer(self, customer_id, brand_id) -> Customer | None:
        seconds = settings.CUSTOMER_CACHE_SECONDS
        known = self.rows.get(customer_id)
        if known is None or known[0] <= time.time() or known[2][0] != brand_id:
            row = _customer_with_brand(customer_id, brand_id)
            if row is None:
                return None
            known = (time.time() + seconds, row[: _customers.width], row[_customers.width :])
            if seconds > 0:
                if len(self.rows) >= self.MAX:
                    self.rows.clear()
                self.rows[customer_id] = known
                self.brands[brand_id] = (known[0], known[2])
        customer = Customer.from_db(connection.alias, _customers.attnames, known[1])
        customer.brand = Brand.from_db(connection.alias, _brands.attnames, known[2])
        return customer

    def brand(self, brand_id) -> Brand | None:
        known = self.brands.get(brand_id)
        if known is None or known[0] <= time.time():
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT {_brands.columns} FROM {Brand._meta.db_table} b WHERE b.id = %s", [brand_id])
                row = cursor.fetchone()
            if row is None:
                return None
            known = (time.time() + settings.CUSTOMER_CACHE_SECONDS, tuple(_brands.convert(row)))
            if settings.CUSTOMER_CACHE_SECONDS > 0:
                if len(self.brands) >= self.MAX:
                    self.brands.clear()
                self.brands[brand_id] = known
        return Brand.from_db(connection.alias, _brands.attnames, known[1])


_remembered = _Remembered()


def forget_customers() -> None:
    """Drop this process's remembered customers and brands (after suspending a brand, in tests)."""
    _remembered.rows.clear()
    _remembered.brands.clear()


_customers, _brands = RowLoader(Customer, "c"), RowLoader(Brand, "b")


def _customer_with_brand(customer_id, brand_id) -> tuple | None:
    """The customer's and the brand's columns, converted, in one row: one query written out once
    instead of being compiled by the ORM on each request."""
    sql = (
        f"SELECT {_customers.columns}, {_brands.columns} FROM {Customer._meta.db_table} c "
        f"JOIN {Brand._meta.db_table} b ON b.id = c.brand_id WHERE c.id = %s AND c.brand_id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [customer_id, brand_id])
        row = cursor.fetchone()
    if row is None:
        return None
    return (*_customers.convert(row[: _customers.width]), *_brands.convert(row[_customers.width :]))


def staff_user_from_token(raw_token: str | bytes):
    try:
        token = AccessToken(raw_token)
    except TokenError as exc:
        raise InvalidToken({"detail": str(exc), "code": "token_not_valid"}) from exc
    user = get_user_model().objects.filter(pk=token.get("user_id"), is_active=True).first()
    if user is None:
        raise InvalidToken({"detail": "User not found or inactive.", "code": "token_not_valid"})
    return user


class CustomerAuthentication(JWTAuthentication):
    """``Authorization: Bearer <customer token>`` → ``request.user`` is the Customer."""

    def get_validated_token(self, raw_token):
        return raw_token

    def get_user(self, raw_token):
        return customer_from_token(raw_token)


class StaffAuthentication(JWTAuthentication):
    """``Authorization: Bearer <staff access token>`` → ``request.user`` is the Django user."""

    def get_validated_token(self, raw_token):
        return raw_token

    def get_user(self, raw_token):
        return staff_user_from_token(raw_token)


def brand_from_header(request) -> Brand:
    value = (request.META.get(BRAND_HEADER) or "").strip()
    if not value:
        raise Forbidden("brand_required", "Name the brand you act for in the X-Brand header (id or slug).")
    lookup = {"pk": int(value)} if value.isdigit() else {"slug": value}
    brand = Brand.objects.filter(**lookup).first()
    if brand is None:
        raise Forbidden("not_a_member", "You are not a member of this brand.")
    return brand


def staff_membership(user, brand: Brand, roles) -> Membership:
    """The user's membership of ``brand`` with one of ``roles``, or 403."""
    membership = Membership.unscoped.filter(user=user, brand=brand).first()
    if membership is None:
        raise Forbidden("not_a_member", "You are not a member of this brand.")
    if membership.role not in roles:
        raise Forbidden("role_not_allowed", f"Your role {membership.role!r} cannot use this endpoint.")
    return membership


def platform_membership(user, brand: Brand) -> Membership:
    """The platform operator (a superuser) acts in a brand's console as its owner: their own
    membership if they have one, else an unsaved one that only says so (never stored)."""
    membership = Membership.unscoped.filter(user=user, brand=brand).first()
    return membership or Membership(brand=brand, user=user, role=Membership.Role.OWNER)


def require_authenticated(user):
    if user is None or not getattr(user, "is_authenticated", False):
        raise NotAuthenticated("not_authenticated", "Authentication credentials were not provided.")
