"""The one tenant-scoping mechanism (DESIGN §5).

The brand of the current request, consumer or task lives in a context variable. Every
brand-owned model's default manager (``objects``) filters by it and **fails closed**: reading
with no brand in scope raises ``NoBrandInScope`` instead of returning every brand's rows.
Cross-brand reads are explicit: ``platform_scope()`` (the platform operator) or a model's
``unscoped`` manager.

API views, the admin, websocket consumers and Celery tasks enter the scope; services still take
the brand as an argument.
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from typing import TYPE_CHECKING

from django.db import models
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from tenants.models import Brand


class NoBrandInScope(RuntimeError):
    """A brand-owned model was read or written with no brand in scope."""


class CrossBrandWrite(RuntimeError):
    """An object of one brand was saved while another brand is in scope."""


class _Platform:
    """Sentinel scope: the platform operator reads across brands, knowingly."""

    def __repr__(self):
        return "PLATFORM"


PLATFORM = _Platform()

_current: contextvars.ContextVar[Brand | _Platform | None] = contextvars.ContextVar("siyu_brand_scope", default=None)


def current_scope() -> Brand | _Platform | None:
    return _current.get()


def current_brand() -> Brand | None:
    scope = _current.get()
    return None if scope is PLATFORM else scope


def activate(scope: Brand | _Platform | None) -> contextvars.Token:
    return _current.set(scope)


def deactivate(token: contextvars.Token) -> None:
    _current.reset(token)


@contextmanager
def brand_scope(brand: Brand):
    """Run a block (a task, a consumer event, a test) as ``brand``."""
    token = _current.set(brand)
    try:
        yield brand
    finally:
        _current.reset(token)


@contextmanager
def platform_scope():
    """Run a block that reads across brands on purpose (platform operator, reports)."""
    token = _current.set(PLATFORM)
    try:
        yield
    finally:
        _current.reset(token)


class _NoBrandGuard(models.Expression):
    """A WHERE condition that refuses to become SQL: reading with no brand in scope fails here.

    Failing at compile time (not when the queryset is built) lets libraries that only inspect
    a queryset (django-filter, admin checks) work, while every query that would run, including
    a subquery, ``count()``, ``update()`` and ``delete()``, raises.
    """

    output_field = models.BooleanField()

    def __init__(self, model_name: str):
        super().__init__()
        self.model_name = model_name

    def as_sql(self, compiler, connection):
        raise NoBrandInScope(
            f"{self.model_name} read with no brand in scope; use brand_scope(), platform_scope() "
            f"or {self.model_name}.unscoped"
        )


class BrandScopedManager(models.Manager):
    """Default manager of brand-owned models: only the brand in scope, or an error."""

    def get_queryset(self):
        queryset = super().get_queryset()
        scope = _current.get()
        if scope is None:
            return queryset.filter(_NoBrandGuard(self.model.__name__))
        if scope is PLATFORM:
            return queryset
        return queryset.filter(self.brand_filter(scope))

    def brand_filter(self, brand) -> models.Q:
        """Which rows ``brand`` owns. A table shared by two brands (a co-stream) widens it."""
        return models.Q(brand_id=brand.pk)

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)  # a generator would be used up by the loop below
        for obj in objs:
            obj.assign_scope_brand()
        return self.model.unscoped.db_manager(self.db).bulk_create(objs, *args, **kwargs)


def brand_field(**options) -> models.ForeignKey:
    """A BrandScopedModel's ``brand``; a hot table passes options (see commerce.models.HOT_PARENT)."""
    return models.ForeignKey(
        "tenants.Brand", on_delete=models.CASCADE, related_name="+", verbose_name=_("brand"), **options
    )


class BrandScopedModel(models.Model):
    """A table that belongs to one brand: non-null ``brand``, indexes and uniques led by it."""

    brand = brand_field()

    objects = BrandScopedManager()
    unscoped = models.Manager()

    class Meta:
        abstract = True
        base_manager_name = "unscoped"

    def assign_scope_brand(self):
        """Fill the brand from the scope, and refuse to write another brand's row."""
        brand = current_brand()
        if self.brand_id is None:
            if brand is None:
                raise NoBrandInScope(f"{type(self).__name__} saved with no brand")
            self.brand = brand
        elif brand is not None and self.brand_id != brand.pk:
            raise CrossBrandWrite(f"{type(self).__name__} of brand {self.brand_id} saved in brand {brand.pk}'s scope")

    def save(self, *args, **kwargs):
        self.assign_scope_brand()
        super().save(*args, **kwargs)
