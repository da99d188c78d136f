"""The web admin for brand operators and the platform operator.

A brand's owners and operators log in to ``/admin/`` and work inside one brand at a time (a
switcher in the header when they belong to several). Everything they see comes through the
scoped managers, so lists, forms and foreign-key choices hold only that brand's rows. The
platform operator (a superuser) works in the platform scope and sees every brand.
"""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import models
from django.http import HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import path
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from tenants import scoping
from tenants.models import Membership
from tenants.selectors import brand_accounts

SESSION_KEY = "siyu_admin_brand_id"


def admin_memberships(user):
    """The memberships through which ``user`` may run a brand from the admin, in a stable order."""
    return list(
        Membership.unscoped.filter(user=user, role__in=Membership.CONSOLE_ROLES)
        .select_related("brand")
        .order_by("brand__name", "brand_id")
    )


def admin_scope_for(request):
    """The scope of an admin request: the platform, the brand chosen in the switcher, or none."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return scoping.PLATFORM
    memberships = admin_memberships(user)
    if not memberships:
        return None
    chosen = request.session.get(SESSION_KEY)
    membership = next((m for m in memberships if m.brand_id == chosen), memberships[0])
    request.admin_brands = [m.brand for m in memberships]
    request.admin_role = membership.role
    return membership.brand


class SiyuAdminSite(admin.AdminSite):
    site_header = "Siyu"
    site_title = "Siyu admin"
    index_title = "Live commerce administration"

    def has_permission(self, request):
        user = request.user
        if not (user.is_active and user.is_authenticated):
            return False
        return user.is_superuser or scoping.current_brand() is not None

    def each_context(self, request):
        context = super().each_context(request)
        context["siyu_brand"] = scoping.current_brand()
        context["siyu_brands"] = getattr(request, "admin_brands", [])
        return context

    def get_urls(self):
        return [
            path("brand/switch/", self.admin_view(require_POST(self.switch_brand)), name="switch_brand"),
            *super().get_urls(),
        ]

    def switch_brand(self, request):
        brand_id = request.POST.get("brand", "")
        if brand_id.isdigit() and any(b.pk == int(brand_id) for b in getattr(request, "admin_brands", [])):
            request.session[SESSION_KEY] = int(brand_id)
        next_url = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}):
            next_url = resolve_url("admin:index")
        return HttpResponseRedirect(next_url)


class BrandScopedModelForm(forms.ModelForm):
    """The base of every brand-scoped admin form: a new row takes the brand in scope before it is
    validated, so the uniques led by ``brand`` are checked as form errors (with ``brand`` left out
    of the form, Django would skip them and the database would answer a 500)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        brand = scoping.current_brand()
        if getattr(self.instance, "brand_id", None) is None and brand is not None:
            self.instance.brand = brand

    def _get_validation_exclusions(self):
        exclusions = super()._get_validation_exclusions()
        if getattr(self.instance, "brand_id", None) is not None:
            exclusions.discard("brand")
        return exclusions


def scoped_user_choices(db_field, request, kwargs) -> None:
    """A field naming a staff account offers, and accepts, only the brand's own accounts
    (``tenants.selectors.brand_accounts``); the platform operator chooses among all."""
    if db_field.related_model is get_user_model() and not request.user.is_superuser:
        brand = scoping.current_brand()
        kwargs["queryset"] = brand_accounts(brand) if brand is not None else get_user_model().objects.none()


class BrandScopedAdmin(admin.ModelAdmin):
    """Base of every admin page for a brand-owned model.

    Rows come through the scoped default manager (the brand in scope, or every brand for the
    platform operator); a new object gets the brand in scope on save; brand staff never see or
    pick the ``brand`` field. ``admin_roles`` names the membership roles allowed in.
    """

    admin_roles = Membership.CONSOLE_ROLES
    form = BrandScopedModelForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        scoped_user_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        scoped_user_choices(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _brand_staff_allowed(self, request):
        return scoping.current_brand() is not None and getattr(request, "admin_role", None) in self.admin_roles

    def has_module_permission(self, request):
        return request.user.is_superuser or self._brand_staff_allowed(request)

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_delete_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        if not request.user.is_superuser:
            exclude.append("brand")
        return exclude

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if request.user.is_superuser and obj is not None:
            readonly.append("brand")  # a row never moves between brands
        return readonly

    def get_list_display(self, request):
        columns = list(super().get_list_display(request))
        if request.user.is_superuser and "brand" not in columns:
            columns.append("brand")
        return columns

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if request.user.is_superuser and "brand" not in filters:
            filters.append("brand")
        return filters


class BrandScopedInline(admin.TabularInline):
    """An inline on a brand-scoped page: who may see or change it is decided by that page."""

    form = BrandScopedModelForm

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        scoped_user_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _parent_admin(self):
        return self.admin_site.get_model_admin(self.parent_model)

    def has_view_permission(self, request, obj=None):
        return self._parent_admin().has_view_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return self._parent_admin().has_change_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._parent_admin().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._parent_admin().has_change_permission(request, obj)


class ReadOnlyInline(BrandScopedInline):
    """A record shown on its parent's page that nobody edits there (order lines, history)."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PlatformAdmin(admin.ModelAdmin):
    """A page of the platform operator's own objects (brands, festivals): brand staff never see it."""

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser
