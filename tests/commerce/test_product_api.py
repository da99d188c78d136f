"""The product library on the console API: shapes, errors, filters, queries and brand isolation."""

import pytest

from commerce.models import Product, Sku
from conftest import assert_error
from tenants.models import Membership

pytestmark = pytest.mark.django_db

IMAGE = "https://img.example.com/scarf.jpg"


def sku_of(product) -> Sku:
    return Sku.unscoped.filter(product=product).first()


# --- create -----------------------------------------------------------------------------------


def test_create_answers_201_with_the_product_its_skus_and_audit_fields(console, brand):
    response = console.post(
        "/api/v1/console/products",
        {
            "name": "Silk scarf",
            "category": "Scarves",
            "images": [IMAGE],
            "price_type": "discount",
            "price": 19900,
            "price2": 9900,
            "skus": [{"code": "SCARF-RED", "spec": "Red", "price": 9900, "stock": 7}],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["price"] == 19900 and body["price2"] == 9900  # integer fen, not strings
    assert body["images"] == [IMAGE] and body["cover_url"] == IMAGE
    assert (body["status"], body["audit_status"], body["audit_reason"], body["is_sellable"]) == (
        "off_shelf",
        "pending",
        "",
        False,
    )
    assert [(s["code"], s["spec"], s["price"], s["stock"]) for s in body["skus"]] == [("SCARF-RED", "Red", 9900, 7)]
    assert Product.unscoped.get(pk=body["id"]).brand_id == brand.pk
    assert sku_of(body["id"]).brand_id == brand.pk


def test_create_without_skus_or_optional_fields(console):
    response = console.post("/api/v1/console/products", {"name": "Gift card", "price_type": "fixed", "price": 5000})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["skus"], body["images"], body["cover_url"], body["price2"]) == ([], [], "", None)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("price", "9900"),
        ("price", "99.00"),
        ("price", 99.5),
        ("price", 9900.0),
        ("price", True),
        ("price", None),
        ("price2", "100"),
        ("images", IMAGE),
        ("skus", {"code": "A1"}),
    ],
)
def test_create_refuses_malformed_input_and_writes_nothing(console, snapshot, field, value):
    before = snapshot()
    data = {"name": "Silk scarf", "price_type": "fixed", "price": 9900, field: value}
    error = assert_error(console.post("/api/v1/console/products", data), 400, "invalid")
    assert field in error["fields"]
    assert snapshot() == before


@pytest.mark.parametrize(
    ("data", "status", "code", "field"),
    [
        ({"name": "x" * 61}, 400, "invalid", "name"),
        ({"images": ["ftp://img.example.com/a.jpg"]}, 400, "invalid", "images"),
        ({"price": 0}, 400, "invalid", "price"),
        ({"price": -1}, 400, "invalid", "price"),
        ({"price_type": "range", "price2": 100}, 400, "price_range_inverted", "price2"),
        ({"price_type": "discount", "price2": 20000}, 400, "discount_not_lower", "price2"),
        ({"skus": [{"code": "bad code", "price": 100}]}, 400, "invalid", "skus"),
        ({"skus": [{"code": "A1", "price": 100}, {"code": "A1", "price": 100}]}, 409, "sku_code_taken", "skus"),
    ],
)
def test_create_answers_rule_violations_in_the_error_shape(console, snapshot, data, status, code, field):
    before = snapshot()
    body = {"name": "Silk scarf", "price_type": "fixed", "price": 9900, **data}
    error = assert_error(console.post("/api/v1/console/products", body), status, code)
    assert field in error["fields"]
    assert snapshot() == before


# --- list -------------------------------------------------------------------------------------


@pytest.fixture
def library(brand, other_brand, make_product):
    return {
        "scarf": make_product(brand, name="Silk scarf", category="Scarves", skus=[{"code": "SC-RED", "price": 100}]),
        "tie": make_product(
            brand, name="Silk tie", category="Ties", approved=True, on_shelf=True, skus=[{"code": "TIE-1", "price": 1}]
        ),
        "coat": make_product(brand, name="Wool coat", price_type="range", price=100, price2=900),
        "rival": make_product(other_brand, name="Rival scarf", category="Scarves"),
    }


def listed(client, query=""):
    response = client.get(f"/api/v1/console/products{query}")
    assert response.status_code == 200, response.content
    return [product["name"] for product in response.json()["results"]]


def test_list_shows_the_brands_products_newest_first_with_their_skus(console, library):
    response = console.get("/api/v1/console/products")
    body = response.json()
    assert body["count"] == 3
    assert [p["name"] for p in body["results"]] == ["Wool coat", "Silk tie", "Silk scarf"]
    assert [s["code"] for s in body["results"][2]["skus"]] == ["SC-RED"]


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("?status=on_shelf", ["Silk tie"]),
        ("?audit_status=pending", ["Wool coat", "Silk scarf"]),
        ("?category=Scarves", ["Silk scarf"]),
        ("?price_type=range", ["Wool coat"]),
        ("?q=silk", ["Silk tie", "Silk scarf"]),
        ("?q=sc-red", ["Silk scarf"]),  # a SKU code
        ("?q=rival", []),  # another brand's product is not found by search either
        ("?q=silk&status=off_shelf", ["Silk scarf"]),
    ],
)
def test_list_filters_and_search(console, library, query, names):
    assert listed(console, query) == names


def test_list_refuses_an_unknown_filter_value(console):
    error = assert_error(console.get("/api/v1/console/products?status=sold_out"), 400, "invalid")
    assert "status" in error["fields"]


def test_list_runs_the_same_queries_whatever_the_page_size(brand, console, make_product, django_assert_max_num_queries):
    skus = [{"price": 100}, {"price": 200}]
    for number in range(25):
        make_product(brand, name=f"P{number}", skus=[{"code": f"P{number}-{i}", **sku} for i, sku in enumerate(skus)])
    # user, brand, membership, count, products, SKUs
    with django_assert_max_num_queries(6):
        small = console.get("/api/v1/console/products?page_size=2")
    with django_assert_max_num_queries(6):
        large = console.get("/api/v1/console/products?page_size=25&q=P")
    assert len(small.json()["results"]) == 2
    assert len(large.json()["results"]) == 25 and all(len(p["skus"]) == 2 for p in large.json()["results"])


# --- one product ------------------------------------------------------------------------------


def test_detail_and_patch(console, brand, make_product):
    product = make_product(brand, approved=True)
    url = f"/api/v1/console/products/{product.pk}"
    assert console.get(url).json()["audit_status"] == "approved"

    repriced = console.patch(url, {"price": 8800})
    assert repriced.status_code == 200, repriced.content
    assert (repriced.json()["price"], repriced.json()["audit_status"]) == (8800, "approved")

    renamed = console.patch(url, {"name": "Silk scarf, large", "status": "on_shelf"})
    assert renamed.status_code == 200
    assert renamed.json()["audit_status"] == "pending"  # a content change goes back to audit
    assert renamed.json()["status"] == "off_shelf"  # the shelf has its own endpoint

    assert_error(console.patch(url, {"price_type": "range", "price2": 100}), 400, "price_range_inverted")
    assert_error(console.patch(url, {"price": 12.5}), 400, "invalid")


def test_shelf_audit_and_archive(console, brand, make_product):
    product = make_product(brand)
    url = f"/api/v1/console/products/{product.pk}"

    assert console.post(f"{url}/shelf", {"on_shelf": True}).json()["status"] == "on_shelf"
    assert_error(console.post(f"{url}/shelf", {}), 400, "invalid")
    assert_error(console.post(f"{url}/audit", {"approve": False}), 400, "reason_required")
    approved = console.post(f"{url}/audit", {"approve": True})
    assert (approved.json()["audit_status"], approved.json()["is_sellable"]) == ("approved", True)
    error = assert_error(console.post(f"{url}/audit", {"approve": False, "reason": "Late doubt"}), 409, "not_pending")
    assert error["fields"] == {"audit_status": "approved"}

    archived = console.post(f"{url}/archive")
    assert archived.status_code == 200
    assert (archived.json()["status"], archived.json()["is_sellable"]) == ("archived", False)
    assert archived.json()["archived_at"]
    assert_error(console.post(f"{url}/shelf", {"on_shelf": True}), 409, "product_archived")
    assert_error(console.patch(url, {"name": "Revived"}), 409, "product_archived")


def test_rejection_is_shown_with_its_reason(console, brand, make_product):
    product = make_product(brand)
    response = console.post(f"/api/v1/console/products/{product.pk}/audit", {"approve": False, "reason": "Blurry"})
    assert (response.json()["audit_status"], response.json()["audit_reason"]) == ("rejected", "Blurry")


def test_delete_answers_what_happened(console, brand, make_product):
    product = make_product(brand, skus=[{"code": "A1", "price": 100}])
    response = console.delete(f"/api/v1/console/products/{product.pk}")
    assert response.status_code == 200 and response.json() == {"result": "deleted"}
    assert not Product.unscoped.exists() and not Sku.unscoped.exists()
    assert_error(console.get(f"/api/v1/console/products/{product.pk}"), 404, "not_found")


# --- SKUs and stock ---------------------------------------------------------------------------


def test_add_and_change_a_sku_and_its_stock(console, brand, make_product):
    product = make_product(brand, skus=[{"code": "A1", "price": 100}])
    created = console.post(f"/api/v1/console/products/{product.pk}/skus", {"code": "A2", "price": 150, "stock": 4})
    assert created.status_code == 201, created.content
    sku_id = created.json()["id"]
    assert created.json()["product"] == product.pk
    assert Sku.unscoped.get(pk=sku_id).brand_id == brand.pk

    assert_error(
        console.post(f"/api/v1/console/products/{product.pk}/skus", {"code": "A1", "price": 1}), 409, "sku_code_taken"
    )
    changed = console.patch(f"/api/v1/console/skus/{sku_id}", {"spec": "Blue", "is_active": False, "stock": 999})
    assert (changed.json()["spec"], changed.json()["is_active"], changed.json()["stock"]) == ("Blue", False, 4)

    assert console.post(f"/api/v1/console/skus/{sku_id}/stock", {"delta": 6}).json()["stock"] == 10
    assert console.post(f"/api/v1/console/skus/{sku_id}/stock", {"delta": -10}).json()["stock"] == 0
    error = assert_error(console.post(f"/api/v1/console/skus/{sku_id}/stock", {"delta": -1}), 409, "insufficient_stock")
    assert error["fields"]["stock"] == 0
    assert_error(console.post(f"/api/v1/console/skus/{sku_id}/stock", {"delta": "5"}), 400, "invalid")
    assert Sku.unscoped.get(pk=sku_id).stock == 0


# --- who may call -----------------------------------------------------------------------------


def endpoints(product_id, sku_id):
    """Every product-library endpoint that names an object, with a body that would succeed."""
    product, sku = f"/api/v1/console/products/{product_id}", f"/api/v1/console/skus/{sku_id}"
    return [
        ("get", product, None),
        ("patch", product, {"name": "Hijacked", "price": 1}),
        ("delete", product, None),
        ("post", f"{product}/shelf", {"on_shelf": True}),
        ("post", f"{product}/audit", {"approve": True}),
        ("post", f"{product}/archive", None),
        ("post", f"{product}/skus", {"code": "SMUGGLED", "price": 1}),
        ("patch", sku, {"price": 1, "is_active": False}),
        ("post", f"{sku}/stock", {"delta": -5}),
    ]


ENDPOINT_IDS = ["get", "patch", "delete", "shelf", "audit", "archive", "skus", "sku-patch", "stock"]


@pytest.mark.parametrize("index", range(len(ENDPOINT_IDS)), ids=ENDPOINT_IDS)
def test_another_brands_ids_answer_404_and_change_nothing(rival_console, brand, make_product, snapshot, index):
    product = make_product(brand, skus=[{"code": "A1", "price": 100, "stock": 5}])
    method, url, body = endpoints(product.pk, sku_of(product).pk)[index]
    before = snapshot()
    assert_error(getattr(rival_console, method)(url, body), 404, "not_found")
    assert snapshot() == before


@pytest.mark.parametrize("index", range(len(ENDPOINT_IDS)), ids=ENDPOINT_IDS)
def test_a_missing_id_answers_the_same_404(console, index):
    method, url, body = endpoints(999_999, 999_999)[index]
    assert_error(getattr(console, method)(url, body), 404, "not_found")


def test_another_brands_products_are_not_listed(rival_console, brand, make_product):
    make_product(brand, name="Mine")
    assert listed(rival_console) == [] and listed(rival_console, "?q=Mine") == []


@pytest.mark.parametrize("index", range(len(ENDPOINT_IDS)), ids=ENDPOINT_IDS)
def test_guides_cannot_use_the_product_library(brand, make_staff, staff_client, make_product, snapshot, index):
    guide = staff_client(make_staff(brand, Membership.Role.GUIDE), brand)
    product = make_product(brand, skus=[{"code": "A1", "price": 100, "stock": 5}])
    method, url, body = endpoints(product.pk, sku_of(product).pk)[index]
    before = snapshot()
    assert_error(getattr(guide, method)(url, body), 403, "role_not_allowed")
    assert snapshot() == before


def test_guides_cannot_list_or_create_products(brand, make_staff, staff_client):
    guide = staff_client(make_staff(brand, Membership.Role.GUIDE), brand)
    assert_error(guide.get("/api/v1/console/products"), 403, "role_not_allowed")
    body = {"name": "Silk scarf", "price_type": "fixed", "price": 9900}
    assert_error(guide.post("/api/v1/console/products", body), 403, "role_not_allowed")
    assert not Product.unscoped.exists()
