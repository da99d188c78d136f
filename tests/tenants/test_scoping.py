import pytest

from guides.models import Store
from tenants.models import Customer
from tenants.scoping import CrossBrandWrite, NoBrandInScope, brand_scope, platform_scope

pytestmark = pytest.mark.django_db


@pytest.fixture
def stores(brand, other_brand):
    return Store.objects.create(brand=brand, code="S1", name="One"), Store.objects.create(
        brand=other_brand, code="S1", name="Rival one"
    )


def test_reading_with_no_brand_in_scope_fails_closed(stores):
    with pytest.raises(NoBrandInScope):
        list(Store.objects.all())
    with pytest.raises(NoBrandInScope):
        Store.objects.count()
    with pytest.raises(NoBrandInScope):
        Store.objects.filter(code="S1").update(name="x")
    with pytest.raises(NoBrandInScope):  # also as a subquery inside an unscoped query
        list(Store.unscoped.filter(pk__in=Store.objects.values("pk")))


def test_a_brand_sees_only_its_rows(brand, other_brand, stores):
    with brand_scope(brand):
        assert list(Store.objects.values_list("name", flat=True)) == ["One"]
        assert not Store.objects.filter(pk=stores[1].pk).exists()
    with brand_scope(other_brand):
        assert Store.objects.get().name == "Rival one"


def test_platform_scope_and_unscoped_manager_read_across_brands(stores):
    with platform_scope():
        assert Store.objects.count() == 2
    assert Store.unscoped.count() == 2


def test_create_fills_the_brand_from_the_scope_and_refuses_another_brand(brand, other_brand):
    with brand_scope(brand):
        store = Store.objects.create(code="S2", name="Filled")
        assert store.brand_id == brand.pk
        with pytest.raises(CrossBrandWrite):
            Store.objects.create(brand=other_brand, code="S3", name="Smuggled")
    assert not Store.unscoped.filter(code="S3").exists()


def test_saving_with_no_brand_at_all_is_refused(db):
    with pytest.raises(NoBrandInScope):
        Store(code="S9", name="Orphan").save()


def test_bulk_create_fills_the_brand(brand):
    with brand_scope(brand):
        Customer.objects.bulk_create([Customer(openid="a"), Customer(openid="b")])
        assert Customer.objects.count() == 2


def test_bulk_create_takes_a_generator(brand):
    with brand_scope(brand):
        Customer.objects.bulk_create(Customer(openid=f"gen-{n}") for n in range(3))
        assert Customer.objects.filter(openid__startswith="gen-").count() == 3
