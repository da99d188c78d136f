"""The web admin: brand staff work inside their brand; the platform operator sees all."""

import pytest
from django.test import Client

from guides.models import Guide, Store
from tenants.admin_site import SESSION_KEY
from tenants.models import Customer, Membership
from tenants.scoping import brand_scope

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(brand, other_brand, make_customer):
    return {
        "mine": make_customer(brand, nickname="MineCustomer"),
        "theirs": make_customer(other_brand, nickname="TheirCustomer"),
        "my_store": Store.objects.create(brand=brand, code="A1", name="MyStore"),
        "their_store": Store.objects.create(brand=other_brand, code="B1", name="TheirStore"),
    }


def admin_client(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def operator(brand, make_staff):
    return admin_client(make_staff(brand, Membership.Role.OPERATOR))


def test_operator_sees_only_their_brand(operator, data):
    page = operator.get("/admin/tenants/customer/").content.decode()
    assert "MineCustomer" in page and "TheirCustomer" not in page
    assert operator.get(f"/admin/tenants/customer/{data['mine'].pk}/change/").status_code == 200
    # Another brand's object is "not found": the admin redirects with a does-not-exist message.
    assert operator.get(f"/admin/tenants/customer/{data['theirs'].pk}/change/").status_code == 302
    assert operator.get(f"/admin/guides/store/{data['their_store'].pk}/change/").status_code == 302


def test_operator_cannot_change_another_brands_object(operator, data):
    response = operator.post(
        f"/admin/guides/store/{data['their_store'].pk}/change/", {"code": "B1", "name": "Hijacked", "status": "open"}
    )
    assert response.status_code == 302
    data["their_store"].refresh_from_db()
    assert data["their_store"].name == "TheirStore"


def test_new_objects_get_the_brand_and_choices_are_the_brands_own(operator, brand, data, make_staff):
    page = operator.get("/admin/guides/guide/add/").content.decode()
    assert "MyStore" in page and "TheirStore" not in page
    assert 'name="brand"' not in page

    guide_user = make_staff(brand, Membership.Role.GUIDE)
    response = operator.post(
        "/admin/guides/guide/add/",
        {"user": guide_user.pk, "name": "Wu", "store": data["my_store"].pk, "kind": "store_guide", "status": "active"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Guide.unscoped.get(name="Wu").brand_id == brand.pk

    smuggled = operator.post(
        "/admin/guides/guide/add/",
        {
            "user": guide_user.pk,
            "name": "Smuggler",
            "store": data["their_store"].pk,
            "kind": "store_guide",
            "status": "active",
        },
    )
    assert smuggled.status_code == 200  # the form refuses the other brand's store
    assert not Guide.unscoped.filter(name="Smuggler").exists()


def test_brand_staff_never_see_brands_users_or_other_roles_pages(operator, brand, make_staff):
    assert operator.get("/admin/tenants/brand/").status_code == 403
    assert operator.get("/admin/auth/user/").status_code == 403
    assert operator.get("/admin/tenants/membership/").status_code == 403  # owners only
    guide = admin_client(make_staff(brand, Membership.Role.GUIDE))
    assert guide.get("/admin/").status_code == 302  # to the login page: guides have no admin


def test_switching_brand_needs_membership(brand, other_brand, make_staff, data, make_customer):
    user = make_staff(brand, Membership.Role.OWNER)
    client = admin_client(user)
    client.post("/admin/brand/switch/", {"brand": other_brand.pk})
    assert client.session.get(SESSION_KEY) is None
    assert "TheirCustomer" not in client.get("/admin/tenants/customer/").content.decode()

    Membership.objects.create(brand=other_brand, user=user, role=Membership.Role.OPERATOR)
    client.post("/admin/brand/switch/", {"brand": other_brand.pk})
    page = client.get("/admin/tenants/customer/").content.decode()
    assert "TheirCustomer" in page and "MineCustomer" not in page


def test_platform_operator_sees_every_brand(data, make_staff):
    user = make_staff(username="root", is_superuser=True, is_staff=True)
    client = admin_client(user)
    page = client.get("/admin/tenants/customer/").content.decode()
    assert "MineCustomer" in page and "TheirCustomer" in page
    assert client.get("/admin/tenants/brand/").status_code == 200
    with brand_scope(data["mine"].brand):
        assert Customer.objects.count() == 1
