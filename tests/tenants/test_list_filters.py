"""Every filter of every list endpoint, tried on the demo's two brands as the endpoint's audience
would: an id of the brand's own (answered), an id of the other brand's (refused exactly like an id
that does not exist), and junk (refused in the error shape) — never a 500."""

import io

import django_filters
import pytest
from django.core.management import call_command
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.request import Request

from commerce.models import GroupBuyOffer
from conftest import Client
from livestream.models import LiveRoom
from tenants.api.base import ConsoleAPIView, CustomerAPIView
from tenants.api.filters import BrandFilterBackend
from tenants.api.platform import PlatformAPIView
from tenants.auth import CustomerAccessToken, staff_tokens
from tenants.models import Brand, Customer, Membership
from tenants.scoping import brand_scope

pytestmark = pytest.mark.django_db

NOWHERE = 2_000_000_000  # an id no row has
# The objects that a list's path names, by the path's argument: the brand's first one.
PATH_OBJECTS = {"room_id": LiveRoom, "offer_id": GroupBuyOffer}


def filtered_lists():
    def walk(patterns, prefix="/"):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                view = getattr(pattern.callback, "cls", None)
                if view and (getattr(view, "filterset_class", None) or getattr(view, "filterset_fields", None)):
                    yield prefix + str(pattern.pattern), view

    return list(walk(get_resolver().url_patterns))


def filters_of(view, brand, client):
    """The filters a list offers, as its backend builds them for a request."""
    if getattr(view, "filterset_class", None):
        model = view.filterset_class._meta.model
    elif view.queryset is not None:
        model = view.queryset.model
    else:
        request = Request(RequestFactory().get("/"))
        request.brand, request.customer, request.user = brand, None, None
        with brand_scope(brand):
            model = view(request=request, kwargs={}, format_kwarg=None).get_queryset().model
    instance = view(request=None, kwargs={}, format_kwarg=None)
    return BrandFilterBackend().get_filterset_class(instance, model._base_manager.none()).base_filters


@pytest.fixture
def demo():
    call_command("seed_demo", stdout=io.StringIO())
    mine, theirs = Brand.objects.get(slug="demo"), Brand.objects.get(slug="rival")
    operator = Membership.unscoped.get(brand=mine, user__username="demo-operator").user
    platform = Membership.unscoped.model._meta.get_field("user").related_model.objects.get(username="platform")
    return {
        "brand": mine,
        "rival": theirs,
        ConsoleAPIView: Client(token=staff_tokens(operator)["access"], brand=mine),
        CustomerAPIView: Client(
            token=str(CustomerAccessToken.for_customer(Customer.unscoped.filter(brand=mine).first()))
        ),
        PlatformAPIView: Client(token=staff_tokens(platform)["access"]),
    }


def audience_of(view):
    return next(base for base in (ConsoleAPIView, CustomerAPIView, PlatformAPIView) if issubclass(view, base))


def assert_shaped(response, where):
    assert response.status_code < 500, (where, response.status_code, response.content[:300])
    if response.status_code >= 400:
        assert set(response.json()) == {"error"}, (where, response.content[:300])


def test_every_filter_with_own_foreign_and_junk_values(demo):
    tried = {"own": 0, "foreign": 0, "junk": 0}
    for path, view in filtered_lists():
        audience = audience_of(view)
        client = demo[audience]
        for argument, model in PATH_OBJECTS.items():
            if f"<int:{argument}>" in path:
                own = model.unscoped.filter(brand=demo["brand"]).first()
                path = path.replace(f"<int:{argument}>", str(own.pk if own else NOWHERE))
        for name, declared in filters_of(view, demo["brand"], client).items():
            where = f"{path}?{name}"
            junk = client.get(f"{path}?{name}=%00x%ZZ")
            assert_shaped(junk, where)
            tried["junk"] += 1
            if not isinstance(declared, django_filters.ModelChoiceFilter) or audience is PlatformAPIView:
                continue
            model = declared.queryset(None).model
            rows = model._base_manager
            own = rows.filter(brand=demo["brand"]).first()
            if own is not None:
                answer = client.get(f"{path}?{name}={own.pk}")
                assert answer.status_code == 200, (where, answer.content[:300])
                tried["own"] += 1
            foreign = rows.filter(brand=demo["rival"]).first()
            if foreign is not None:
                refused, nowhere = client.get(f"{path}?{name}={foreign.pk}"), client.get(f"{path}?{name}={NOWHERE}")
                assert_shaped(refused, where)
                assert (refused.status_code, refused.json()) == (nowhere.status_code, nowhere.json()), where
                tried["foreign"] += 1
    assert tried["junk"] > 40 and tried["own"] > 10 and tried["foreign"] > 10, tried


def test_a_rooms_host_store_filter_is_scoped(console, brand, other_brand):
    """Was a 500: the filter's choices were built at import, with no brand in scope."""
    from conftest import assert_error
    from guides.models import Store

    mine = Store.unscoped.create(brand=brand, code="A", name="Mine")
    theirs = Store.unscoped.create(brand=other_brand, code="B", name="Theirs")
    assert console.get(f"/api/v1/console/rooms?host_store={mine.pk}").status_code == 200
    assert_error(console.get(f"/api/v1/console/rooms?host_store={theirs.pk}"), 400, "invalid")
