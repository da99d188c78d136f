"""The shared room detail (livestream.room_state): built once per change and served as ready bytes
from the cache under the room's version. Every kind of change is read back right after its commit
returned; a repeat load with the ETag answers 304; a hit runs no query; the key is the brand's; a
crowd's miss builds once; an unreachable Redis answers from the database."""

import shutil
import socket
import subprocess
import threading
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from commerce.models import FlashSale, FlashSalePurchase, Sku
from commerce.services import products
from conftest import assert_error
from coupons.models import Coupon, CouponDrop, CouponTemplate
from livestream import realtime, room_state
from livestream.models import LiveRoom, ReminderSubscription
from livestream.services import costreams, festivals, gift_boxes, lotteries, room_products, rooms
from tenants import services as tenant_services
from tenants.scoping import brand_scope

ROOMS = "/api/v1/mp/rooms"


@pytest.fixture(autouse=True)
def live_store():
    realtime.reset_store()
    yield realtime.store()
    realtime.reset_store()


@pytest.fixture
def show(brand, make_room, make_product):
    """A live room listing Tea (one SKU, one unit left) and Cake (five units)."""
    room = make_room(brand, status="live")
    tea, cake = make_product(brand, "Tea", price=1990), make_product(brand, "Cake", price=2990)
    tea_sku = Sku.objects.create(brand=brand, product=tea, code="tea-1", spec="Tin", price=1990, stock=1)
    cake_sku = Sku.objects.create(brand=brand, product=cake, code="cake-1", spec="Box", price=2990, stock=5)
    room_products.room_products_add(brand=brand, room=room, product_ids=[tea.pk, cake.pk])
    return SimpleNamespace(room=room, tea=tea, cake=cake, tea_sku=tea_sku, cake_sku=cake_sku)


@pytest.fixture
def viewer(brand, make_customer, customer_client):
    return customer_client(make_customer(brand))


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a change and its on-commit callbacks, as a request's commit does before it returns."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def detail(client, room, **extra):
    response = client.get(f"{ROOMS}/{room.pk}", **extra)
    assert response.status_code == 200, response.content[:300]
    return response.json()


def card(body, product):
    return next((card for card in body["products"] if card["id"] == product.pk), None)


def current_version(brand, room):
    return room_state.cache.get(room_state.version_key(brand.pk, room.pk))


def changed_then_read(viewer, room, committed, change):
    """Warm the cache, change through the service, and read the room again."""
    before = detail(viewer, room)
    with committed(), brand_scope(room.brand):  # as the console's views run the services
        change()
    return before, detail(viewer, room)


# --- each kind of change, read right after its commit ---------------------------------------------


def test_a_push_is_seen_at_once(brand, show, viewer, committed):
    before, after = changed_then_read(
        viewer,
        show.room,
        committed,
        lambda: room_products.room_product_push(brand=brand, room=show.room, product_id=show.cake.pk),
    )
    assert before["pushed_product"] is None and after["pushed_product"]["id"] == show.cake.pk


def test_off_and_on_sale_are_seen_at_once(brand, show, viewer, committed):
    def sale(on_sale):
        room_products.room_product_set_sale(brand=brand, room=show.room, product_id=show.tea.pk, on_sale=on_sale)

    before, after = changed_then_read(viewer, show.room, committed, lambda: sale(False))
    assert card(before, show.tea) and not card(after, show.tea)
    _, again = changed_then_read(viewer, show.room, committed, lambda: sale(True))
    assert card(again, show.tea)


def test_a_product_price_change_is_seen_at_once(brand, show, viewer, committed):
    before, after = changed_then_read(
        viewer, show.room, committed, lambda: products.product_update(brand=brand, product=show.tea, price=1790)
    )
    assert (card(before, show.tea)["price"], card(after, show.tea)["price"]) == (1990, 1790)


def test_a_sku_price_change_is_seen_at_once(brand, show, viewer, committed):
    before, after = changed_then_read(
        viewer, show.room, committed, lambda: products.sku_update(brand=brand, sku=show.tea_sku, price=1500)
    )
    assert card(before, show.tea)["skus"][0]["price"] == 1990 and card(after, show.tea)["skus"][0]["price"] == 1500


def test_sold_out_and_back_in_stock_are_seen_at_once(brand, show, viewer, committed):
    def adjust(delta):
        products.sku_adjust_stock(brand=brand, sku=show.tea_sku, delta=delta)

    before, after = changed_then_read(viewer, show.room, committed, lambda: adjust(-1))
    assert card(before, show.tea)["skus"][0]["in_stock"] and not card(after, show.tea)["skus"][0]["in_stock"]
    _, again = changed_then_read(viewer, show.room, committed, lambda: adjust(3))
    assert card(again, show.tea)["skus"][0]["in_stock"]


def test_a_unit_sold_that_leaves_stock_does_not_rebuild(brand, show, viewer, committed):
    detail(viewer, show.room)
    version = current_version(brand, show.room)
    with committed(), brand_scope(brand):
        products.sku_adjust_stock(brand=brand, sku=show.cake_sku, delta=-1)  # 5 → 4: still in stock
    assert current_version(brand, show.room) == version


def test_the_order_paths_call_for_a_sku_crossing_zero_is_seen_at_once(brand, show, viewer, committed):
    """What the order path does when a SKU sells out: it names the SKU, every room listing it follows."""

    def sold_out():
        Sku.objects.filter(pk=show.tea_sku.pk).update(stock=0)
        room_state.rooms_changed_on_commit(brand_id=brand.pk, sku_ids=[show.tea_sku.pk])

    _, after = changed_then_read(viewer, show.room, committed, sold_out)
    assert not card(after, show.tea)["skus"][0]["in_stock"]


def test_a_status_change_is_seen_at_once(brand, show, viewer, committed):
    before, after = changed_then_read(
        viewer, show.room, committed, lambda: rooms.room_pause(brand=brand, room=show.room)
    )
    assert (before["status"], after["status"]) == ("live", "paused")


def test_a_room_edit_is_seen_at_once(brand, show, viewer, committed):
    before, after = changed_then_read(
        viewer, show.room, committed, lambda: rooms.room_update(brand=brand, room=show.room, title="Autumn launch")
    )
    assert after["title"] == "Autumn launch" != before["title"]


def test_products_added_removed_and_reordered_are_seen_at_once(brand, show, viewer, committed, make_product):
    jam = make_product(brand, "Jam")
    _, added = changed_then_read(
        viewer,
        show.room,
        committed,
        lambda: room_products.room_products_add(brand=brand, room=show.room, product_ids=[jam.pk]),
    )
    assert [c["name"] for c in added["products"]] == ["Tea", "Cake", "Jam"]
    _, removed = changed_then_read(
        viewer,
        show.room,
        committed,
        lambda: room_products.room_product_remove(brand=brand, room=show.room, product_id=show.tea.pk),
    )
    assert [c["name"] for c in removed["products"]] == ["Cake", "Jam"]
    _, reordered = changed_then_read(
        viewer,
        show.room,
        committed,
        lambda: room_products.room_products_reorder(brand=brand, room=show.room, product_ids=[jam.pk, show.cake.pk]),
    )
    assert [c["name"] for c in reordered["products"]] == ["Jam", "Cake"]


def test_a_product_off_the_shelf_is_seen_at_once(brand, show, viewer, committed):
    _, after = changed_then_read(
        viewer, show.room, committed, lambda: products.product_set_shelf(brand=brand, product=show.tea, on_shelf=False)
    )
    assert not card(after, show.tea)


def test_games_opened_and_closed_are_seen_at_once(brand, show, viewer, committed):
    holder = {}

    def open_lottery():
        holder["lottery"] = lotteries.lottery_open(
            brand=brand, room=show.room, title="Lucky draw", prize_kind="physical", prize_name="Tea set", winner_count=1
        )

    def open_box():
        holder["box"] = gift_boxes.gift_box_create(
            brand=brand,
            room=show.room,
            title="Stay box",
            watch_minutes=5,
            prizes=[{"kind": "thanks", "name": "Thanks", "weight": 1}],
        )

    _, opened = changed_then_read(viewer, show.room, committed, open_lottery)
    assert opened["games"] == [{"kind": "lottery", "id": holder["lottery"].pk, "title": "Lucky draw"}]
    _, both = changed_then_read(viewer, show.room, committed, open_box)
    assert [game["kind"] for game in both["games"]] == ["lottery", "gift_box"]
    _, closed = changed_then_read(
        viewer, show.room, committed, lambda: lotteries.lottery_stop(brand=brand, lottery=holder["lottery"])
    )
    assert [game["kind"] for game in closed["games"]] == ["gift_box"]
    _, none = changed_then_read(
        viewer, show.room, committed, lambda: gift_boxes.gift_box_stop(brand=brand, box=holder["box"])
    )
    assert none["games"] == []


def test_a_costream_accepted_then_ended_is_seen_at_once(brand, other_brand, show, viewer, committed, make_room):
    partner = make_room(other_brand, title="Partner show", status="live")
    holder = {}

    def link():
        invitation = costreams.costream_invite(brand=other_brand, room=partner, room_code=show.room.costream_code)
        holder["costream"] = costreams.costream_accept(brand=brand, costream=invitation)

    _, linked = changed_then_read(viewer, show.room, committed, link)
    assert linked["costream"]["partner"]["room_id"] == partner.pk
    # The partner's push shows in this room's co-stream card.
    _, pushed = changed_then_read(
        viewer,
        show.room,
        committed,
        lambda: room_products.room_product_push(brand=brand, room=show.room, product_id=show.tea.pk),
    )
    assert pushed["pushed_product"]["id"] == show.tea.pk
    _, ended = changed_then_read(
        viewer, show.room, committed, lambda: costreams.costream_end(brand=brand, costream=holder["costream"])
    )
    assert ended["costream"] is None


def test_festival_changes_are_seen_at_once(brand, show, viewer, committed):
    now = timezone.now()
    festival = festivals.festival_create(name="Double 11", starts_at=now, ends_at=now + timedelta(days=1))
    venue = festivals.festival_invite(festival=festival, brand=brand)

    def join_and_publish():
        festivals.venue_join(brand=brand, venue=venue, room=show.room)
        festivals.festival_set_main_room(festival=festival, room_id=show.room.pk)
        festivals.festival_publish(festival=festival)

    before, after = changed_then_read(viewer, show.room, committed, join_and_publish)
    assert before["festivals"] == []
    assert after["festivals"] == [
        {"id": festival.pk, "name": "Double 11", "main_room_id": show.room.pk, "is_main_venue": True}
    ]
    sourced = detail(viewer, show.room, QUERY_STRING=f"source=festival:{festival.pk}")
    assert sourced["source"]["kind"] == "festival" and sourced["source"]["referring_room_id"] == show.room.pk
    _, ended = changed_then_read(viewer, show.room, committed, lambda: festivals.festival_end(festival=festival))
    assert ended["festivals"] == []
    assert_error(viewer.get(f"{ROOMS}/{show.room.pk}?source=festival:{festival.pk}"), 400, "invalid_source")


def test_the_version_is_bumped_before_the_rooms_event_is_published(brand, show, viewer, committed, monkeypatch):
    """A viewer who reloads the room on hearing ``product.push`` gets the pushed product."""
    seen = []
    monkeypatch.setattr(
        "livestream.realtime._broadcast",
        lambda room_id, event: seen.append((event["type"], detail(viewer, show.room)["pushed_product"])),
    )
    detail(viewer, show.room)
    with committed():
        room_products.room_product_push(brand=brand, room=show.room, product_id=show.cake.pk)
    assert ("product.push", {**seen[0][1], "id": show.cake.pk}) == seen[0]


def test_a_change_rolled_back_bumps_nothing(brand, show, viewer, committed):
    detail(viewer, show.room)
    version = current_version(brand, show.room)
    with committed(), pytest.raises(RuntimeError), transaction.atomic():
        room_state.rooms_changed_on_commit(brand_id=brand.pk, room_ids=[show.room.pk])
        raise RuntimeError
    assert current_version(brand, show.room) == version


def test_the_sku_call_bumps_only_the_rooms_listing_it_and_runs_at_once_outside_a_transaction(
    brand, show, make_room, make_product
):
    other = make_room(brand, title="Other show", status="live")
    room_products.room_products_add(brand=brand, room=other, product_ids=[show.cake.pk])
    versions = {}
    for room in (show.room, other):
        room_state.shared_entry(brand_id=brand.pk, room_id=room.pk, build=lambda: (b"{", {}))
        versions[room.pk] = room_state.cache.get(room_state.version_key(brand.pk, room.pk))
    room_state._bump(brand.pk, (), (show.tea_sku.pk,))  # what the on-commit callback runs
    assert room_state.cache.get(room_state.version_key(brand.pk, show.room.pk)) == versions[show.room.pk] + 1
    assert room_state.cache.get(room_state.version_key(brand.pk, other.pk)) == versions[other.pk]


# --- conditional requests, queries, tenancy --------------------------------------------------------


def test_a_repeat_load_with_the_etag_answers_304_until_the_room_changes(brand, show, viewer, committed):
    first = viewer.get(f"{ROOMS}/{show.room.pk}")
    tag = first["ETag"]
    assert tag.startswith('W/"') and first["Cache-Control"] == "private, no-cache"

    again = viewer.get(f"{ROOMS}/{show.room.pk}", HTTP_IF_NONE_MATCH=tag)
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == tag

    with committed():
        room_products.room_product_push(brand=brand, room=show.room, product_id=show.cake.pk)
    changed = viewer.get(f"{ROOMS}/{show.room.pk}", HTTP_IF_NONE_MATCH=tag)
    assert changed.status_code == 200 and changed["ETag"] != tag
    assert changed.json()["pushed_product"]["id"] == show.cake.pk


def test_a_hit_runs_no_query_and_every_viewer_gets_the_same_shared_bytes(
    brand, show, make_customer, customer_client, django_assert_num_queries
):
    realtime.store().heartbeat({show.room.pk: ["a", "b"]}, time.time())
    first = customer_client(make_customer(brand)).get(f"{ROOMS}/{show.room.pk}")
    other = customer_client(make_customer(brand))
    with django_assert_num_queries(0):
        second = other.get(f"{ROOMS}/{show.room.pk}")
    assert first.content == second.content and second.json()["online"] == 2


def test_counters_are_spliced_in_without_a_new_version(brand, show, viewer):
    first = viewer.get(f"{ROOMS}/{show.room.pk}")
    realtime.store().add_likes({show.room.pk: 41}, time.time())
    room_state.cache.delete(room_state.live_key(brand.pk, show.room.pk))  # the second of LIVE_TTL has passed
    second = viewer.get(f"{ROOMS}/{show.room.pk}")
    assert second["ETag"] == first["ETag"] and second.json()["likes"] == first.json()["likes"] + 41


def test_another_brands_customer_gets_404_even_with_a_warm_cache(
    show, viewer, other_brand, make_customer, customer_client
):
    detail(viewer, show.room)  # the brand's viewer warmed it
    rival = customer_client(make_customer(other_brand))
    assert_error(rival.get(f"{ROOMS}/{show.room.pk}"), 404, "room_not_found")
    tag = viewer.get(f"{ROOMS}/{show.room.pk}")["ETag"]
    assert_error(rival.get(f"{ROOMS}/{show.room.pk}", HTTP_IF_NONE_MATCH=tag), 404, "room_not_found")
    assert_error(rival.get(f"{ROOMS}/{show.room.pk}/me"), 404, "room_not_found")


def test_a_suspended_brand_is_refused_even_with_a_warm_cache(brand, show, viewer, committed):
    detail(viewer, show.room)
    with committed():
        tenant_services.brand_suspend(brand=brand, reason="unpaid")
    assert_error(viewer.get(f"{ROOMS}/{show.room.pk}"), 403, "brand_suspended")


def test_a_bad_token_or_none_is_refused_as_before(show, anon):
    assert anon.get(f"{ROOMS}/{show.room.pk}").status_code == 401
    anon.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert anon.get(f"{ROOMS}/{show.room.pk}").status_code == 401


def test_a_bad_source_is_refused_with_the_shared_error_shape_warm_or_cold(show, viewer):
    assert_error(viewer.get(f"{ROOMS}/{show.room.pk}?source=festival:99"), 400, "invalid_source")
    detail(viewer, show.room)
    assert_error(viewer.get(f"{ROOMS}/{show.room.pk}?source=nonsense"), 400, "invalid_source")
    assert detail(viewer, show.room, QUERY_STRING="source=scene:abc")["source"]["scene"] == "abc"


# --- the cache machinery --------------------------------------------------------------------------


def test_a_crowds_miss_builds_once(brand):
    builds = []

    def slow_build():
        builds.append(1)
        time.sleep(0.1)
        return b'{"id":1', {"n": len(builds)}

    answers = []
    threads = [
        threading.Thread(
            target=lambda: answers.append(room_state.shared_entry(brand_id=brand.pk, room_id=1, build=slow_build)[0])
        )
        for _ in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1 and len(answers) == 20 and len({entry.version for entry in answers}) == 1


def test_a_lost_version_never_serves_the_old_body(brand):
    first = room_state.shared_entry(brand_id=brand.pk, room_id=7, build=lambda: (b"{", {"old": True}))[0]
    room_state.cache.delete(room_state.version_key(brand.pk, 7))  # evicted, or Redis restarted
    second = room_state.shared_entry(brand_id=brand.pk, room_id=7, build=lambda: (b"{", {"old": False}))[0]
    assert second.meta == {"old": False} and second.version > first.version


# --- Redis unreachable ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(params=["django.core.cache.backends.redis.RedisCache", "tenants.redis.DegradingRedisCache"])
def throwaway_redis(settings, request):
    """A redis-server of the test's own on a free port, serving the cache (Django's backend, which
    raises, and the project's, which answers as a cold cache) and the live store."""
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    for _ in range(100):
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    settings.CACHES = {"default": {"BACKEND": request.param, "LOCATION": url, "KEY_PREFIX": "t"}}
    settings.REDIS_URL = url
    realtime.reset_store()
    yield process
    if process.poll() is None:
        process.terminate()
        process.wait(5)
    realtime.reset_store()


def test_the_detail_answers_from_the_database_when_redis_is_unreachable(brand, show, viewer, throwaway_redis):
    warm = viewer.get(f"{ROOMS}/{show.room.pk}")
    assert warm.status_code == 200 and room_state.cache.get(room_state.body_key(brand.pk, show.room.pk))
    throwaway_redis.terminate()
    throwaway_redis.wait(5)

    down = viewer.get(f"{ROOMS}/{show.room.pk}")
    assert down.status_code == 200, down.content[:300]
    assert [c["name"] for c in down.json()["products"]] == ["Tea", "Cake"]
    # A change while Redis is down is not lost for the viewer: the database answers.
    room_products.room_product_set_sale(brand=brand, room=show.room, product_id=show.tea.pk, on_sale=False)
    room_state._bump(brand.pk, (show.room.pk,), ())  # the on-commit bump fails soft
    assert [c["name"] for c in detail(viewer, show.room)["products"]] == ["Cake"]


# --- the viewer's own part --------------------------------------------------------------------------


def test_the_viewers_own_part(brand, show, make_customer, customer_client):
    me, someone = make_customer(brand), make_customer(brand)
    ReminderSubscription.objects.create(brand=brand, room=show.room, customer=me)
    now = timezone.now()
    sale = FlashSale.objects.create(
        brand=brand,
        sku=show.cake_sku,
        room=show.room,
        price=990,
        quantity=10,
        per_customer_limit=3,
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(hours=1),
    )
    FlashSalePurchase.objects.create(brand=brand, flash_sale=sale, customer=me, quantity=2)
    FlashSalePurchase.objects.create(brand=brand, flash_sale=sale, customer=someone, quantity=3)
    template = CouponTemplate.objects.create(brand=brand, name="5 off", kind="amount", amount_off=500, valid_days=7)
    drop = CouponDrop.objects.create(brand=brand, room=show.room, template=template, quantity=5, claimed=1)
    coupon = Coupon.objects.create(
        brand=brand, template=template, customer=me, source="drop", drop=drop, valid_from=now, valid_until=now
    )

    body = customer_client(me).get(f"{ROOMS}/{show.room.pk}/me").json()

    assert body == {
        "room_id": show.room.pk,
        "subscribed": True,
        "coupons": [{"drop_id": drop.pk, "coupon_id": coupon.pk, "status": "available"}],
        "limits": [{"flash_sale_id": sale.pk, "sku_id": show.cake_sku.pk, "left": 1}],
        "groups": [],
        "bargains": [],
    }
    other = customer_client(someone).get(f"{ROOMS}/{show.room.pk}/me").json()
    assert other["subscribed"] is False and other["coupons"] == [] and other["limits"][0]["left"] == 0


def test_the_viewers_own_part_of_a_closed_or_missing_room_is_not_found(brand, viewer, make_room):
    cancelled = make_room(brand, status="cancelled")
    assert_error(viewer.get(f"{ROOMS}/{cancelled.pk}/me"), 404, "room_not_found")
    assert_error(viewer.get(f"{ROOMS}/999999/me"), 404, "room_not_found")


def test_the_room_model_is_untouched_by_reads(show, viewer):
    updated = LiveRoom.unscoped.get(pk=show.room.pk).updated_at
    with CaptureQueriesContext(connection) as queries:
        detail(viewer, show.room)
    assert not any(q["sql"].startswith(("UPDATE", "INSERT")) for q in queries.captured_queries)
    assert LiveRoom.unscoped.get(pk=show.room.pk).updated_at == updated


def test_a_client_that_accepts_gzip_gets_the_same_answer_compressed(show, viewer):
    import gzip

    plain = viewer.get(f"{ROOMS}/{show.room.pk}?source=scene:abc")
    packed = viewer.get(f"{ROOMS}/{show.room.pk}?source=scene:abc", HTTP_ACCEPT_ENCODING="br, gzip")
    assert packed["Content-Encoding"] == "gzip" and packed["Vary"] == "Accept-Encoding"
    assert gzip.decompress(packed.content) == plain.content and len(packed.content) < len(plain.content)


def test_a_process_that_served_an_older_version_does_not_serve_it_again(brand, show, viewer, committed):
    """The process's memo of the last entry is checked against the cache's version every time."""
    detail(viewer, show.room)
    room_state.cache.incr(room_state.version_key(brand.pk, show.room.pk))  # another process's change
    Sku.unscoped.filter(pk=show.tea_sku.pk).update(stock=0)
    assert not card(detail(viewer, show.room), show.tea)["skus"][0]["in_stock"]
