import pytest

from conftest import assert_error
from tenants.models import Brand, Membership

pytestmark = pytest.mark.django_db


def test_staff_login_returns_tokens_and_brands(anon, brand, other_brand, make_staff):
    user = make_staff(brand, Membership.Role.OWNER, username="lin")
    Membership.objects.create(brand=other_brand, user=user, role=Membership.Role.GUIDE)
    response = anon.post("/api/v1/staff/login", {"username": "lin", "password": "correct-horse-9"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["access"] and body["refresh"]
    assert {(b["slug"], b["role"]) for b in body["brands"]} == {("acme", "owner"), ("rival", "guide")}

    refreshed = anon.post("/api/v1/staff/token/refresh", {"refresh": body["refresh"]})
    assert refreshed.status_code == 200 and refreshed.json()["access"]
    me = anon.get("/api/v1/staff/me", HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert me.json()["user"]["username"] == "lin"


def test_wrong_password_is_401(anon, brand, make_staff):
    make_staff(brand, username="lin")
    assert_error(anon.post("/api/v1/staff/login", {"username": "lin", "password": "nope"}), 401, "invalid_credentials")
    assert_error(anon.post("/api/v1/staff/login", {"username": "lin"}), 400, "invalid")
    assert_error(anon.post("/api/v1/staff/token/refresh", {"refresh": "garbage"}), 401, "invalid_token")


def test_console_needs_a_brand_header_and_membership(brand, other_brand, make_staff, staff_client):
    user = make_staff(brand)
    assert_error(staff_client(user).get("/api/v1/console/brand"), 403, "brand_required")
    assert_error(staff_client(user, other_brand).get("/api/v1/console/brand"), 403, "not_a_member")
    client = staff_client(user)
    assert_error(client.get("/api/v1/console/brand", HTTP_X_BRAND="no-such-brand"), 403, "not_a_member")
    ok = client.get("/api/v1/console/brand", HTTP_X_BRAND=brand.slug)
    assert ok.status_code == 200 and ok.json()["slug"] == "acme"


def test_guides_cannot_use_the_console(brand, make_staff, staff_client):
    client = staff_client(make_staff(brand, Membership.Role.GUIDE), brand)
    assert_error(client.get("/api/v1/console/customers"), 403, "role_not_allowed")


def test_customer_token_is_not_a_staff_token(brand, make_customer, customer_client):
    client = customer_client(make_customer(brand))
    client.credentials(HTTP_AUTHORIZATION=client._credentials["HTTP_AUTHORIZATION"], HTTP_X_BRAND=str(brand.pk))
    assert_error(client.get("/api/v1/console/brand"), 401, "invalid_token")


def test_suspended_brand_refuses_its_staff(brand, console):
    Brand.objects.filter(pk=brand.pk).update(status=Brand.Status.SUSPENDED)
    assert_error(console.get("/api/v1/console/customers"), 403, "brand_suspended")


def test_console_lists_only_its_brands_customers(brand, other_brand, make_customer, console, rival_console):
    mine = make_customer(brand, nickname="Mine")
    theirs = make_customer(other_brand, nickname="Theirs")
    listed = console.get("/api/v1/console/customers").json()
    assert [c["id"] for c in listed["results"]] == [mine.pk]
    assert console.get(f"/api/v1/console/customers/{mine.pk}").status_code == 200
    assert_error(console.get(f"/api/v1/console/customers/{theirs.pk}"), 404, "not_found")
    assert [c["nickname"] for c in rival_console.get("/api/v1/console/customers?q=the").json()["results"]] == ["Theirs"]


def test_console_customer_list_queries_are_constant(brand, make_customer, console, django_assert_max_num_queries):
    for _ in range(30):
        make_customer(brand)
    with django_assert_max_num_queries(6):
        response = console.get("/api/v1/console/customers?page_size=30")
    assert len(response.json()["results"]) == 30


def test_console_brand_settings_are_validated(brand, make_staff, staff_client):
    console = staff_client(make_staff(brand, Membership.Role.OWNER), brand)  # owners change them (test_brand_settings)
    assert_error(console.patch("/api/v1/console/brand", {"timezone": "Mars/Olympus"}), 400, "invalid")
    response = console.patch("/api/v1/console/brand", {"name": "Acme Live", "slug": "hijack"})
    assert response.status_code == 200
    assert response.json()["name"] == "Acme Live" and response.json()["slug"] == "acme"
