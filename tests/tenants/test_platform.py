import pytest

from conftest import assert_error
from tenants.models import Brand, Membership

pytestmark = pytest.mark.django_db


def test_platform_creates_lists_and_suspends_brands(platform, make_staff, anon):
    owner = make_staff(username="owner1")
    created = platform.post(
        "/api/v1/platform/brands",
        {"slug": "newco", "name": "NewCo", "appid": "wxnewco123456", "owner_username": "owner1"},
    )
    assert created.status_code == 201, created.content
    brand_id = created.json()["id"]
    assert Membership.unscoped.get(user=owner).brand_id == brand_id

    assert [b["slug"] for b in platform.get("/api/v1/platform/brands").json()["results"]] == ["newco"]
    suspended = platform.post(f"/api/v1/platform/brands/{brand_id}/suspend", {"reason": "unpaid"})
    assert suspended.json()["status"] == "suspended"
    assert_error(platform.post(f"/api/v1/platform/brands/{brand_id}/suspend"), 409, "already_suspended")
    assert platform.get("/api/v1/platform/brands?status=active").json()["count"] == 0

    login = anon.post("/api/v1/staff/login", {"username": "owner1", "password": "correct-horse-9"})
    assert login.json()["brands"][0]["status"] == "suspended"

    assert platform.post(f"/api/v1/platform/brands/{brand_id}/reactivate").json()["status"] == "active"


def test_brand_creation_is_validated(platform, brand):
    error = assert_error(platform.post("/api/v1/platform/brands", {"slug": "x"}), 400, "invalid")
    assert {"name", "appid"} <= set(error["fields"])
    dup = platform.post("/api/v1/platform/brands", {"slug": "acme", "name": "Again", "appid": "wxother12345"})
    assert_error(dup, 400, "invalid")
    bad = platform.post("/api/v1/platform/brands", {"slug": "ok", "name": "Ok", "appid": "nope", "timezone": "Nowhere"})
    assert set(assert_error(bad, 400, "invalid")["fields"]) == {"appid", "timezone"}
    assert_error(platform.get("/api/v1/platform/brands/999999"), 404, "brand_not_found")
    assert Brand.objects.count() == 1


def test_brand_staff_cannot_use_the_platform_api(console, brand):
    assert_error(console.get("/api/v1/platform/brands"), 403, "platform_only")
    assert_error(console.post(f"/api/v1/platform/brands/{brand.pk}/suspend"), 403, "platform_only")
    brand.refresh_from_db()
    assert brand.is_active
