"""What the live console reads about a room beyond its state: the push settings for the streaming
software, and who is muted there. Another brand reads none of it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import assert_error
from livestream.services import live
from tenants.scoping import brand_scope

pytestmark = pytest.mark.django_db

CONSOLE = "/api/v1/console"


def test_the_push_url_comes_split_for_the_streaming_software(console, rival_console, brand, make_room, settings):
    room = make_room(brand)
    body = console.get(f"{CONSOLE}/rooms/{room.pk}").json()
    assert body["push_server"] == "rtmp://push.siyu.local/live/"
    assert body["stream_key"] == f"acme-{room.pk}?key={room.stream_key}"
    assert body["push_server"] + body["stream_key"] == body["push_url"]
    listed = next(r for r in console.get(f"{CONSOLE}/rooms").json()["results"] if r["id"] == room.pk)
    assert listed["stream_key"] == body["stream_key"]
    assert_error(rival_console.get(f"{CONSOLE}/rooms/{room.pk}"), 404, "room_not_found")
    assert all(r["id"] != room.pk for r in rival_console.get(f"{CONSOLE}/rooms").json()["results"])


@pytest.mark.parametrize(
    ("template", "server", "key"),
    [
        ("rtmp://push.example.cn/app/{brand}_{room}?txSecret={key}", "rtmp://push.example.cn/app/", None),
        ("srt://ingest.example.cn:9000?streamid={key}", "srt://ingest.example.cn:9000?streamid=", None),
    ],
)
def test_any_push_url_template_splits_into_server_and_key(console, brand, make_room, settings, template, server, key):
    settings.LIVE_PUSH_URL_TEMPLATE = template
    room = make_room(brand)
    body = console.get(f"{CONSOLE}/rooms/{room.pk}").json()
    assert body["push_server"] + body["stream_key"] == body["push_url"]
    if "/app/" in template:
        assert (body["push_server"], body["stream_key"]) == (server, f"acme_{room.pk}?txSecret={room.stream_key}")
    else:  # no path: the whole URL is the server, the key part empty
        assert body["push_url"].startswith(server) and body["stream_key"] == ""


@pytest.fixture
def mutes(brand, other_brand, make_room, make_customer):
    room, other_room = make_room(brand), make_room(brand, title="Other show")
    rival_room = make_room(other_brand)
    people = {name: make_customer(brand, nickname=name) for name in ("Here", "Everywhere", "Elsewhere", "Past")}
    rival = make_customer(other_brand, nickname="Rival")
    with brand_scope(brand):
        made = {
            "here": live.mute_create(brand=brand, customer=people["Here"], room=room),
            "everywhere": live.mute_create(brand=brand, customer=people["Everywhere"], room=None),
            "elsewhere": live.mute_create(brand=brand, customer=people["Elsewhere"], room=other_room),
            "past": live.mute_create(
                brand=brand, customer=people["Past"], room=room, until=timezone.now() + timedelta(seconds=1)
            ),
        }
    from livestream.models import Mute

    Mute.unscoped.filter(pk=made["past"].pk).update(until=timezone.now() - timedelta(minutes=1))
    with brand_scope(other_brand):
        made["rival"] = live.mute_create(brand=other_brand, customer=rival, room=rival_room)
    return {"room": room, "rival_room": rival_room, **made}


def test_the_consoles_mute_list_names_who_cannot_comment_in_the_room(console, mutes):
    room = mutes["room"].pk
    rows = console.get(f"{CONSOLE}/mutes?applies_to_room={room}&active=true").json()["results"]
    assert sorted((r["nickname"], r["room"], r["is_active"]) for r in rows) == [
        ("Everywhere", None, True),
        ("Here", room, True),
    ]
    ended = console.get(f"{CONSOLE}/mutes?applies_to_room={room}&active=false").json()["results"]
    assert [(r["nickname"], r["is_active"]) for r in ended] == [("Past", False)]

    assert console.delete(f"{CONSOLE}/mutes/{mutes['here'].pk}").status_code == 204
    rows = console.get(f"{CONSOLE}/mutes?applies_to_room={room}&active=true").json()["results"]
    assert [r["nickname"] for r in rows] == ["Everywhere"]


def test_another_brands_mutes_are_neither_listed_nor_lifted(console, rival_console, mutes):
    everyone = console.get(f"{CONSOLE}/mutes").json()["results"]
    assert "Rival" not in {r["nickname"] for r in everyone}
    assert_error(console.get(f"{CONSOLE}/mutes?applies_to_room={mutes['rival_room'].pk}"), 400, "invalid")
    assert_error(rival_console.get(f"{CONSOLE}/mutes?applies_to_room={mutes['room'].pk}"), 400, "invalid")
    assert_error(rival_console.delete(f"{CONSOLE}/mutes/{mutes['here'].pk}"), 404, "mute_not_found")
    rows = console.get(f"{CONSOLE}/mutes?applies_to_room={mutes['room'].pk}&active=true").json()["results"]
    assert "Here" in {r["nickname"] for r in rows}


@pytest.mark.parametrize("query", ["applies_to_room=abc", "applies_to_room=99999999999999999999"])
def test_junk_mute_filters_are_refused(console, mutes, query):
    assert_error(console.get(f"{CONSOLE}/mutes?{query}"), 400, "invalid")


def test_the_platform_operator_runs_any_brands_room_under_that_brand(platform, brand, other_brand, make_room):
    room, rival_room = make_room(brand, status="live"), make_room(other_brand, status="live")
    assert platform.get(f"{CONSOLE}/rooms/{room.pk}", HTTP_X_BRAND=brand.slug).json()["id"] == room.pk
    paused = platform.post(f"{CONSOLE}/rooms/{rival_room.pk}/pause", {}, HTTP_X_BRAND=other_brand.slug)
    assert paused.json()["status"] == "paused"
    # Under the wrong brand another brand's room is not found, as for anyone else.
    assert_error(platform.get(f"{CONSOLE}/rooms/{rival_room.pk}", HTTP_X_BRAND=brand.slug), 404, "room_not_found")
    assert_error(
        platform.post(f"{CONSOLE}/rooms/{rival_room.pk}/end", {}, HTTP_X_BRAND=brand.slug), 404, "room_not_found"
    )
    assert_error(platform.get(f"{CONSOLE}/rooms/{room.pk}"), 403, "brand_required")


def test_the_stream_key_is_reset_for_the_room_only(console, rival_console, brand, other_brand, make_room):
    room, other = make_room(brand, status="live"), make_room(brand)
    before = console.get(f"{CONSOLE}/rooms/{room.pk}").json()
    other_key = console.get(f"{CONSOLE}/rooms/{other.pk}").json()["stream_key"]

    reset = console.post(f"{CONSOLE}/rooms/{room.pk}/stream-key")
    assert reset.status_code == 200, reset.content
    after = reset.json()
    assert after["stream_key"] != before["stream_key"] and after["push_server"] == before["push_server"]
    assert after["push_server"] + after["stream_key"] == after["push_url"]
    assert console.get(f"{CONSOLE}/rooms/{room.pk}").json()["stream_key"] == after["stream_key"]
    assert console.get(f"{CONSOLE}/rooms/{other.pk}").json()["stream_key"] == other_key

    assert_error(rival_console.post(f"{CONSOLE}/rooms/{room.pk}/stream-key"), 404, "room_not_found")
    assert console.get(f"{CONSOLE}/rooms/{room.pk}").json()["stream_key"] == after["stream_key"]
    assert_error(console.post(f"{CONSOLE}/rooms/999999999/stream-key"), 404, "room_not_found")
    assert_error(console.get(f"{CONSOLE}/rooms/{room.pk}/stream-key"), 405, "method_not_allowed")

    ended = make_room(brand, status="ended")
    key = console.get(f"{CONSOLE}/rooms/{ended.pk}").json()["stream_key"]
    assert_error(console.post(f"{CONSOLE}/rooms/{ended.pk}/stream-key"), 409, "room_closed")
    assert console.get(f"{CONSOLE}/rooms/{ended.pk}").json()["stream_key"] == key
