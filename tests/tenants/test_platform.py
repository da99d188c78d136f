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


def test_the_brand_list_is_searched_and_paged_past_the_first_hundred(platform, console, brand):
    """The console's brand switch searches this list: every brand can be reached, not the first 100."""
    Brand.objects.bulk_create(
        Brand(slug=f"shop-{n:03d}", name=f"品牌{n:03d} 服饰" if n % 2 else f"Shop {n:03d} Tea", appid=f"wxshop{n:07d}")
        for n in range(1, 131)
    )
    first = platform.get("/api/v1/platform/brands?page_size=100").json()
    assert first["count"] == 131 and len(first["results"]) == 100 and first["next"]
    rest = platform.get("/api/v1/platform/brands?page_size=100&page=2").json()
    assert len(rest["results"]) == 31 and rest["next"] is None
    assert {b["slug"] for b in first["results"] + rest["results"]} == set(Brand.objects.values_list("slug", flat=True))

    found = platform.get("/api/v1/platform/brands", {"q": "品牌12"}).json()
    assert [b["name"] for b in found["results"]] == [
        "品牌121 服饰",
        "品牌123 服饰",
        "品牌125 服饰",
        "品牌127 服饰",
        "品牌129 服饰",
    ]
    assert [b["slug"] for b in platform.get("/api/v1/platform/brands", {"q": "SHOP-130"}).json()["results"]] == [
        "shop-130"
    ]
    assert platform.get("/api/v1/platform/brands", {"q": "wxshop0000007"}).json()["count"] == 1  # by appid
    assert platform.get("/api/v1/platform/brands", {"q": "tea", "status": "suspended"}).json()["count"] == 0
    assert platform.get("/api/v1/platform/brands", {"q": "  "}).json()["count"] == 131
    assert platform.get("/api/v1/platform/brands", {"q": "no such brand"}).json() == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }
    assert_error(platform.get("/api/v1/platform/brands", {"q": "品牌121", "page": 2}), 404, "not_found")

    # A brand's own staff reaches none of it, searching or not.
    assert_error(console.get("/api/v1/platform/brands", {"q": brand.name}), 403, "platform_only")
