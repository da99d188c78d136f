"""Visits through shares, the brand's binding rule, and the one decision of an order's attribution."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import assert_error
from guides.models import Binding, Visit
from guides.selectors import bound_guide
from guides.services import attribute_order, stores
from tenants.scoping import brand_scope
from tests.guides.conftest import buy, make_guide, share, visit

pytestmark = pytest.mark.django_db


def binding_of(customer):
    return Binding.unscoped.filter(customer=customer).first()


def expire(customer):
    Binding.unscoped.filter(customer=customer).update(protected_until=timezone.now() - timedelta(seconds=1))


def test_first_visit_binds_the_guide_and_their_store_for_the_protection_period(brand, make_customer, guide, room):
    customer = make_customer(brand)
    outcome = visit(customer, share(brand, guide, "room", room.pk).scene)

    binding = binding_of(customer)
    assert outcome.bound and (binding.guide, binding.store) == (guide, guide.store)
    assert binding.protected_until - binding.bound_at == timedelta(days=brand.binding_protection_days)
    assert Visit.unscoped.get(customer=customer).bound
    with brand_scope(brand):
        assert bound_guide(customer) == guide


def test_first_mode_keeps_the_first_guide_while_protected_then_gives_way(
    brand, make_customer, guide, other_guide, room
):
    customer = make_customer(brand)
    visit(customer, share(brand, guide, "room", room.pk).scene)
    second = share(brand, other_guide, "room", room.pk).scene

    assert not visit(customer, second).bound
    assert binding_of(customer).guide == guide

    expire(customer)
    assert visit(customer, second).bound
    assert binding_of(customer).guide == other_guide


def test_latest_mode_lets_the_latest_share_win(brand, make_customer, guide, other_guide, room):
    brand.binding_mode = "latest"
    brand.save()
    customer = make_customer(brand)
    visit(customer, share(brand, guide, "room", room.pk).scene)
    assert visit(customer, share(brand, other_guide, "room", room.pk).scene).bound
    assert binding_of(customer).guide == other_guide


def test_the_same_guide_sharing_again_renews_the_protection(brand, make_customer, guide, room, sku):
    customer = make_customer(brand)
    visit(customer, share(brand, guide, "room", room.pk).scene)
    Binding.unscoped.filter(customer=customer).update(protected_until=timezone.now() + timedelta(days=1))
    visit(customer, share(brand, guide, "product", sku.product.pk).scene)
    assert binding_of(customer).protected_until > timezone.now() + timedelta(days=14)


def test_a_guide_who_leaves_stops_binding_and_their_customers_fall_back_to_the_store(
    brand, make_customer, guide, other_guide, room
):
    customer = make_customer(brand)
    scene = share(brand, guide, "room", room.pk).scene
    visit(customer, scene)
    with brand_scope(brand):
        stores.guide_leave(brand=brand, guide=guide)
        assert bound_guide(customer) is None

    binding = binding_of(customer)
    assert (binding.guide, binding.store) == (None, guide.store)
    newcomer = make_customer(brand)
    assert not visit(newcomer, scene).bound  # their old share no longer binds
    assert binding_of(newcomer) is None
    assert visit(customer, share(brand, other_guide, "room", room.pk).scene).bound  # the store binding gives way
    assert binding_of(customer).guide == other_guide


def test_a_brand_share_of_a_room_binds_nobody_but_a_store_share_binds_the_store(brand, make_customer, room, store):
    customer = make_customer(brand)
    assert not visit(customer, share(brand, None, "room", room.pk).scene).bound
    assert binding_of(customer) is None
    assert visit(customer, share(brand, None, "store", store.pk).scene).bound
    assert (binding_of(customer).guide, binding_of(customer).store) == (None, store)


def test_sharing_the_same_target_twice_answers_the_same_share(brand, guide, room):
    first, again = share(brand, guide, "room", room.pk), share(brand, guide, "room", room.pk)
    assert first.pk == again.pk
    assert 1 <= len(first.scene) <= 32 and bytes(first.poster_png).startswith(b"\x89PNG")


# --- attribution -------------------------------------------------------------------------------


def test_an_order_through_a_scene_is_the_scenes_guide_with_store_and_leader(
    brand, make_customer, guide, other_guide, leader, sku
):
    customer = make_customer(brand)
    visit(customer, share(brand, other_guide, "product", sku.product.pk).scene)  # bound to bob
    order = buy(customer, sku, scene=share(brand, guide, "product", sku.product.pk).scene)
    assert (order.guide_id, order.store_id, order.leader_id) == (guide.pk, guide.store_id, leader.pk)
    assert order.source_scene and order.source_kind == "scene"


def test_an_order_without_a_scene_follows_the_binding(brand, make_customer, other_guide, sku):
    customer = make_customer(brand)
    visit(customer, share(brand, other_guide, "product", sku.product.pk).scene)
    order = buy(customer, sku)
    assert (order.guide_id, order.store_id, order.leader_id) == (other_guide.pk, other_guide.store_id, None)


def test_an_order_with_no_scene_and_no_binding_is_nobodys(brand, make_customer, sku):
    order = buy(make_customer(brand), sku)
    assert (order.guide_id, order.store_id, order.leader_id) == (None, None, None)


def test_an_unknown_scene_or_a_left_guides_scene_falls_back_to_the_binding(
    brand, make_customer, guide, other_guide, sku
):
    customer = make_customer(brand)
    visit(customer, share(brand, other_guide, "product", sku.product.pk).scene)
    gone = share(brand, guide, "product", sku.product.pk).scene
    with brand_scope(brand):
        stores.guide_leave(brand=brand, guide=guide)
        assert attribute_order(brand=brand, customer=customer, scene="nope").guide_id == other_guide.pk
        assert attribute_order(brand=brand, customer=customer, scene=gone).guide_id == other_guide.pk


def test_attribution_never_changes_after_placement(brand, make_customer, guide, other_guide, sku):
    brand.binding_mode = "latest"
    brand.save()
    customer = make_customer(brand)
    visit(customer, share(brand, guide, "product", sku.product.pk).scene)
    order = buy(customer, sku)
    visit(customer, share(brand, other_guide, "product", sku.product.pk).scene)
    with brand_scope(brand):
        stores.guide_leave(brand=brand, guide=guide)
    order.refresh_from_db()
    assert order.guide_id == guide.pk


def test_another_brands_scene_is_unknown_here(brand, other_brand, make_customer, sku):
    rival_guide = make_guide(other_brand, "rivalguide")
    from tests.commerce.conftest import create_sku

    rival_sku = create_sku(other_brand)
    scene = share(other_brand, rival_guide, "product", rival_sku.product.pk).scene
    customer = make_customer(brand)
    with brand_scope(brand):
        assert attribute_order(brand=brand, customer=customer, scene=scene).guide_id is None


# --- the visit endpoint ------------------------------------------------------------------------


def test_visit_endpoint_records_and_binds(brand, make_customer, customer_client, guide, room):
    customer = make_customer(brand)
    scene = share(brand, guide, "room", room.pk).scene
    response = customer_client(customer).post("/api/v1/mp/visits", {"scene": scene, "source": "poster"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["target"] == "room" and body["target_id"] == room.pk and body["source"] == f"scene:{scene}"
    assert body["bound"] and body["binding"]["guide_id"] == guide.pk


def test_visit_endpoint_refuses_bad_and_foreign_scenes(brand, other_brand, make_customer, customer_client, room):
    client = customer_client(make_customer(brand))
    assert_error(client.post("/api/v1/mp/visits", {"scene": "bad scene%"}), 400, "invalid")
    assert_error(client.post("/api/v1/mp/visits", {"scene": "x" * 33}), 400, "invalid")
    from tests.commerce.conftest import create_room

    rival_scene = share(other_brand, None, "room", create_room(other_brand).pk).scene
    assert_error(client.post("/api/v1/mp/visits", {"scene": rival_scene}), 404, "share_not_found")
    assert not Visit.unscoped.exists()
