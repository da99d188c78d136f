"""Every field through which a brand's request can name a staff account is scoped to the brand's
own accounts: the serializers and filters of every API view, and the admin's forms.

Accounts are platform-wide (tenants.selectors.brand_accounts); a field added tomorrow that names
one without that rule fails here, not in production."""

from collections import defaultdict

import django_filters
import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.forms import ModelChoiceField
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import serializers
from rest_framework.request import Request

from tenants import scoping
from tenants.admin_site import BrandScopedAdmin
from tenants.errors import DomainError
from tenants.models import Membership

pytestmark = pytest.mark.django_db

# Fields that take a username and go through tenants.selectors.brand_account (tested one by one in
# test_staff_accounts.py), or that belong to no brand (logging in; the platform's own endpoints).
USERNAME_FIELDS = {
    ("guides.api.console", "StoreInputSerializer", "manager_username"),
    ("guides.api.console", "ConsoleStoreDetailApi.InputSerializer", "manager_username"),  # the same, for PATCH
    ("guides.api.console", "ConsoleGuideListCreateApi.InputSerializer", "username"),  # new, or the brand's own
    ("tenants.api.staff", "StaffLoginApi.InputSerializer", "username"),  # logging in
    ("tenants.api.platform", "PlatformBrandListCreateApi.InputSerializer", "owner_username"),  # the platform's
}


def views():
    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern):
                view = getattr(pattern.callback, "cls", None) or getattr(pattern.callback, "view_class", None)
                if view is not None and view.__module__.split(".")[0] in {
                    "tenants",
                    "commerce",
                    "livestream",
                    "guides",
                    "coupons",
                }:
                    yield view

    return sorted(set(walk(get_resolver().url_patterns)), key=lambda view: (view.__module__, view.__qualname__))


def serializer_classes(view):
    found = []
    for name in dir(view):
        value = getattr(view, name, None)
        if isinstance(value, type) and issubclass(value, serializers.BaseSerializer):
            found.append(value)
    return found


def fields_of(serializer, seen=None):
    """Every field of a serializer, nested ones included: (name, field)."""
    seen = set() if seen is None else seen
    if type(serializer) in seen:
        return
    seen.add(type(serializer))
    for name, field in serializer.fields.items():
        yield name, field
        inner = getattr(field, "child", None) or getattr(field, "child_relation", None)
        for candidate in (field, inner):
            if isinstance(candidate, serializers.Serializer):
                yield from fields_of(candidate, seen)


def test_no_serializer_names_an_account_except_through_the_brands_own():
    User = get_user_model()
    checked, username_fields = 0, set()
    for view in views():
        for serializer_class in serializer_classes(view):
            try:
                serializer = serializer_class()
                fields = list(fields_of(serializer))
            except Exception:
                continue
            for name, field in fields:
                checked += 1
                queryset = getattr(field, "queryset", None) or getattr(
                    getattr(field, "child_relation", None), "queryset", None
                )
                assert queryset is None or queryset.model is not User, (view, serializer_class, name)
                if "username" in name and not field.read_only and "Output" not in serializer_class.__name__:
                    username_fields.add((serializer_class.__module__, serializer_class.__qualname__, name))
    assert checked > 500  # the walk reached the API
    assert username_fields <= USERNAME_FIELDS, username_fields - USERNAME_FIELDS


def test_no_filter_chooses_among_accounts(brand, make_staff, make_customer):
    User = get_user_model()
    backend, checked = DjangoFilterBackend(), 0
    request = Request(RequestFactory().get("/"))
    request.user, request.brand, request.customer = make_staff(brand), brand, make_customer(brand)
    request.membership = Membership.unscoped.get(user=request.user)
    for view in views():
        if not (getattr(view, "filterset_class", None) or getattr(view, "filterset_fields", None)):
            continue
        instance = view(request=request, kwargs=defaultdict(int), format_kwarg=None)  # any id in the path
        with scoping.brand_scope(brand):
            try:
                queryset = instance.get_queryset()
            except DomainError:  # a list under an object of the path (id 0: none): its model is enough
                queryset = view.queryset
            filterset_class = backend.get_filterset_class(instance, queryset)
        for name, declared in filterset_class.base_filters.items():
            checked += 1
            target = declared.extra.get("queryset")
            model = getattr(target, "model", None)
            if model is None and isinstance(declared, django_filters.ModelChoiceFilter):
                model = queryset.model._meta.get_field(declared.field_name.split("__")[0]).related_model
            assert model is not User, (view, name)
    assert checked > 20


def test_every_admin_form_offers_only_the_brands_own_accounts(brand, other_brand, make_staff):
    own = make_staff(brand, Membership.Role.GUIDE, username="own-account")
    theirs = make_staff(other_brand, Membership.Role.OWNER, username="their-account")
    bare = make_staff(username="platform-account")
    operator = make_staff(brand, Membership.Role.OPERATOR)
    request = RequestFactory().get("/admin/")
    request.user, request.admin_role = operator, Membership.Role.OPERATOR
    User, checked = get_user_model(), 0
    with scoping.brand_scope(brand):
        for model, model_admin in admin.site._registry.items():
            if not isinstance(model_admin, BrandScopedAdmin):
                continue
            forms = [model_admin.get_form(request)]
            forms += [inline.get_formset(request).form for inline in model_admin.get_inline_instances(request)]
            for form in forms:
                for name, field in form.base_fields.items():
                    if isinstance(field, ModelChoiceField) and field.queryset.model is User:
                        checked += 1
                        offered = set(field.queryset)
                        assert own in offered and operator in offered, (model, name)
                        assert theirs not in offered and bare not in offered, (model, name)
    assert checked >= 2  # at least the store's manager and the guide's account
