"""The web admin for brand operators and the platform operator.

A brand's owners and operators log in to ``/admin/`` and work inside one brand at a time (a
switcher in the header when they belong to several). Everything they see comes through the
scoped managers, so lists, forms and foreign-key choices hold only that brand's rows. The
platform operator (a superuser) works in the platform scope and sees every brand.
"""

import json
import re
import types
from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import models
from django.http import HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import path
from django.utils import translation
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

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
    site_header = _("Siyu")
    site_title = _("Siyu admin")
    index_title = _("Live commerce administration")

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
            # Django's set_language (POST, CSRF-checked; it sets the language cookie): on the login page too.
            path("language/", set_language, name="set_language"),
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


# --- money in the admin: stored as integer fen, shown and entered as yuan ------------------------

# Every money field the admin shows, by model (integer fen). tests/tenants/test_admin_i18n.py fails
# when a model field whose help text speaks of fen is missing here.
MONEY_FIELDS = {
    "tenants.Brand": {"shipping_fee", "free_shipping_threshold"},
    "commerce.Product": {"price", "price2"},
    "commerce.Sku": {"price"},
    "commerce.Order": {"items_total", "discount_total", "shipping_fee", "payable", "refunded_total"},
    "commerce.OrderLine": {"unit_price", "discount", "refunded_amount"},
    "commerce.Payment": {"amount"},
    "commerce.Refund": {"amount"},
    "commerce.FlashSale": {"price"},
    "commerce.GroupBuyOffer": {"price"},
    "commerce.BargainOffer": {"floor_price"},
    "commerce.Bargain": {"start_price", "floor_price", "cut_total"},
    "commerce.BargainHelp": {"amount"},
    "coupons.CouponTemplate": {"amount_off", "max_discount", "min_spend"},
    "coupons.CouponUse": {"discount"},
    "guides.Settlement": {"amount"},
    "guides.CommissionEntry": {"amount", "base_amount"},
    "guides.LeaderboardEntry": {"gmv", "reward"},
}
_FEN_LIMIT = 2**31 - 1  # PostgreSQL's integer
_YUAN = re.compile(r"^(-)?(\d+)(?:\.(\d{1,2}))?$")


def money_fields(model) -> set[str]:
    return MONEY_FIELDS.get(model._meta.label, set())


def yuan_text(fen: int) -> str:
    """``199900`` → ``1999.00``: exact (integer arithmetic), the form's text."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def format_yuan(fen) -> str:
    """``199900`` → ``¥1,999.00``; ``-1230`` → ``-¥12.30``: a list's or a read-only field's money."""
    if fen is None:
        return "—"
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{abs(fen) // 100:,}.{abs(fen) % 100:02d}"


class YuanField(forms.Field):
    """A money field of the admin: shows fen as ``199.00`` and reads ``199``, ``199.5``, ``199.50``
    (an optional ``¥`` and thousands commas) back into fen, exactly (Decimal, never float).
    More than two decimals, or a negative amount where the model holds no negative, is refused."""

    default_error_messages = {
        "invalid": _("Enter an amount in yuan with at most two decimals, e.g. 199.00."),
        "negative": _("The amount cannot be negative."),
        "too_large": _("The amount is too large."),
    }

    def __init__(self, *, min_value=None, max_value=None, allow_negative=None, **kwargs):
        kwargs.pop("step_size", None)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "0.00", "size": 12}))
        super().__init__(**kwargs)
        self.allow_negative = (min_value is None or min_value < 0) if allow_negative is None else allow_negative

    def prepare_value(self, value):
        return yuan_text(value) if isinstance(value, int) and not isinstance(value, bool) else value

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value).strip().replace("¥", "").replace("￥", "").replace(",", "").strip()
        match = _YUAN.match(text)
        if match is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        try:
            fen = int(Decimal(text) * 100)
        except InvalidOperation:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        if fen < 0 and not self.allow_negative:
            raise forms.ValidationError(self.error_messages["negative"], code="negative")
        if abs(fen) > _FEN_LIMIT:
            raise forms.ValidationError(self.error_messages["too_large"], code="too_large")
        return fen

    def has_changed(self, initial, data):
        try:
            return self.to_python(initial) != self.to_python(data)
        except forms.ValidationError:
            return True


def _money_column(model, name):
    field = model._meta.get_field(name)

    def column(obj):
        return format_yuan(getattr(obj, name))

    column.short_description = field.verbose_name
    column.admin_order_field = name
    column.__name__ = f"{name}_yuan"
    return column


class MoneyAdminMixin:
    """Shows the model's ``MONEY_FIELDS`` as ``¥1,999.00`` in lists and read-only fields, and edits
    them with a ``YuanField``. Wraps the instance's field-list hooks, so what a subclass adds to its
    read-only fields (after ``super()``) is shown as money too."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._money = money_fields(self.model)
        if not self._money:
            return
        for name in self._money:
            setattr(self, f"{name}_yuan", _money_column(self.model, name))
        readonly, exclude, fields = self.get_readonly_fields, self.get_exclude, self.get_fields
        self.get_readonly_fields = lambda request, obj=None: self._as_yuan(readonly(request, obj))
        self.get_exclude = lambda request, obj=None: [
            *(exclude(request, obj) or []),
            *(name for name in readonly(request, obj) if name in self._money),
            *(f"{name}_yuan" for name in self._money),  # never a form field, shown or not
        ]

        def get_fields(request, obj=None):
            shown_only = set(readonly(request, obj))
            view_only = not self.has_change_permission(request, obj)
            return [
                f"{name}_yuan" if name in self._money and (view_only or name in shown_only) else name
                for name in fields(request, obj)
            ]

        self.get_fields = get_fields
        if hasattr(self, "get_list_display"):
            list_display = self.get_list_display
            self.get_list_display = types.MethodType(lambda self, request: self._as_yuan(list_display(request)), self)

    def _as_yuan(self, names):
        return [f"{n}_yuan" if isinstance(n, str) and n in self._money else n for n in names]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in getattr(self, "_money", ()) and db_field.model is self.model:
            with translation.override(None):
                speaks_of_fen = "fen" in str(db_field.help_text).lower()
            if speaks_of_fen or not db_field.help_text:
                kwargs["help_text"] = _("In yuan (¥), up to two decimals.")
            return db_field.formfield(form_class=YuanField, **kwargs)
        return super().formfield_for_dbfield(db_field, request, **kwargs)


# --- JSON fields in the admin --------------------------------------------------------------------


class PrettyJSONWidget(forms.Textarea):
    """A JSON field's text, indented (Chinese left as is); a list of URLs one per line."""

    def __init__(self, attrs=None, url_lines=False):
        super().__init__(attrs={"rows": 8, "cols": 80, "style": "font-family: monospace", **(attrs or {})})
        self.url_lines = url_lines

    def format_value(self, value):
        if value is None or value == "":
            return ""
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return value  # what the operator typed, shown back with its error
        if self.url_lines and isinstance(value, list) and all(isinstance(v, str) for v in value):
            return "\n".join(value)
        return json.dumps(value, ensure_ascii=False, indent=2)


class PrettyJSONField(forms.JSONField):
    """Reads JSON (or, for a list of URLs, one URL per line) and names what is wrong in the form."""

    default_error_messages = {"invalid": _("Not valid JSON: %(problem)s")}

    def __init__(self, *, url_lines=False, **kwargs):
        kwargs["widget"] = PrettyJSONWidget(url_lines=url_lines)
        super().__init__(**kwargs)
        self.url_lines = url_lines

    def to_python(self, value):
        if self.disabled:
            return value
        if self.url_lines and isinstance(value, str) and not value.strip().startswith("["):
            return [line.strip() for line in value.splitlines() if line.strip()]
        if value in self.empty_values:
            return None
        if isinstance(value, list | dict | int | float):
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                self.error_messages["invalid"],
                code="invalid",
                params={"problem": f"{exc.msg} (line {exc.lineno}, column {exc.colno})"},
            )

    def bound_data(self, data, initial):
        return initial if self.disabled else data

    def prepare_value(self, value):
        return value


# JSON fields that hold a list of URLs: edited one per line.
URL_LIST_FIELDS = {"commerce.Product": {"images"}}


def json_display(value):
    """A read-only JSON value: a dict as a two-column table, a list one item per line, else indented."""
    if isinstance(value, dict) and value and all(not isinstance(v, dict | list) for v in value.values()):
        rows = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", ((k, v) for k, v in value.items()))
        return format_html('<table class="siyu-json">{}</table>', rows)
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        return format_html_join("", "<div>{}</div>", ((v,) for v in value)) if value else "—"
    return format_html("<pre>{}</pre>", json.dumps(value, ensure_ascii=False, indent=2))


class JSONAdminMixin:
    """JSON fields edited with ``PrettyJSONField`` and shown read-only by ``json_display``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._json = {f.name for f in self.model._meta.fields if isinstance(f, models.JSONField)}
        if not self._json:
            return
        for name in self._json:
            setattr(self, f"{name}_json", _json_column(self.model, name))
        readonly, exclude, fields = self.get_readonly_fields, self.get_exclude, self.get_fields
        self.get_readonly_fields = lambda request, obj=None: [
            f"{n}_json" if isinstance(n, str) and n in self._json else n for n in readonly(request, obj)
        ]
        self.get_exclude = lambda request, obj=None: [
            *(exclude(request, obj) or []),
            *(name for name in readonly(request, obj) if name in self._json),
            *(f"{name}_json" for name in self._json),
        ]

        def get_fields(request, obj=None):
            shown_only = set(readonly(request, obj))
            view_only = not self.has_change_permission(request, obj)
            return [
                f"{name}_json" if name in self._json and (view_only or name in shown_only) else name
                for name in fields(request, obj)
            ]

        self.get_fields = get_fields

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.JSONField) and db_field.model is self.model:
            url_lines = db_field.name in URL_LIST_FIELDS.get(self.model._meta.label, ())
            return db_field.formfield(form_class=PrettyJSONField, url_lines=url_lines, **kwargs)
        return super().formfield_for_dbfield(db_field, request, **kwargs)


def _json_column(model, name):
    field = model._meta.get_field(name)

    def column(obj):
        return json_display(getattr(obj, name))

    column.short_description = field.verbose_name
    column.__name__ = f"{name}_json"
    return column


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


class BrandScopedAdmin(MoneyAdminMixin, JSONAdminMixin, admin.ModelAdmin):
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


class BrandScopedInline(MoneyAdminMixin, JSONAdminMixin, admin.TabularInline):
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


class PlatformAdmin(MoneyAdminMixin, JSONAdminMixin, admin.ModelAdmin):
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
