"""The product library's services: the rules every caller (console API, admin, tasks) gets."""

from unittest import mock

import pytest
from django.db.models import ProtectedError

from commerce.models import Product, Sku
from commerce.services import products as services
from tenants.errors import Conflict, DomainError, InvalidInput, NotFound
from tenants.scoping import brand_scope

pytestmark = pytest.mark.django_db

IMAGE = "https://img.example.com/scarf.jpg"


def create(brand, **overrides):
    values = {"name": "Silk scarf", "price_type": "fixed", "price": 9900, **overrides}
    return services.product_create(brand=brand, **values)


def refused(error_class, status, code, call, /, *args, **kwargs) -> DomainError:
    with pytest.raises(error_class) as raised:
        call(*args, **kwargs)
    assert (raised.value.status_code, raised.value.code) == (status, code), raised.value.fields
    return raised.value


# --- create and its validation ----------------------------------------------------------------


def test_create_makes_a_pending_off_shelf_product_with_its_skus(in_brand):
    product = create(
        in_brand,
        name="  Silk scarf  ",
        category="Scarves",
        images=[IMAGE, "http://img.example.com/back.jpg"],
        price_type="range",
        price=9900,
        price2=19900,
        skus=[{"code": "SCARF-RED", "spec": "Red", "price": 9900, "stock": 5}, {"code": "SCARF_BLUE", "price": 19900}],
    )
    assert product.name == "Silk scarf"  # surrounding blanks are not part of a name
    assert (product.status, product.audit_status, product.is_sellable) == ("off_shelf", "pending", False)
    assert product.cover_url == IMAGE
    skus = list(Sku.objects.filter(product=product).values_list("code", "spec", "price", "stock", "brand_id"))
    assert skus == [("SCARF-RED", "Red", 9900, 5, in_brand.pk), ("SCARF_BLUE", "", 19900, 0, in_brand.pk)]


BAD_PRODUCTS = [
    pytest.param({"name": ""}, "invalid", "name", id="empty-name"),
    pytest.param({"name": "   "}, "invalid", "name", id="blank-name"),
    pytest.param({"name": "x" * 61}, "invalid", "name", id="long-name"),
    pytest.param({"category": "c" * 51}, "invalid", "category", id="long-category"),
    pytest.param({"images": [IMAGE] * 10}, "invalid", "images", id="ten-images"),
    pytest.param({"images": ["ftp://img.example.com/a.jpg"]}, "invalid", "images", id="ftp-image"),
    pytest.param({"images": [IMAGE, "scarf.jpg"]}, "invalid", "images", id="relative-image"),
    pytest.param({"images": [42]}, "invalid", "images", id="image-not-a-string"),
    pytest.param({"description": "d" * 5001}, "invalid", "description", id="long-description"),
    pytest.param({"price": 0}, "invalid", "price", id="zero-price"),
    pytest.param({"price": -100}, "invalid", "price", id="negative-price"),
    pytest.param({"price": 2_000_000_001}, "invalid", "price", id="price-over-limit"),
    pytest.param({"price": 99.5}, "invalid", "price", id="float-price"),
    pytest.param({"price": "99.5"}, "invalid", "price", id="float-string-price"),
    pytest.param({"price": "9900"}, "invalid", "price", id="numeric-string-price"),
    pytest.param({"price": True}, "invalid", "price", id="boolean-price"),
    pytest.param({"price_type": "auction"}, "invalid", "price_type", id="unknown-price-type"),
    pytest.param({"price2": 100}, "invalid", "price2", id="fixed-with-second-price"),
    pytest.param({"price_type": "range"}, "invalid", "price2", id="range-without-top"),
    pytest.param({"price_type": "discount"}, "invalid", "price2", id="discount-without-price"),
    pytest.param({"price_type": "range", "price2": 9900}, "price_range_inverted", "price2", id="range-flat"),
    pytest.param({"price_type": "range", "price2": 5000}, "price_range_inverted", "price2", id="range-inverted"),
    pytest.param({"price_type": "discount", "price2": 9900}, "discount_not_lower", "price2", id="discount-equal"),
    pytest.param({"price_type": "discount", "price2": 12000}, "discount_not_lower", "price2", id="discount-higher"),
    pytest.param({"price_type": "discount", "price2": 0}, "invalid", "price2", id="discount-to-zero"),
]


@pytest.mark.parametrize(("overrides", "code", "field"), BAD_PRODUCTS)
def test_create_refuses_bad_products_and_writes_nothing(in_brand, overrides, code, field):
    error = refused(InvalidInput, 400, code, create, in_brand, skus=[{"code": "A1", "price": 100}], **overrides)
    assert field in error.fields
    assert not Product.unscoped.exists() and not Sku.unscoped.exists()


BAD_SKUS = [
    pytest.param({"code": ""}, "code", id="empty-code"),
    pytest.param({"code": "has space"}, "code", id="code-with-space"),
    pytest.param({"code": "红色"}, "code", id="code-not-ascii"),
    pytest.param({"code": "x" * 65}, "code", id="long-code"),
    pytest.param({"spec": "s" * 101}, "spec", id="long-spec"),
    pytest.param({"price": 0}, "price", id="zero-price"),
    pytest.param({"price": 1.5}, "price", id="float-price"),
    pytest.param({"stock": -1}, "stock", id="negative-stock"),
    pytest.param({"stock": 10_000_001}, "stock", id="stock-over-limit"),
    pytest.param({"stock": False}, "stock", id="boolean-stock"),
]


@pytest.mark.parametrize(("overrides", "field"), BAD_SKUS)
def test_one_bad_sku_refuses_the_whole_product(in_brand, overrides, field):
    skus = [{"code": "GOOD", "price": 100}, {"code": "B2", "price": 100, **overrides}]
    error = refused(InvalidInput, 400, "invalid", create, in_brand, skus=skus)
    assert field in error.fields["skus"][1]
    assert not Product.unscoped.exists() and not Sku.unscoped.exists()


def test_two_skus_of_one_request_cannot_share_a_code(in_brand):
    skus = [{"code": "DUP", "price": 100}, {"code": "DUP", "price": 200}]
    error = refused(Conflict, 409, "sku_code_taken", create, in_brand, skus=skus)
    assert "code" in error.fields["skus"][1]
    assert not Product.unscoped.exists() and not Sku.unscoped.exists()


def test_a_sku_code_taken_in_the_brand_is_refused_but_free_in_another_brand(brand, other_brand, make_product):
    make_product(brand, skus=[{"code": "SCARF-1", "price": 100}])
    with brand_scope(brand):
        # No check runs before the insert: the unique index answers, as it does for a race.
        error = refused(Conflict, 409, "sku_code_taken", create, brand, skus=[{"code": "SCARF-1", "price": 100}])
    assert "code" in error.fields["skus"][0]
    assert Product.unscoped.filter(brand=brand).count() == 1
    make_product(other_brand, skus=[{"code": "SCARF-1", "price": 100}])
    assert Sku.unscoped.filter(code="SCARF-1").count() == 2


# --- update -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [{"name": "Wool scarf"}, {"category": "Winter"}, {"images": [IMAGE]}, {"description": "Now in wool."}],
    ids=lambda change: next(iter(change)),
)
def test_a_content_change_sends_an_approved_product_back_to_audit(brand, make_product, change):
    product = make_product(brand, approved=True, on_shelf=True)
    with brand_scope(brand):
        updated = services.product_update(brand=brand, product=product, **change)
    assert updated.audit_status == "pending" and not updated.is_sellable
    field, value = next(iter(change.items()))
    assert getattr(Product.unscoped.get(pk=product.pk), field) == value


def test_a_content_change_resubmits_a_rejected_product(brand, make_product):
    product = make_product(brand)
    with brand_scope(brand):
        services.product_audit(brand=brand, product=product, approve=False, reason="Blurry photo")
        updated = services.product_update(brand=brand, product=product, images=[IMAGE])
    assert (updated.audit_status, updated.audit_reason) == ("pending", "")


def test_a_price_change_keeps_the_approval(brand, make_product):
    product = make_product(brand, approved=True)
    with brand_scope(brand):
        updated = services.product_update(brand=brand, product=product, price_type="discount", price=9900, price2=6900)
    assert updated.audit_status == "approved"
    assert (updated.price_type, updated.price, updated.price2) == ("discount", 9900, 6900)


def test_rewriting_the_same_content_keeps_the_approval(brand, make_product):
    product = make_product(brand, approved=True, name="Silk scarf")
    with brand_scope(brand):
        updated = services.product_update(brand=brand, product=product, name="Silk scarf ")
    assert updated.audit_status == "approved"


def test_switching_to_a_fixed_price_drops_the_second_price(brand, make_product):
    product = make_product(brand, price_type="range", price=100, price2=200)
    with brand_scope(brand):
        updated = services.product_update(brand=brand, product=product, price_type="fixed")
    assert (updated.price_type, updated.price2) == ("fixed", None)


def test_update_applies_the_price_rules_and_writes_nothing_on_refusal(brand, make_product):
    product = make_product(brand, price_type="range", price=100, price2=200)
    with brand_scope(brand):
        refused(
            InvalidInput, 400, "price_range_inverted", services.product_update, brand=brand, product=product, price=300
        )
        refused(InvalidInput, 400, "invalid", services.product_update, brand=brand, product=product, name="")
    product.refresh_from_db()
    assert (product.name, product.price) == ("Silk scarf", 100)


def test_update_refuses_fields_that_are_not_content_or_price(brand, make_product):
    product = make_product(brand)
    with brand_scope(brand), pytest.raises(TypeError, match="audit_status"):
        services.product_update(brand=brand, product=product, audit_status="approved")


# --- audit ------------------------------------------------------------------------------------


def test_approving_and_rejecting_a_pending_product(brand, make_product):
    first, second = make_product(brand), make_product(brand, name="Silk tie")
    with brand_scope(brand):
        approved = services.product_audit(brand=brand, product=first, approve=True)
        rejected = services.product_audit(brand=brand, product=second, approve=False, reason=" Blurry photo ")
    assert approved.audit_status == "approved"
    assert (rejected.audit_status, rejected.audit_reason) == ("rejected", "Blurry photo")


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_rejection_needs_a_reason(brand, make_product, reason):
    product = make_product(brand)
    with brand_scope(brand):
        error = refused(
            InvalidInput,
            400,
            "reason_required",
            services.product_audit,
            brand=brand,
            product=product,
            approve=False,
            reason=reason,
        )
    assert "reason" in error.fields
    assert Product.unscoped.get(pk=product.pk).audit_status == "pending"


def test_only_a_pending_product_can_be_audited(brand, make_product):
    product = make_product(brand, approved=True)
    with brand_scope(brand):
        error = refused(
            Conflict,
            409,
            "not_pending",
            services.product_audit,
            brand=brand,
            product=product,
            approve=False,
            reason="x",
        )
    assert error.fields == {"audit_status": "approved"}
    assert Product.unscoped.get(pk=product.pk).audit_status == "approved"


# --- shelf and archive ------------------------------------------------------------------------


def test_a_product_is_sellable_only_on_the_shelf_and_approved(brand, make_product):
    product = make_product(brand)
    with brand_scope(brand):
        on_shelf = services.product_set_shelf(brand=brand, product=product, on_shelf=True)
        assert (on_shelf.status, on_shelf.is_sellable) == ("on_shelf", False)
        assert services.product_audit(brand=brand, product=product, approve=True).is_sellable
        off_shelf = services.product_set_shelf(brand=brand, product=product, on_shelf=False)
    assert (off_shelf.status, off_shelf.is_sellable) == ("off_shelf", False)


def test_archiving_takes_the_product_off_the_shelf_for_good(brand, make_product):
    product = make_product(brand, approved=True, on_shelf=True, skus=[{"code": "A1", "price": 100}])
    with brand_scope(brand):
        archived = services.product_archive(brand=brand, product=product)
        assert archived.status == "archived" and archived.archived_at is not None and not archived.is_sellable
        sku = Sku.objects.get(code="A1")
        for call, kwargs in [
            (services.product_set_shelf, {"product": product, "on_shelf": True}),
            (services.product_update, {"product": product, "name": "Back again"}),
            (services.product_audit, {"product": product, "approve": True}),
            (services.sku_create, {"product": product, "code": "A2", "price": 100}),
            (services.sku_update, {"sku": sku, "price": 200}),
        ]:
            refused(Conflict, 409, "product_archived", call, brand=brand, **kwargs)
        again = services.product_archive(brand=brand, product=product)
    assert again.archived_at == archived.archived_at  # archiving twice changes nothing
    assert Product.unscoped.get(pk=product.pk).name == "Silk scarf"
    assert list(Sku.unscoped.values_list("code", "price")) == [("A1", 100)]


# --- delete -----------------------------------------------------------------------------------


def test_deleting_a_product_no_order_mentions_removes_it_and_its_skus(brand, make_product):
    product = make_product(brand, skus=[{"code": "A1", "price": 100}])
    with brand_scope(brand):
        assert services.product_delete(brand=brand, product=product) == "deleted"
    assert not Product.unscoped.exists() and not Sku.unscoped.exists()


def test_deleting_a_product_an_order_mentions_archives_it_instead(brand, make_product):
    product = make_product(brand, on_shelf=True, skus=[{"code": "A1", "price": 100}])
    # Order lines (not written yet) will reference products with on_delete=PROTECT; until they
    # exist, make the delete raise what such a reference raises.
    protected = ProtectedError("Referenced by an order line.", set())
    with brand_scope(brand), mock.patch.object(Product, "delete", side_effect=protected):
        assert services.product_delete(brand=brand, product=product) == "archived"
    kept = Product.unscoped.get(pk=product.pk)
    assert kept.status == "archived" and kept.archived_at is not None
    assert Sku.unscoped.filter(product=kept).count() == 1


# --- SKUs and stock ---------------------------------------------------------------------------


def test_sku_create_and_update(brand, make_product):
    product = make_product(brand)
    with brand_scope(brand):
        sku = services.sku_create(brand=brand, product=product, code="A1", spec="Red", price=100, stock=3)
        updated = services.sku_update(brand=brand, sku=sku, spec="Crimson", price=120, is_active=False)
        refused(InvalidInput, 400, "invalid", services.sku_update, brand=brand, sku=sku, price=0)
        refused(Conflict, 409, "sku_code_taken", services.sku_create, brand=brand, product=product, code="A1", price=1)
    assert (updated.spec, updated.price, updated.is_active, updated.stock) == ("Crimson", 120, False, 3)
    assert Sku.unscoped.get(pk=sku.pk).price == 120


def test_sku_update_never_writes_stock(brand, make_product):
    product = make_product(brand, skus=[{"code": "A1", "price": 100, "stock": 10}])
    with brand_scope(brand):
        stale = Sku.objects.get(code="A1")
        services.sku_adjust_stock(brand=brand, sku=stale, delta=-4)  # a sale while the stale copy is held
        services.sku_update(brand=brand, sku=stale, price=150)
    assert Sku.unscoped.get(product=product).stock == 6


def test_stock_moves_by_delta_and_never_below_zero(brand, make_product):
    make_product(brand, skus=[{"code": "A1", "price": 100, "stock": 5}])
    with brand_scope(brand):
        sku = Sku.objects.get(code="A1")
        assert services.sku_adjust_stock(brand=brand, sku=sku, delta=10).stock == 15
        assert services.sku_adjust_stock(brand=brand, sku=sku, delta=-15).stock == 0
        error = refused(Conflict, 409, "insufficient_stock", services.sku_adjust_stock, brand=brand, sku=sku, delta=-1)
    assert error.fields == {"sku": sku.pk, "stock": 0, "delta": -1}
    assert Sku.unscoped.get(pk=sku.pk).stock == 0


def test_stock_adjustment_is_one_conditional_update(brand, make_product, django_assert_num_queries):
    make_product(brand, skus=[{"code": "A1", "price": 100, "stock": 5}])
    with brand_scope(brand):
        sku = Sku.objects.get(code="A1")
        # The conditional UPDATE, then a read of the result; no read before the write. SAVEPOINT
        # and RELEASE come from the service's atomic block inside the test's transaction.
        with django_assert_num_queries(4) as queries:
            services.sku_adjust_stock(brand=brand, sku=sku, delta=-5)
    statements = [query["sql"].split()[0] for query in queries.captured_queries]
    assert statements == ["SAVEPOINT", "UPDATE", "SELECT", "RELEASE"]
    assert "UPDATE" in queries.captured_queries[1]["sql"] and '"stock" >=' in queries.captured_queries[1]["sql"]


@pytest.mark.parametrize(
    ("delta", "status", "code"),
    [
        (0, 400, "invalid"),
        (True, 400, "invalid"),
        (1.0, 400, "invalid"),
        (10_000_001, 400, "invalid"),
        (10_000_000, 409, "stock_limit_exceeded"),
    ],
)
def test_stock_adjustments_that_are_refused(brand, make_product, delta, status, code):
    make_product(brand, skus=[{"code": "A1", "price": 100, "stock": 1}])
    with brand_scope(brand):
        sku = Sku.objects.get(code="A1")
        refused(DomainError, status, code, services.sku_adjust_stock, brand=brand, sku=sku, delta=delta)
    assert Sku.unscoped.get(pk=sku.pk).stock == 1


# --- brands -----------------------------------------------------------------------------------


def test_services_do_not_touch_another_brands_products(brand, other_brand, make_product):
    product = make_product(brand, skus=[{"code": "A1", "price": 100, "stock": 5}])
    sku = Sku.unscoped.get(product=product)
    with brand_scope(other_brand):
        for call, kwargs in [
            (services.product_update, {"product": product, "name": "Stolen"}),
            (services.product_set_shelf, {"product": product, "on_shelf": True}),
            (services.product_audit, {"product": product, "approve": True}),
            (services.product_archive, {"product": product}),
            (services.product_delete, {"product": product}),
            (services.sku_create, {"product": product, "code": "B1", "price": 100}),
            (services.sku_update, {"sku": sku, "price": 1}),
            (services.sku_adjust_stock, {"sku": sku, "delta": -5}),
        ]:
            refused(NotFound, 404, "not_found", call, brand=other_brand, **kwargs)
    kept = Product.unscoped.get(pk=product.pk)
    assert (kept.name, kept.status, kept.audit_status) == ("Silk scarf", "off_shelf", "pending")
    assert list(Sku.unscoped.values_list("code", "price", "stock")) == [("A1", 100, 5)]
