import pytest

from conftest import assert_error
from tenants.models import Brand, Customer
from tenants.scoping import brand_scope

pytestmark = pytest.mark.django_db


def login(client, **data):
    return client.post("/api/v1/mp/login", data)


def test_login_creates_the_customer_once_and_the_token_works(anon, brand):
    first = login(anon, appid=brand.appid, code="abc123", nickname="Lin")
    assert first.status_code == 200, first.content
    body = first.json()
    assert body["brand"]["slug"] == brand.slug and body["customer"]["nickname"] == "Lin"
    again = login(anon, appid=brand.appid, code="abc123")
    assert again.json()["customer"]["id"] == body["customer"]["id"]
    with brand_scope(brand):
        assert Customer.objects.count() == 1

    me = anon.get("/api/v1/mp/me", HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert me.status_code == 200 and me.json()["id"] == body["customer"]["id"]


def test_the_same_code_at_two_brands_is_two_customers(anon, brand, other_brand):
    a = login(anon, appid=brand.appid, code="same").json()["customer"]
    b = login(anon, appid=other_brand.appid, code="same").json()["customer"]
    assert a["id"] != b["id"]


@pytest.mark.parametrize("code", ["", "has space", "x" * 129, "中文"])
def test_bad_code_is_400(anon, brand, code):
    response = login(anon, appid=brand.appid, code=code)
    assert response.status_code == 400
    assert response.json()["error"]["code"] in {"invalid", "invalid_code"}


def test_unknown_appid_is_400(anon, brand):
    error = assert_error(login(anon, appid="wxnotabrand000", code="abc"), 400, "unknown_appid")
    assert "appid" in error["fields"]


def test_missing_fields_are_named(anon):
    error = assert_error(login(anon), 400, "invalid")
    assert set(error["fields"]) == {"appid", "code"}


def test_malformed_json_is_400(anon):
    response = anon.generic("POST", "/api/v1/mp/login", '{"appid": ', content_type="application/json")
    assert_error(response, 400, "malformed_json")


def test_suspended_brand_refuses_login_and_existing_tokens(anon, brand, make_customer, customer_client):
    customer = make_customer(brand)
    client = customer_client(customer)
    Brand.objects.filter(pk=brand.pk).update(status=Brand.Status.SUSPENDED)
    assert_error(login(anon, appid=brand.appid, code="abc"), 403, "brand_suspended")
    assert_error(client.get("/api/v1/mp/me"), 403, "brand_suspended")


def test_no_token_and_bad_token_are_401(anon):
    assert_error(anon.get("/api/v1/mp/me"), 401, "not_authenticated")
    response = anon.get("/api/v1/mp/me", HTTP_AUTHORIZATION="Bearer not.a.jwt")
    assert_error(response, 401, "invalid_token")


def test_a_staff_token_is_not_a_customer_token(brand, make_staff, staff_client):
    client = staff_client(make_staff(brand), brand)
    assert_error(client.get("/api/v1/mp/me"), 401, "invalid_token")


def test_profile_update_validates_and_keeps_openid(brand, make_customer, customer_client):
    customer = make_customer(brand, openid="keep-me")
    client = customer_client(customer)
    assert_error(client.patch("/api/v1/mp/me", {"avatar_url": "not a url"}), 400, "invalid")
    response = client.patch("/api/v1/mp/me", {"nickname": "New", "openid": "stolen"})
    assert response.status_code == 200
    customer.refresh_from_db()
    assert (customer.nickname, customer.openid) == ("New", "keep-me")
