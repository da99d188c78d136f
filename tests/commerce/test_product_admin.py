"""The product library in the web admin: brand isolation, inline SKUs and actions through the services."""

from unittest import mock

import pytest
from django.db.models import ProtectedError
from django.test import Client

from commerce.models import Product, Sku
from tenants.admin_site import yuan_text
from tenants.models import Membership

pytestmark = pytest.mark.django_db

PRODUCTS = "/admin/commerce/product/"


def admin_client(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def operator(brand, make_staff):
    return admin_client(make_staff(brand, Membership.Role.OPERATOR))


@pytest.fixture
def platform_admin(make_staff):
    return admin_client(make_staff(username="root", is_superuser=True, is_staff=True))


@pytest.fixture
def products(brand, other_brand, make_product):
    return {
        "mine": make_product(brand, name="MineScarf", skus=[{"code": "MINE-1", "price": 100, "stock": 10}]),
        "theirs": make_product(other_brand, name="TheirScarf", skus=[{"code": "THEIRS-1", "price": 100}]),
    }


def product_form(skus=(), existing=(), **fields):
    """The POST of the product change form with its SKU inline."""
    data = {"name": "Silk scarf", "category": "", "images": "[]", "description": "", "price_type": "fixed"}
    data |= {"price": "99.00", "price2": "", **fields}  # the admin takes yuan
    rows = [*existing, *skus]
    data |= {
        "skus-TOTAL_FORMS": str(len(rows)),
        "skus-INITIAL_FORMS": str(len(existing)),
        "skus-MIN_NUM_FORMS": "0",
        "skus-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"skus-{index}-{key}"] = value
    return data


def sku_row(code, price="1.00", stock="0", **extra):
    return {"code": code, "spec": "", "price": price, "stock": stock, "is_active": "on", **extra}


def existing_row(sku, **changes):
    row = {"id": str(sku.pk), "product": str(sku.product_id), "spec": sku.spec, "price": yuan_text(sku.price)}
    row |= {"stock": str(sku.stock), "stock_shown": str(sku.stock), "is_active": "on" if sku.is_active else ""}
    return row | changes


def test_operator_sees_and_searches_only_their_brands_products(operator, products):
    page = operator.get(PRODUCTS).content.decode()
    assert "MineScarf" in page and "TheirScarf" not in page
    assert "MineScarf" in operator.get(f"{PRODUCTS}?q=MINE-1").content.decode()  # search by SKU code
    assert "TheirScarf" not in operator.get(f"{PRODUCTS}?q=THEIRS-1").content.decode()
    skus = operator.get("/admin/commerce/sku/?q=1").content.decode()
    assert "MINE-1" in skus and "THEIRS-1" not in skus
    assert operator.get(f"{PRODUCTS}{products['mine'].pk}/change/").status_code == 200
    # Another brand's product is "not found": the admin redirects with a does-not-exist message.
    assert operator.get(f"{PRODUCTS}{products['theirs'].pk}/change/").status_code == 302


def test_operator_cannot_change_or_act_on_another_brands_product(operator, products):
    theirs = products["theirs"]
    response = operator.post(f"{PRODUCTS}{theirs.pk}/change/", product_form(name="Hijacked"))
    assert response.status_code == 302
    operator.post(PRODUCTS, {"action": "approve", "_selected_action": [theirs.pk]})
    operator.post(PRODUCTS, {"action": "archive", "_selected_action": [theirs.pk]})
    theirs.refresh_from_db()
    assert (theirs.name, theirs.audit_status, theirs.status) == ("TheirScarf", "pending", "off_shelf")


def test_operator_adds_a_product_whose_inline_skus_get_the_brand(operator, brand):
    page = operator.get(f"{PRODUCTS}add/").content.decode()
    assert 'name="brand"' not in page
    response = operator.post(f"{PRODUCTS}add/", product_form(skus=[sku_row("NEW-1", stock="3"), sku_row("NEW-2")]))
    assert response.status_code == 302, response.content.decode()[:3000]
    product = Product.unscoped.get(name="Silk scarf")
    assert (product.brand_id, product.audit_status) == (brand.pk, "pending")
    assert list(Sku.unscoped.filter(product=product).values_list("code", "stock", "brand_id")) == [
        ("NEW-1", 3, brand.pk),
        ("NEW-2", 0, brand.pk),
    ]


def test_platform_operator_adds_a_product_for_a_brand_and_its_skus_follow(platform_admin, other_brand):
    data = product_form(skus=[sku_row("P-1")], brand=str(other_brand.pk))
    response = platform_admin.post(f"{PRODUCTS}add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    sku = Sku.unscoped.get(code="P-1")
    assert sku.brand_id == sku.product.brand_id == other_brand.pk


def test_the_form_refuses_a_sku_code_the_brand_already_uses(operator, products, other_brand):
    response = operator.post(f"{PRODUCTS}add/", product_form(skus=[sku_row("MINE-1")]))
    assert response.status_code == 200 and "MINE-1" in response.content.decode()
    response = operator.post(f"{PRODUCTS}add/", product_form(skus=[sku_row("TWICE"), sku_row("TWICE")]))
    assert response.status_code == 200
    assert not Product.unscoped.filter(name="Silk scarf").exists()
    # Another brand's code is free for this brand.
    assert operator.post(f"{PRODUCTS}add/", product_form(skus=[sku_row("THEIRS-1")])).status_code == 302


def test_the_form_applies_the_price_rules(operator):
    data = product_form(price_type="range", price2="50")
    response = operator.post(f"{PRODUCTS}add/", data)
    assert response.status_code == 200
    assert "above its bottom" in response.content.decode()
    assert not Product.unscoped.exists()


def test_editing_content_in_the_admin_goes_through_the_audit_rule(operator, brand, make_product):
    product = make_product(brand, approved=True, skus=[{"code": "A1", "price": 100, "stock": 10}])
    sku = Sku.unscoped.get(product=product)
    response = operator.post(
        f"{PRODUCTS}{product.pk}/change/", product_form(name="Wool scarf", existing=[existing_row(sku)])
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    product.refresh_from_db()
    assert (product.name, product.audit_status) == ("Wool scarf", "pending")


def test_a_stock_edit_applies_the_difference_to_what_the_operator_saw(operator, brand, make_product):
    product = make_product(brand, skus=[{"code": "A1", "price": 100, "stock": 10}])
    sku = Sku.unscoped.get(product=product)
    Sku.unscoped.filter(pk=sku.pk).update(stock=8)  # two sold while the page was open
    row = existing_row(sku, stock="15", stock_shown="10", price="1.20")  # the operator adds five
    response = operator.post(f"{PRODUCTS}{product.pk}/change/", product_form(existing=[row]))
    assert response.status_code == 302, response.content.decode()[:3000]
    sku.refresh_from_db()
    assert (sku.stock, sku.price) == (13, 120)


def test_actions_call_the_services_and_report_refusals(operator, brand, make_product):
    pending = make_product(brand, name="Pending")
    approved = make_product(brand, name="Approved", approved=True)
    response = operator.post(
        PRODUCTS, {"action": "approve", "_selected_action": [pending.pk, approved.pk]}, follow=True
    )
    page = response.content.decode()
    assert "Approved: 1 product(s)." in page and "Only a pending product can be audited" in page
    pending.refresh_from_db()
    assert pending.audit_status == "approved"

    operator.post(PRODUCTS, {"action": "put_on_shelf", "_selected_action": [pending.pk]})
    pending.refresh_from_db()
    assert pending.is_sellable
    operator.post(PRODUCTS, {"action": "take_off_shelf", "_selected_action": [pending.pk]})
    pending.refresh_from_db()
    assert pending.status == "off_shelf"

    operator.post(PRODUCTS, {"action": "archive", "_selected_action": [pending.pk]})
    response = operator.post(PRODUCTS, {"action": "put_on_shelf", "_selected_action": [pending.pk]}, follow=True)
    assert "archived" in response.content.decode()
    pending.refresh_from_db()
    assert (pending.status, pending.archived_at is not None) == ("archived", True)


def test_an_archived_product_is_read_only_in_the_admin(operator, brand, make_product):
    product = make_product(brand)
    operator.post(PRODUCTS, {"action": "archive", "_selected_action": [product.pk]})
    response = operator.post(f"{PRODUCTS}{product.pk}/change/", product_form(name="Revived"))
    assert response.status_code == 403
    product.refresh_from_db()
    assert product.name == "Silk scarf"


def test_deleting_in_the_admin_uses_the_delete_service(operator, brand, make_product):
    product = make_product(brand, skus=[{"code": "A1", "price": 100}])
    response = operator.post(f"{PRODUCTS}{product.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Product.unscoped.exists() and not Sku.unscoped.exists()


def test_deleting_a_product_orders_mention_archives_it_from_the_admin_too(operator, brand, make_product):
    product = make_product(brand)
    # Order lines will protect products (on_delete=PROTECT); stand in for one, as in test_products.
    with mock.patch.object(Product, "delete", side_effect=ProtectedError("Referenced by an order line.", set())):
        response = operator.post(f"{PRODUCTS}{product.pk}/delete/", {"post": "yes"}, follow=True)
    assert "archived instead" in response.content.decode()
    product.refresh_from_db()
    assert product.status == "archived"


def test_skus_are_listed_but_not_edited_on_their_own_page(operator, products):
    assert operator.get("/admin/commerce/sku/").status_code == 200
    assert operator.get("/admin/commerce/sku/add/").status_code == 403
    sku = Sku.unscoped.get(code="MINE-1")
    response = operator.post(f"/admin/commerce/sku/{sku.pk}/change/", {"code": "X", "price": "1", "stock": "0"})
    assert response.status_code == 403
    assert Sku.unscoped.get(pk=sku.pk).code == "MINE-1"
