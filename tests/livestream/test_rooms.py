"""Live rooms on the console: scheduling rules, the lifecycle, the live-room limit, push URL,
replay, room.status events, the platform's ban, and cross-brand isolation of every console
endpoint of livestream/urls.py."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conftest import assert_error
from guides.models import Store
from livestream.models import CoStream, LiveRoom, RoomProduct
from livestream.services import festivals, rooms
from livestream.urls import console_urls
from tenants.errors import InvalidInput
from tenants.models import Brand, Membership
from tests.livestream.conftest import iso, of_type, reload, schedule, snapshot

pytestmark = pytest.mark.django_db

ROOMS = "/api/v1/console/rooms"


def room_body(start_in=timedelta(hours=1), duration=timedelta(hours=2), **fields):
    start, end = schedule(start_in, duration)
    return {
        "title": "Spring launch",
        "anchor_name": "Anchor Lin",
        "scheduled_start": iso(start),
        "scheduled_end": iso(end),
        **fields,
    }


def set_status(room, status):
    LiveRoom.unscoped.filter(pk=room.pk).update(status=status)


# --- creating and validating -------------------------------------------------------------------


def test_operator_creates_a_scheduled_room(console, brand):
    response = console.post(ROOMS, room_body(title="春季新品发布会", kind="phone", comments_enabled=False))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "scheduled" and body["title"] == "春季新品发布会" and body["kind"] == "phone"
    assert body["comments_enabled"] is False and body["started_at"] is None and body["pushed_product_id"] is None
    assert body["costream_code"]
    room = LiveRoom.unscoped.get(pk=body["id"])
    assert room.brand_id == brand.pk


def test_staff_of_a_store_cannot_create_rooms(brand, make_staff, staff_client):
    guide = staff_client(make_staff(brand, Membership.Role.GUIDE), brand)
    assert_error(guide.post(ROOMS, room_body()), 403, "role_not_allowed")
    assert not LiveRoom.unscoped.exists()


@pytest.mark.parametrize(
    "title, ok",
    [
        ("春季新", True),  # 3 Chinese characters: the minimum
        ("春季", False),  # 2
        ("春" * 17, True),  # the maximum
        ("春" * 18, False),
        ("abcdef", True),  # 6 Latin letters count as 3 Chinese characters
        ("abcde", False),
        ("a" * 34, True),
        ("新品a", False),  # 2 + 2 + 1 = 5
        ("新品ab", True),
        ("   ab   ", False),  # surrounding spaces do not count
    ],
)
def test_title_length_counts_two_latin_letters_as_one_chinese_character(console, title, ok):
    response = console.post(ROOMS, room_body(title=title))
    if ok:
        assert response.status_code == 201, response.content
    else:
        error = assert_error(response, 400, "invalid")
        assert "title" in error["fields"]
        assert not LiveRoom.unscoped.exists()


@pytest.mark.parametrize(
    "anchor_name, ok", [("林", False), ("林林", True), ("Lin", False), ("Lina", True), ("林" * 16, False)]
)
def test_anchor_name_is_2_to_15_chinese_characters(console, anchor_name, ok):
    response = console.post(ROOMS, room_body(anchor_name=anchor_name))
    if ok:
        assert response.status_code == 201, response.content
    else:
        assert "anchor_name" in assert_error(response, 400, "invalid")["fields"]


@pytest.mark.parametrize(
    "start_in, ok",
    [
        (timedelta(minutes=9), False),
        (timedelta(minutes=-30), False),
        (timedelta(minutes=11), True),
        (timedelta(days=180), True),
        (timedelta(days=200), False),
    ],
)
def test_a_room_is_scheduled_10_minutes_to_6_months_ahead(console, start_in, ok):
    response = console.post(ROOMS, room_body(start_in=start_in))
    if ok:
        assert response.status_code == 201, response.content
    else:
        assert "scheduled_start" in assert_error(response, 400, "invalid")["fields"]
        assert not LiveRoom.unscoped.exists()


@pytest.mark.parametrize(
    "duration, ok",
    [
        (timedelta(minutes=29), False),
        (timedelta(minutes=30), True),
        (timedelta(hours=24), True),
        (timedelta(hours=24, minutes=1), False),
        (timedelta(hours=-1), False),  # ends before it starts
    ],
)
def test_a_show_lasts_30_minutes_to_24_hours(console, duration, ok):
    response = console.post(ROOMS, room_body(duration=duration))
    if ok:
        assert response.status_code == 201, response.content
    else:
        assert "scheduled_end" in assert_error(response, 400, "invalid")["fields"]
        assert not LiveRoom.unscoped.exists()


@pytest.mark.parametrize(
    "change",
    [
        {"title": None},
        {"scheduled_start": "tomorrow"},
        {"kind": "hologram"},
        {"cover_image_url": "not a url"},
        {"title": "x" * 35},
        {"host_store_id": "shop"},
    ],
)
def test_malformed_room_input_is_400_and_writes_nothing(console, change):
    body = {key: value for key, value in {**room_body(), **change}.items() if value is not None}
    assert_error(console.post(ROOMS, body), 400, "invalid")
    assert not LiveRoom.unscoped.exists()


def test_a_room_hosted_by_a_store_takes_only_the_brands_own_store(console, brand, other_brand):
    mine = Store.objects.create(brand=brand, code="S1", name="Acme Shanghai")
    theirs = Store.objects.create(brand=other_brand, code="S1", name="Rival Shanghai")
    response = console.post(ROOMS, room_body(host_store_id=mine.pk))
    assert response.status_code == 201 and response.json()["host_store_id"] == mine.pk
    assert_error(console.post(ROOMS, room_body(host_store_id=theirs.pk)), 404, "store_not_found")
    assert LiveRoom.unscoped.count() == 1


# --- lifecycle -----------------------------------------------------------------------------------


def action(client, room, name, **body):
    return client.post(f"{ROOMS}/{room.pk}/{name}", body)


def test_full_lifecycle_start_pause_resume_end(console, brand, make_room, events, django_capture_on_commit_callbacks):
    room = make_room(brand)
    with django_capture_on_commit_callbacks(execute=True):
        started = action(console, room, "start")
        assert started.status_code == 200, started.content
        assert started.json()["status"] == "live" and started.json()["started_at"]
        assert action(console, room, "pause").json()["status"] == "paused"
        assert action(console, room, "resume").json()["status"] == "live"
        ended = action(console, room, "end").json()
    assert ended["status"] == "ended" and ended["ended_at"] and ended["ended_at"] >= ended["started_at"]
    statuses = [(room_id, data["status"]) for room_id, data in of_type(events, "room.status")]
    assert statuses == [(room.pk, "live"), (room.pk, "paused"), (room.pk, "live"), (room.pk, "ended")]


def test_a_paused_room_can_end_directly(console, brand, make_room):
    room = make_room(brand, status="paused")
    assert action(console, room, "end").json()["status"] == "ended"
    assert reload(room).ended_at is not None


def test_cancel_before_the_start_keeps_the_reason(
    console, brand, make_room, events, django_capture_on_commit_callbacks
):
    room = make_room(brand)
    with django_capture_on_commit_callbacks(execute=True):
        response = action(console, room, "cancel", reason="Anchor is ill")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled" and response.json()["status_reason"] == "Anchor is ill"
    assert of_type(events, "room.status") == [
        (
            room.pk,
            {
                "room_id": room.pk,
                "status": "cancelled",
                "started_at": None,
                "ended_at": None,
                "selling": {
                    "products": False,
                    "products_refusal": "room_not_selling",
                    "live_offers": False,
                    "live_offers_refusal": "room_not_selling",
                },
            },
        )  # fmt: skip
    ]


ALLOWED = {
    "start": {"scheduled"},
    "pause": {"live"},
    "resume": {"paused"},
    "end": {"live", "paused"},
    "cancel": {"scheduled"},
}
INVALID = [
    (status, name) for name, sources in ALLOWED.items() for status in LiveRoom.Status.values if status not in sources
]


@pytest.mark.parametrize("status, name", INVALID)
def test_invalid_transition_is_409_with_the_current_status(
    console, brand, make_room, status, name, events, django_capture_on_commit_callbacks
):
    room = make_room(brand)
    set_status(room, status)
    before = snapshot()
    with django_capture_on_commit_callbacks(execute=True):
        error = assert_error(action(console, room, name), 409, "invalid_transition")
    assert error["fields"] == {"status": status}
    assert snapshot() == before
    assert events == []


def test_unknown_action_is_404(console, brand, make_room):
    room = make_room(brand)
    assert_error(action(console, room, "explode"), 404, "not_found")
    assert reload(room).status == "scheduled"


def test_a_rolled_back_transition_publishes_nothing(brand, make_room, events, django_capture_on_commit_callbacks):
    room = make_room(brand, status="live")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        rooms.room_pause(brand=brand, room=room)
        raise RuntimeError("a later step of the same transaction fails")
    assert events == []
    assert reload(room).status == "live"


def test_a_failure_inside_end_rolls_the_room_back_and_publishes_nothing(
    console, brand, make_room, monkeypatch, events, django_capture_on_commit_callbacks
):
    room = make_room(brand, status="live")

    def broken(**kwargs):
        raise RuntimeError("co-stream bookkeeping failed")

    monkeypatch.setattr(rooms, "costreams_end_for_room", broken)
    with django_capture_on_commit_callbacks(execute=True):
        assert_error(action(console, room, "end"), 500, "server_error")
    assert events == []
    assert reload(room).status == "live" and reload(room).ended_at is None


def test_events_are_published_only_after_commit(brand, make_room, events, django_capture_on_commit_callbacks):
    room = make_room(brand)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        rooms.room_start(brand=brand, room=room)
        assert events == []  # queued, not sent, while the transaction is open
    assert len(callbacks) == 2 and events == []  # the room's version bump (room_state), then its event
    for callback in callbacks:
        callback()
    assert of_type(events, "room.status") == [(room.pk, rooms.room_status_data(reload(room)))]


# --- live-room limit -------------------------------------------------------------------------------


def test_a_brand_runs_at_most_max_live_rooms_at_once(console, brand, other_brand, make_room):
    Brand.objects.filter(pk=brand.pk).update(max_live_rooms=2)
    Brand.objects.filter(pk=other_brand.pk).update(max_live_rooms=1)
    make_room(other_brand, status="live")  # another brand's live room does not count
    first = make_room(brand, status="live")
    make_room(brand, status="paused")  # a paused room still holds its slot
    waiting = make_room(brand)
    error = assert_error(action(console, waiting, "start"), 409, "too_many_live_rooms")
    assert error["fields"] == {"max_live_rooms": 2}
    assert reload(waiting).status == "scheduled" and reload(waiting).started_at is None

    assert action(console, first, "end").status_code == 200  # ending a show frees its slot
    assert action(console, waiting, "start").json()["status"] == "live"


# --- editing and rescheduling ---------------------------------------------------------------------


def test_a_scheduled_room_can_be_rescheduled(console, brand, make_room):
    room = make_room(brand)
    start, end = schedule(timedelta(days=2), timedelta(hours=3))
    response = console.patch(f"{ROOMS}/{room.pk}", {"scheduled_start": iso(start), "scheduled_end": iso(end)})
    assert response.status_code == 200, response.content
    assert (reload(room).scheduled_start, reload(room).scheduled_end) == (start, end)


def test_rescheduling_keeps_the_10_minute_lead(console, brand, make_room):
    room = make_room(brand)
    start, end = schedule(timedelta(minutes=5))
    error = assert_error(
        console.patch(f"{ROOMS}/{room.pk}", {"scheduled_start": iso(start), "scheduled_end": iso(end)}), 400, "invalid"
    )
    assert "scheduled_start" in error["fields"]
    assert reload(room).scheduled_start == room.scheduled_start


@pytest.mark.parametrize("status", ["live", "paused"])
def test_a_started_room_cannot_be_rescheduled_but_can_be_retitled(console, brand, make_room, status):
    room = make_room(brand, status=status)
    start, end = schedule(timedelta(days=1))
    error = assert_error(
        console.patch(f"{ROOMS}/{room.pk}", {"scheduled_start": iso(start), "scheduled_end": iso(end)}),
        409,
        "room_already_started",
    )
    assert error["fields"] == {"status": status}
    assert reload(room).scheduled_start == room.scheduled_start

    response = console.patch(f"{ROOMS}/{room.pk}", {"title": "Autumn launch", "comments_enabled": False})
    assert response.status_code == 200, response.content
    assert reload(room).title == "Autumn launch" and reload(room).comments_enabled is False


@pytest.mark.parametrize("status", ["ended", "cancelled", "banned"])
def test_a_closed_room_cannot_be_edited(console, brand, make_room, status):
    room = make_room(brand, status="ended" if status == "ended" else "scheduled")
    set_status(room, status)
    error = assert_error(console.patch(f"{ROOMS}/{room.pk}", {"title": "Autumn launch"}), 409, "room_closed")
    assert error["fields"] == {"status": status}
    assert reload(room).title == "Spring launch"


def test_an_edit_is_validated_like_a_creation(console, brand, make_room):
    room = make_room(brand)
    assert "title" in assert_error(console.patch(f"{ROOMS}/{room.pk}", {"title": "ab"}), 400, "invalid")["fields"]
    end = room.scheduled_start + timedelta(minutes=10)
    assert (
        "scheduled_end"
        in assert_error(console.patch(f"{ROOMS}/{room.pk}", {"scheduled_end": iso(end)}), 400, "invalid")["fields"]
    )
    assert reload(room).title == "Spring launch" and reload(room).scheduled_end == room.scheduled_end


# --- push URL and replay ---------------------------------------------------------------------------


def test_push_url_comes_from_the_template(console, brand, make_room, settings):
    settings.LIVE_PUSH_URL_TEMPLATE = "rtmp://push.example.com/{brand}/{room}?k={key}"
    room = make_room(brand)
    other = make_room(brand)
    body = console.get(f"{ROOMS}/{room.pk}").json()
    assert body["push_url"] == f"rtmp://push.example.com/acme/{room.pk}?k={room.stream_key}"
    assert room.stream_key and room.stream_key != other.stream_key
    listed = {r["id"]: r["push_url"] for r in console.get(ROOMS).json()["results"]}
    assert listed[other.pk] == f"rtmp://push.example.com/acme/{other.pk}?k={other.stream_key}"


@pytest.mark.parametrize("status", ["scheduled", "live", "paused", "cancelled"])
def test_a_replay_is_set_only_after_the_show(console, brand, make_room, status):
    room = make_room(brand, status=status)
    error = assert_error(
        console.post(f"{ROOMS}/{room.pk}/replay", {"replay_url": "https://v.example.com/r.mp4"}), 409, "room_not_ended"
    )
    assert error["fields"] == {"status": status}
    assert reload(room).replay_url == ""


def test_an_ended_room_takes_a_replay_url(console, brand, make_room):
    room = make_room(brand, status="ended")
    assert_error(console.post(f"{ROOMS}/{room.pk}/replay", {"replay_url": "not a url"}), 400, "invalid")
    response = console.post(f"{ROOMS}/{room.pk}/replay", {"replay_url": "https://v.example.com/r.mp4"})
    assert response.status_code == 200, response.content
    assert response.json()["replay_url"] == "https://v.example.com/r.mp4"
    assert reload(room).replay_url == "https://v.example.com/r.mp4"


# --- listing -----------------------------------------------------------------------------------------


def test_room_list_filters_by_status(console, brand, make_room):
    scheduled = make_room(brand)
    live = make_room(brand, status="live")
    assert [r["id"] for r in console.get(f"{ROOMS}?status=live").json()["results"]] == [live.pk]
    assert {r["id"] for r in console.get(ROOMS).json()["results"]} == {scheduled.pk, live.pk}


def queries_for(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(queries), len(response.json()["results"])


def test_room_list_runs_a_constant_number_of_queries(console, brand, make_room, make_product):
    def add_room():
        room = make_room(brand, status="live")
        listing = RoomProduct.objects.create(brand=brand, room=room, product=make_product(brand), position=1)
        LiveRoom.unscoped.filter(pk=room.pk).update(pushed_product=listing)

    Brand.objects.filter(pk=brand.pk).update(max_live_rooms=20)
    add_room()
    few = queries_for(console, ROOMS)
    for _ in range(6):
        add_room()
    many = queries_for(console, ROOMS)
    assert (few[1], many[1]) == (1, 7)
    assert many[0] == few[0]


def test_room_detail_counts_reminders_by_status(console, brand, make_room):
    room = make_room(brand)
    body = console.get(f"{ROOMS}/{room.pk}").json()
    assert body["reminders"]["pending"] == 0 and body["id"] == room.pk


# --- the platform's ban -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["scheduled", "live", "paused", "ended", "cancelled"])
def test_platform_bans_a_room_from_any_state(
    platform, other_brand, make_room, status, events, django_capture_on_commit_callbacks
):
    room = make_room(other_brand, status=status)
    with django_capture_on_commit_callbacks(execute=True):
        response = platform.post(f"/api/v1/platform/rooms/{room.pk}/ban", {"reason": "违规内容"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "banned" and response.json()["status_reason"] == "违规内容"
    banned = reload(room)
    assert banned.status == "banned"
    if status in ("live", "paused"):
        assert banned.ended_at is not None
    assert [data["status"] for _, data in of_type(events, "room.status")] == ["banned"]


def test_a_banned_room_cannot_be_banned_again_or_restarted(platform, console, brand, make_room):
    room = make_room(brand, status="live")
    assert platform.post(f"/api/v1/platform/rooms/{room.pk}/ban", {"reason": "spam"}).status_code == 200
    error = assert_error(
        platform.post(f"/api/v1/platform/rooms/{room.pk}/ban", {"reason": "spam"}), 409, "invalid_transition"
    )
    assert error["fields"] == {"status": "banned"}
    assert_error(action(console, room, "resume"), 409, "invalid_transition")


def test_a_ban_needs_a_reason_and_an_existing_room(platform, brand, make_room):
    room = make_room(brand)
    assert_error(platform.post(f"/api/v1/platform/rooms/{room.pk}/ban", {"reason": "  "}), 400, "invalid")
    assert_error(platform.post(f"/api/v1/platform/rooms/{room.pk}/ban", {}), 400, "invalid")
    assert_error(platform.post("/api/v1/platform/rooms/999999/ban", {"reason": "spam"}), 404, "room_not_found")
    assert reload(room).status == "scheduled"
    with pytest.raises(InvalidInput) as raised:
        rooms.room_ban(room=room, reason="   ")
    assert raised.value.code == "reason_required"


def test_brand_staff_cannot_ban_rooms(console, brand, make_staff, staff_client, make_room):
    room = make_room(brand, status="live")
    owner = staff_client(make_staff(brand, Membership.Role.OWNER), brand)
    for client in (console, owner):
        assert_error(client.post(f"/api/v1/platform/rooms/{room.pk}/ban", {"reason": "x"}), 403, "platform_only")
    assert reload(room).status == "live"


# --- cross-brand isolation: every console endpoint ---------------------------------------------


@pytest.fixture
def world(brand, other_brand, make_room, make_product, platform):
    """Acme's own rooms and product, and a rival brand with a room in every state, a listed
    product, a co-stream invitation between two of its rooms, and a festival it alone joined."""
    Brand.objects.filter(pk=other_brand.pk).update(max_live_rooms=10)
    other_brand.refresh_from_db()
    w = {
        "room": make_room(brand),
        "live_room": make_room(brand, status="live"),
        "product": make_product(brand),
        "rival_scheduled": make_room(other_brand),
        "rival_live": make_room(other_brand, status="live"),
        "rival_paused": make_room(other_brand, status="paused"),
        "rival_ended": make_room(other_brand, status="ended"),
        "rival_partner": make_room(other_brand, status="live"),
        "rival_solo": make_room(other_brand, status="live"),
        "rival_product": make_product(other_brand),
        "rival_product_2": make_product(other_brand),
    }
    from livestream.services import room_products

    room_products.room_products_add(
        brand=other_brand, room=w["rival_live"], product_ids=[w["rival_product"].pk, w["rival_product_2"].pk]
    )
    # Made directly: an invitation between two live rival rooms, exactly as costream_invite leaves it.
    w["rival_costream"] = CoStream.unscoped.create(
        brand=other_brand, inviter_room=w["rival_live"], invitee_brand=other_brand, invitee_room=w["rival_partner"]
    )
    festival = festivals.festival_create(
        name="618", starts_at=timezone.now() + timedelta(days=1), ends_at=timezone.now() + timedelta(days=2)
    )
    venue = festivals.festival_invite(festival=festival, brand=other_brand)
    festivals.venue_join(brand=other_brand, venue=venue, room=w["rival_scheduled"])
    w["rival_festival"] = festival
    return w


# url name → (method, path(w), body(w), status, code)
ISOLATION = [
    ("console-room", "get", lambda w: f"{ROOMS}/{w['rival_scheduled'].pk}", None, "room_not_found"),
    (
        "console-room",
        "patch",
        lambda w: f"{ROOMS}/{w['rival_scheduled'].pk}",
        {"title": "Hijacked room"},
        "room_not_found",
    ),
    (
        "console-room-replay",
        "post",
        lambda w: f"{ROOMS}/{w['rival_ended'].pk}/replay",
        {"replay_url": "https://evil.example.com/r.mp4"},
        "room_not_found",
    ),
    ("console-room-products", "get", lambda w: f"{ROOMS}/{w['rival_live'].pk}/products", None, "room_not_found"),
    ("console-room-stats", "get", lambda w: f"{ROOMS}/{w['rival_live'].pk}/stats", None, "room_not_found"),
    ("console-room-stream-key", "post", lambda w: f"{ROOMS}/{w['rival_live'].pk}/stream-key", None, "room_not_found"),
    (
        "console-room-products",
        "post",
        lambda w: f"{ROOMS}/{w['rival_live'].pk}/products",
        lambda w: {"product_ids": [w["rival_product"].pk]},
        "room_not_found",
    ),
    (
        "console-room-products",
        "post",
        lambda w: f"{ROOMS}/{w['room'].pk}/products",
        lambda w: {"product_ids": [w["rival_product"].pk]},
        "product_not_found",
    ),
    (
        "console-room-order",
        "post",
        lambda w: f"{ROOMS}/{w['rival_live'].pk}/products/order",
        lambda w: {"product_ids": [w["rival_product_2"].pk, w["rival_product"].pk]},
        "room_not_found",
    ),
    (
        "console-room-product",
        "delete",
        lambda w: f"{ROOMS}/{w['rival_live'].pk}/products/{w['rival_product'].pk}",
        None,
        "room_not_found",
    ),
    (
        "console-room-product",
        "delete",
        lambda w: f"{ROOMS}/{w['room'].pk}/products/{w['rival_product'].pk}",
        None,
        "product_not_in_room",
    ),
    (
        "console-room-product-sale",
        "post",
        lambda w: f"{ROOMS}/{w['rival_live'].pk}/products/{w['rival_product'].pk}/sale",
        {"on_sale": False},
        "room_not_found",
    ),
    (
        "console-room-product-sale",
        "post",
        lambda w: f"{ROOMS}/{w['room'].pk}/products/{w['rival_product'].pk}/sale",
        {"on_sale": False},
        "product_not_in_room",
    ),
    (
        "console-room-push",
        "post",
        lambda w: f"{ROOMS}/{w['rival_live'].pk}/push",
        lambda w: {"product_id": w["rival_product"].pk},
        "room_not_found",
    ),
    (
        "console-room-push",
        "post",
        lambda w: f"{ROOMS}/{w['live_room'].pk}/push",
        lambda w: {"product_id": w["rival_product"].pk},
        "product_not_in_room",
    ),
    (
        "console-room-costream",
        "post",
        lambda w: f"{ROOMS}/{w['rival_solo'].pk}/costreams",
        lambda w: {"room_code": w["live_room"].costream_code},
        "room_not_found",
    ),
    ("console-room-action", "post", lambda w: f"{ROOMS}/{w['rival_scheduled'].pk}/start", None, "room_not_found"),
    ("console-room-action", "post", lambda w: f"{ROOMS}/{w['rival_live'].pk}/pause", None, "room_not_found"),
    ("console-room-action", "post", lambda w: f"{ROOMS}/{w['rival_paused'].pk}/resume", None, "room_not_found"),
    ("console-room-action", "post", lambda w: f"{ROOMS}/{w['rival_live'].pk}/end", None, "room_not_found"),
    (
        "console-room-action",
        "post",
        lambda w: f"{ROOMS}/{w['rival_scheduled'].pk}/cancel",
        {"reason": "x"},
        "room_not_found",
    ),
    (
        "console-costream",
        "post",
        lambda w: f"/api/v1/console/costreams/{w['rival_costream'].pk}/accept",
        None,
        "costream_not_found",
    ),
    (
        "console-costream",
        "post",
        lambda w: f"/api/v1/console/costreams/{w['rival_costream'].pk}/decline",
        None,
        "costream_not_found",
    ),
    (
        "console-costream",
        "post",
        lambda w: f"/api/v1/console/costreams/{w['rival_costream'].pk}/end",
        None,
        "costream_not_found",
    ),
    (
        "console-festival-join",
        "post",
        lambda w: f"/api/v1/console/festivals/{w['rival_festival'].pk}/join",
        lambda w: {"room_id": w["rival_scheduled"].pk},
        "festival_not_found",
    ),
    (
        "console-festival-leave",
        "post",
        lambda w: f"/api/v1/console/festivals/{w['rival_festival'].pk}/leave",
        None,
        "festival_not_found",
    ),
]

# List endpoints answer only the brand's own rows; tested below by name.
LISTS = {"console-rooms", "console-costreams", "console-festivals"}


# Comments and mutes have their own isolation tests (tests/livestream/test_live_api.py).
LIVE = {"console-room-comments", "console-comment", "console-mutes", "console-mute"}
# Lotteries and gift boxes too (tests/livestream/test_lotteries.py, test_gift_boxes.py).
INTERACTIVE = {"console-lotteries", "console-lottery", "console-lottery-action", "console-gift-boxes"}
INTERACTIVE |= {"console-gift-box-stop"}


# Reports, segments and follow-ups have theirs in tests/livestream/test_report.py and test_follow_ups.py.
REPORTS = {
    "console-room-report",
    "console-room-report-export",
    "console-reports",
    "console-reports-export",
    "console-room-segments",
    "console-room-follow-ups",
    "console-follow-up",
}


def test_the_isolation_table_covers_every_console_endpoint():
    assert {name for name, *_ in ISOLATION} | LISTS | LIVE | REPORTS | INTERACTIVE == {url.name for url in console_urls}


def params(rows):
    return [pytest.param(*row, id=f"{row[0]}-{row[1]}-{row[4]}") for row in rows]


@pytest.mark.parametrize("name, method, path, body, code", params(ISOLATION))
def test_another_brands_object_is_404_and_nothing_changes(
    console, world, name, method, path, body, code, events, django_capture_on_commit_callbacks
):
    before = snapshot()
    data = body(world) if callable(body) else body
    with django_capture_on_commit_callbacks(execute=True):
        response = getattr(console, method)(path(world), data)
    assert_error(response, 404, code)
    assert snapshot() == before
    assert events == []


OWNED_BY_RIVAL = [row for row in ISOLATION if row[4] in ("room_not_found", "costream_not_found", "festival_not_found")]


@pytest.mark.parametrize("name, method, path, body, code", params(OWNED_BY_RIVAL))
def test_the_owner_brand_can_make_the_same_request(rival_console, world, name, method, path, body, code):
    """The control for the table above: the 404 comes from the brand, not from the object's state."""
    data = body(world) if callable(body) else body
    response = getattr(rival_console, method)(path(world), data)
    assert response.status_code < 300, (name, response.content[:300])


def test_room_list_shows_only_the_brands_rooms(console, rival_console, world):
    mine = {r["id"] for r in console.get(ROOMS + "?page_size=100").json()["results"]}
    assert mine == {world["room"].pk, world["live_room"].pk}
    theirs = {r["id"] for r in rival_console.get(ROOMS + "?page_size=100").json()["results"]}
    assert world["rival_live"].pk in theirs and not theirs & mine


def test_room_creation_refuses_another_brands_store(console, other_brand):
    store = Store.objects.create(brand=other_brand, code="S9", name="Rival store")
    assert_error(console.post(ROOMS, room_body(host_store_id=store.pk)), 404, "store_not_found")
    assert not LiveRoom.unscoped.filter(host_store=store).exists()


def test_costream_list_shows_only_the_brands_costreams(console, rival_console, world):
    assert console.get("/api/v1/console/costreams").json()["results"] == []
    assert [c["id"] for c in rival_console.get("/api/v1/console/costreams").json()["results"]] == [
        world["rival_costream"].pk
    ]
    assert CoStream.unscoped.count() == 1


def test_festival_list_shows_only_festivals_the_brand_was_invited_to(console, rival_console, world):
    assert console.get("/api/v1/console/festivals").json()["results"] == []
    listed = rival_console.get("/api/v1/console/festivals").json()["results"]
    assert [v["festival_id"] for v in listed] == [world["rival_festival"].pk]


@pytest.mark.parametrize("path", ["report.pdf", "report.", "explode"])
def test_a_get_of_an_unknown_path_under_a_room_is_404_not_405(console, brand, make_room, path):
    room = make_room(brand)
    assert_error(console.get(f"/api/v1/console/rooms/{room.pk}/{path}"), 404, "not_found")
    assert_error(console.get("/api/v1/console/reports.pdf"), 404, "not_found")
