"""Lotteries: open with a commitment, join by the rule, a draw anyone can recompute from the
public proof, prizes issued or waiting for an address, and brands kept apart."""

import hashlib
import hmac
import time
from datetime import timedelta

import pytest
from django.test import Client as DjangoClient
from django.utils import timezone

from conftest import assert_error
from coupons.models import Coupon
from livestream import realtime
from livestream.models import Comment, Lottery, LotteryEntry, LotteryWinner
from livestream.services import lotteries, reminders
from livestream.tasks import draw_due_lotteries, lapse_unclaimed_prizes
from tenants.models import Membership
from tests.coupons.conftest import make_template
from tests.livestream.conftest import of_type

MP = "/api/v1/mp/rooms"
CONSOLE = "/api/v1/console/rooms"


@pytest.fixture(autouse=True)
def fresh_store():
    realtime.reset_store()
    yield
    realtime.reset_store()


def watching(room, customer):
    """The customer's socket is in the room, sending heartbeats (as the consumer does)."""
    socket_id = f"s{customer.pk}-{time.monotonic_ns()}"
    realtime.store().watch_start(room.pk, customer.pk, socket_id, time.time() - 5)
    realtime.store().heartbeat({room.pk: [socket_id]}, time.time())
    return socket_id


@pytest.fixture
def room(brand, make_room):
    return make_room(brand, status="live")


@pytest.fixture
def rival_room(other_brand, make_room):
    return make_room(other_brand, title="Rival show", status="live")


def open_lottery(brand, room, **fields):
    values = {"title": "Lucky draw", "prize_kind": "physical", "prize_name": "Tea set", "winner_count": 2, **fields}
    return lotteries.lottery_open(brand=brand, room=room, **values)


def join(client, room, lottery):
    return client.post(f"{MP}/{room.pk}/lotteries/{lottery.pk}/join")


# --- the verifiable draw ------------------------------------------------------------------------


def recompute_from_proof(proof: dict) -> list[int]:
    """An outsider's check, written from the proof's own description, using nothing else."""
    assert hashlib.sha256(bytes.fromhex(proof["seed"])).hexdigest() == proof["commitment"]
    key, ids, counter = bytes.fromhex(proof["seed"]), sorted(proof["entrant_ids"]), 0

    def uniform(m):
        nonlocal counter
        while True:
            r = int.from_bytes(hmac.new(key, counter.to_bytes(8, "big"), hashlib.sha256).digest(), "big")
            counter += 1
            if r < 2**256 - 2**256 % m:
                return r % m

    k = min(proof["winner_count"], len(ids))
    for i in range(k):
        j = i + uniform(len(ids) - i)
        ids[i], ids[j] = ids[j], ids[i]
    return ids[:k]


def test_a_draw_is_recomputed_from_the_public_proof_alone(
    brand, room, console, make_customer, customer_client, events, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = console.post(
            f"{CONSOLE}/{room.pk}/lotteries",
            {"title": "Lucky draw", "prize_kind": "physical", "prize_name": "Tea set", "winner_count": 3},
        )
    assert response.status_code == 201, response.content
    lottery_id, commitment = response.json()["id"], response.json()["commitment"]
    [(room_id, opened)] = of_type(events, "lottery.open")
    assert (room_id, opened["id"], opened["commitment"]) == (room.pk, lottery_id, commitment)
    assert "seed" not in opened

    viewers = [make_customer(brand, nickname=f"v{i}") for i in range(8)]
    for viewer in viewers:
        watching(room, viewer)
        assert customer_client(viewer).post(f"{MP}/{room.pk}/lotteries/{lottery_id}/join").status_code == 200
    viewer = customer_client(viewers[0])
    before = viewer.get(f"{MP}/{room.pk}/lotteries/{lottery_id}/proof").json()
    assert before["seed"] is None and before["commitment"] == commitment

    with django_capture_on_commit_callbacks(execute=True):
        drawn = console.post(f"{CONSOLE}/{room.pk}/lotteries/{lottery_id}/draw")
    assert drawn.status_code == 200, drawn.content

    proof = viewer.get(f"{MP}/{room.pk}/lotteries/{lottery_id}/proof").json()
    assert proof["commitment"] == commitment  # the seed revealed is the one committed to at the open
    assert sorted(proof["entrant_ids"]) == sorted(v.pk for v in viewers)
    winners = recompute_from_proof(proof)
    assert winners == proof["winner_ids"] and len(set(winners)) == 3
    [(_, result)] = of_type(events, "lottery.result")
    assert [w["customer_id"] for w in result["winners"]] == winners
    assert result["seed"] == proof["seed"]
    assert [w["customer_id"] for w in drawn.json()["winners"]] == winners


def test_the_draw_picks_every_entrant_equally_often():
    counts = dict.fromkeys(range(1, 6), 0)
    for n in range(3000):
        seed = hashlib.sha256(str(n).encode()).hexdigest()
        for winner in lotteries.pick_winners(seed, [5, 3, 1, 4, 2], 2):
            counts[winner] += 1
    assert all(1050 < c < 1350 for c in counts.values()), counts  # 1200 each expected


def test_fewer_entrants_than_prizes_all_win_and_nobody_wins_twice(brand, room, make_customer):
    lottery = open_lottery(brand, room, winner_count=5)
    customers = [make_customer(brand) for _ in range(2)]
    for customer in customers:
        watching(room, customer)
        lotteries.lottery_join(brand=brand, lottery=lottery, customer=customer)
    lottery = lotteries.lottery_draw(brand=brand, lottery=lottery)
    assert sorted(lottery.winner_ids) == sorted(c.pk for c in customers)
    assert LotteryWinner.unscoped.filter(lottery=lottery).count() == 2


# --- eligibility --------------------------------------------------------------------------------


def test_present_rule_wants_a_live_socket_with_heartbeats(brand, room, make_customer, customer_client):
    lottery = open_lottery(brand, room)
    viewer = make_customer(brand)
    client = customer_client(viewer)
    assert_error(join(client, room, lottery), 409, "lottery_not_eligible")
    socket_id = watching(room, viewer)
    realtime.store().watch_end(room.pk, viewer.pk, socket_id, time.time())  # left the room
    assert_error(join(client, room, lottery), 409, "lottery_not_eligible")
    watching(room, viewer)
    assert join(client, room, lottery).status_code == 200
    assert_error(join(client, room, lottery), 409, "lottery_already_joined")
    assert LotteryEntry.unscoped.filter(lottery=lottery).count() == 1
    assert Lottery.unscoped.get(pk=lottery.pk).entrant_count == 1


def test_keyword_rule_counts_comments_since_the_open_even_if_still_queued(brand, room, make_customer, customer_client):
    viewer, other = make_customer(brand), make_customer(brand)
    Comment.objects.create(
        id=900_000_000,
        brand=brand,
        room=room,
        customer=viewer,
        text="我要茶具",
        created_at=timezone.now() - timedelta(hours=1),
    )
    lottery = open_lottery(brand, room, rule="keyword", keyword="茶具")
    assert_error(join(customer_client(viewer), room, lottery), 409, "lottery_not_eligible")  # before the open
    moderation = realtime_moderation(room)
    from livestream.services import live

    live.comment_submit(brand=brand, room_id=room.pk, customer=viewer, text="来个 茶具 吧", moderation=moderation)
    live.comment_submit(brand=brand, room_id=room.pk, customer=other, text="hello", moderation=moderation)
    assert join(customer_client(viewer), room, lottery).status_code == 200  # its comment was still queued
    assert_error(join(customer_client(other), room, lottery), 409, "lottery_not_eligible")


def realtime_moderation(room):
    from livestream.services import live

    return live.Moderation.for_room(room)


def test_liked_rule(brand, room, make_customer, customer_client):
    lottery = open_lottery(brand, room, rule="liked")
    viewer = make_customer(brand)
    assert_error(join(customer_client(viewer), room, lottery), 409, "lottery_not_eligible")
    realtime.store().mark_liked(room.pk, viewer.pk)
    assert join(customer_client(viewer), room, lottery).status_code == 200


def test_subscribed_rule(brand, make_room, make_customer, customer_client):
    from livestream.services import rooms

    room = make_room(brand)
    fan, stranger = make_customer(brand), make_customer(brand)
    reminders.reminder_subscribe(brand=brand, room=room, customer=fan)
    room = rooms.room_start(brand=brand, room=room)
    lottery = open_lottery(brand, room, rule="subscribed")
    assert join(customer_client(fan), room, lottery).status_code == 200
    assert_error(join(customer_client(stranger), room, lottery), 409, "lottery_not_eligible")


def test_new_customers_rule(brand, room, make_customer, customer_client):
    lottery = open_lottery(brand, room, rule="new_customers")
    newcomer, regular = make_customer(brand), make_customer(brand, first_paid_at=timezone.now())
    assert join(customer_client(newcomer), room, lottery).status_code == 200
    assert_error(join(customer_client(regular), room, lottery), 409, "lottery_not_eligible")


def test_joining_is_rate_limited(brand, room, make_customer, customer_client):
    viewer = make_customer(brand)
    client = customer_client(viewer)
    lottery = open_lottery(brand, room, rule="liked")
    for _ in range(lotteries.JOINS_PER_MINUTE):
        assert_error(join(client, room, lottery), 409, "lottery_not_eligible")
    assert_error(join(client, room, lottery), 429, "lottery_rate_limited")


# --- states and input ---------------------------------------------------------------------------


def test_a_drawn_or_stopped_lottery_refuses_joins_draws_and_stops(brand, room, console, make_customer, customer_client):
    drawn, stopped = open_lottery(brand, room), open_lottery(brand, room)
    lotteries.lottery_draw(brand=brand, lottery=drawn)
    assert console.post(f"{CONSOLE}/{room.pk}/lotteries/{stopped.pk}/stop").json()["status"] == "stopped"
    viewer = make_customer(brand)
    watching(room, viewer)
    for lottery in (drawn, stopped):
        assert_error(join(customer_client(viewer), room, lottery), 409, "lottery_not_open")
        for action in ("draw", "stop"):
            assert_error(console.post(f"{CONSOLE}/{room.pk}/lotteries/{lottery.pk}/{action}"), 409, "lottery_not_open")
    assert_error(console.post(f"{CONSOLE}/{room.pk}/lotteries/{drawn.pk}/explode"), 404, "not_found")
    assert lotteries.lottery_proof(Lottery.unscoped.get(pk=stopped.pk))["seed"] is None


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"prize_kind": "coupon"}, "coupon_template_id"),
        ({"prize_name": ""}, "prize_name"),
        ({"rule": "keyword"}, "keyword"),
        ({"winner_count": 0}, "winner_count"),
        ({"draw_at": "2020-01-01T00:00:00Z"}, "draw_at"),
        ({"rule": "astrology"}, "rule"),
    ],
)
def test_bad_input_is_refused_and_nothing_written(console, room, payload, field):
    body = {"title": "Lucky", "prize_kind": "physical", "prize_name": "Tea", "winner_count": 1, **payload}
    error = assert_error(console.post(f"{CONSOLE}/{room.pk}/lotteries", body), 400, "invalid")
    assert field in error["fields"]
    assert not Lottery.unscoped.exists()


def test_a_lottery_opens_only_in_a_live_room(brand, make_room, console):
    room = make_room(brand)
    body = {"title": "Lucky", "prize_kind": "physical", "prize_name": "Tea", "winner_count": 1}
    assert_error(console.post(f"{CONSOLE}/{room.pk}/lotteries", body), 409, "room_not_live")


# --- prizes -------------------------------------------------------------------------------------


def test_coupon_prizes_are_issued_at_the_draw(brand, room, make_customer, customer_client):
    template = make_template(brand, per_customer_limit=1)
    lottery = open_lottery(brand, room, prize_kind="coupon", coupon_template_id=template.pk, winner_count=2)
    customers = [make_customer(brand) for _ in range(3)]
    for customer in customers:
        watching(room, customer)
        lotteries.lottery_join(brand=brand, lottery=lottery, customer=customer)
    lottery = lotteries.lottery_draw(brand=brand, lottery=lottery)
    winners = list(LotteryWinner.unscoped.filter(lottery=lottery))
    assert {w.status for w in winners} == {"issued"}
    assert sorted(Coupon.unscoped.filter(template=template).values_list("customer_id", flat=True)) == sorted(
        lottery.winner_ids
    )
    mine = customer_client(winners[0].customer).get(f"{MP}/{room.pk}/lotteries").json()[0]
    assert mine["joined"] and mine["my_prize"]["coupon_id"] == winners[0].coupon_id
    template.refresh_from_db()
    assert template.issued == 2


def test_a_physical_prize_takes_an_address_before_the_deadline_then_lapses(brand, room, make_customer, customer_client):
    lottery = open_lottery(brand, room, winner_count=2, address_hours=24)
    a, b, loser = make_customer(brand), make_customer(brand), make_customer(brand)
    for customer in (a, b):
        watching(room, customer)
        lotteries.lottery_join(brand=brand, lottery=lottery, customer=customer)
    lotteries.lottery_draw(brand=brand, lottery=lottery)
    address = {"recipient": "Lin", "phone": "13800000000", "address": "1 Nanjing Road, Shanghai"}
    url = f"{MP}/{room.pk}/lotteries/{lottery.pk}/address"
    response = customer_client(a).post(url, address)
    assert response.status_code == 200 and response.json()["status"] == "claimed"
    assert_error(customer_client(a).post(url, address), 409, "prize_already_claimed")
    assert_error(customer_client(loser).post(url, address), 404, "prize_not_found")
    assert_error(customer_client(b).post(url, {**address, "phone": ""}), 400, "invalid")

    assert lapse_unclaimed_prizes.delay().get() == 0
    later = timezone.now() + timedelta(hours=25)
    assert lotteries.lapse_unclaimed_prizes(now=later) == 1
    assert lotteries.lapse_unclaimed_prizes(now=later) == 0
    assert LotteryWinner.unscoped.get(customer=b).status == "lapsed"
    assert LotteryWinner.unscoped.get(customer=a).status == "claimed"
    assert_error(customer_client(b).post(url, address), 409, "prize_lapsed")


def test_the_task_draws_at_the_draw_time_once(brand, room, make_customer, events, django_capture_on_commit_callbacks):
    lottery = open_lottery(brand, room, draw_at=timezone.now() + timedelta(minutes=5))
    manual = open_lottery(brand, room)
    viewer = make_customer(brand)
    watching(room, viewer)
    lotteries.lottery_join(brand=brand, lottery=lottery, customer=viewer)
    assert draw_due_lotteries.delay().get() == 0
    Lottery.unscoped.filter(pk=lottery.pk).update(draw_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert draw_due_lotteries.delay().get() == 1
        assert draw_due_lotteries.delay().get() == 0
    assert Lottery.unscoped.get(pk=lottery.pk).winner_ids == [viewer.pk]
    assert Lottery.unscoped.get(pk=manual.pk).status == "open"
    assert len(of_type(events, "lottery.result")) == 1


# --- brands apart -------------------------------------------------------------------------------


def test_another_brands_room_and_lottery_are_not_found(
    brand, other_brand, room, rival_room, console, rival_console, make_customer, customer_client
):
    lottery = open_lottery(brand, room)
    rival_lottery = open_lottery(other_brand, rival_room)
    rival = customer_client(make_customer(other_brand))
    for path in ("join", "proof", "address"):
        method = rival.get if path == "proof" else rival.post
        assert method(f"{MP}/{room.pk}/lotteries/{lottery.pk}/{path}").status_code == 404
        # its own room with the other brand's lottery id is no better
        assert method(f"{MP}/{rival_room.pk}/lotteries/{lottery.pk}/{path}").status_code == 404
    assert rival.get(f"{MP}/{room.pk}/lotteries").status_code == 404
    for url in (
        f"{CONSOLE}/{room.pk}/lotteries",
        f"{CONSOLE}/{room.pk}/lotteries/{lottery.pk}",
        f"{CONSOLE}/{rival_room.pk}/lotteries/{lottery.pk}",
    ):
        assert rival_console.get(url).status_code == 404
    for action in ("draw", "stop"):
        assert rival_console.post(f"{CONSOLE}/{room.pk}/lotteries/{lottery.pk}/{action}").status_code == 404
        assert rival_console.post(f"{CONSOLE}/{rival_room.pk}/lotteries/{lottery.pk}/{action}").status_code == 404
    body = {"title": "x", "prize_kind": "physical", "prize_name": "x", "winner_count": 1}
    assert rival_console.post(f"{CONSOLE}/{room.pk}/lotteries", body).status_code == 404
    assert Lottery.unscoped.get(pk=lottery.pk).status == "open"
    assert [row["id"] for row in rival_console.get(f"{CONSOLE}/{rival_room.pk}/lotteries").json()] == [rival_lottery.pk]


def test_a_coupon_prize_of_another_brand_is_refused(brand, other_brand, room, console):
    template = make_template(other_brand)
    body = {"title": "x", "prize_kind": "coupon", "coupon_template_id": template.pk, "winner_count": 1}
    error = assert_error(console.post(f"{CONSOLE}/{room.pk}/lotteries", body), 400, "invalid")
    assert "coupon_template_id" in error["fields"]


def test_events_go_to_the_lotterys_own_room_only(brand, room, rival_room, events, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        lottery = open_lottery(brand, room)
        lotteries.lottery_draw(brand=brand, lottery=lottery)
    assert {room_id for room_id, _ in events} == {room.pk}


@pytest.fixture
def admin(brand, make_staff):
    client = DjangoClient()
    client.force_login(make_staff(brand, Membership.Role.OPERATOR))
    return client


def test_the_admin_lists_draws_and_stops_only_the_brands_lotteries(admin, brand, other_brand, room, rival_room):
    mine, stopping, theirs = open_lottery(brand, room), open_lottery(brand, room), open_lottery(other_brand, rival_room)
    response = admin.get("/admin/livestream/lottery/")
    assert {obj.pk for obj in response.context["cl"].result_list} == {mine.pk, stopping.pk}
    assert admin.get(f"/admin/livestream/lottery/{theirs.pk}/change/").status_code == 302
    admin.post("/admin/livestream/lottery/", {"action": "draw", "_selected_action": [mine.pk, theirs.pk]})
    admin.post("/admin/livestream/lottery/", {"action": "stop", "_selected_action": [stopping.pk]})
    statuses = dict(Lottery.unscoped.values_list("pk", "status"))
    assert statuses == {mine.pk: "drawn", stopping.pk: "stopped", theirs.pk: "open"}


def test_the_viewers_list_runs_the_same_queries_whatever_its_length(brand, room, make_customer, customer_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    viewer = make_customer(brand, nickname="Mei")
    client = customer_client(viewer)
    watching(room, viewer)

    def drawn_lottery():
        lottery = open_lottery(brand, room, winner_count=1)
        lotteries.lottery_join(brand=brand, lottery=lottery, customer=viewer)
        lotteries.lottery_draw(brand=brand, lottery=lottery)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"{MP}/{room.pk}/lotteries").status_code == 200
        return len(captured)

    drawn_lottery()
    one = queries()
    for _ in range(3):
        drawn_lottery()
    assert queries() == one
    listed = client.get(f"{MP}/{room.pk}/lotteries").json()
    assert len(listed) == 4 and all(row["winners"][0]["nickname"] == "Mei" for row in listed)


def test_the_admin_opens_a_lottery_through_the_service_and_refuses_bad_input(
    admin, brand, room, rival_room, events, django_capture_on_commit_callbacks
):
    assert admin.get("/admin/livestream/lottery/add/").status_code == 200
    form = {
        "room": room.pk,
        "title": "Admin draw",
        "prize_kind": "physical",
        "prize_name": "",
        "winner_count": 1,
        "rule": "present",
        "address_hours": 48,
        "winners-TOTAL_FORMS": 0,
        "winners-INITIAL_FORMS": 0,
    }
    refused = admin.post("/admin/livestream/lottery/add/", form)
    assert refused.status_code == 200 and "prize_name" in refused.context["adminform"].form.errors
    other_room = admin.post("/admin/livestream/lottery/add/", {**form, "prize_name": "Tea", "room": rival_room.pk})
    assert other_room.status_code == 200 and "room" in other_room.context["adminform"].form.errors
    assert not Lottery.unscoped.exists()
    with django_capture_on_commit_callbacks(execute=True):
        created = admin.post("/admin/livestream/lottery/add/", {**form, "prize_name": "Tea"})
    assert created.status_code == 302, created.content[:500]
    lottery = Lottery.unscoped.get()
    assert (lottery.brand_id, lottery.room_id, lottery.address_hours) == (brand.pk, room.pk, 48)
    assert lottery.commitment == lotteries.commitment_of(lottery.seed)
    assert [data["id"] for _, data in of_type(events, "lottery.open")] == [lottery.pk]
