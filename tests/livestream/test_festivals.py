"""Festivals (主会场 / 分会场): the platform creates, invites brands, names the main venue,
publishes and ends; brands join with a room or leave; ``festival:<id>`` sources; and the
platform endpoints refuse brand staff."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conftest import assert_error
from livestream.models import Festival, Venue
from livestream.urls import platform_urls
from tenants.models import Brand, Membership
from tests.livestream.conftest import iso, snapshot

pytestmark = pytest.mark.django_db

PLATFORM = "/api/v1/platform/festivals"
CONSOLE = "/api/v1/console/festivals"


def window(starts_in=timedelta(days=1), length=timedelta(days=2)):
    start = timezone.now() + starts_in
    return {"starts_at": iso(start), "ends_at": iso(start + length)}


def create(platform, name="618 Festival", **fields):
    response = platform.post(PLATFORM, {"name": name, **window(), **fields})
    assert response.status_code == 201, response.content
    return response.json()


def invite(platform, festival_id, brand):
    return platform.post(f"{PLATFORM}/{festival_id}/venues", {"brand_id": brand.pk})


def join(client, festival_id, room):
    return client.post(f"{CONSOLE}/{festival_id}/join", {"room_id": room.pk})


def venue(festival_id, brand):
    return Venue.unscoped.get(festival_id=festival_id, brand=brand)


@pytest.fixture
def festival(platform, brand, other_brand):
    """A draft festival both brands are invited to."""
    body = create(platform)
    assert invite(platform, body["id"], brand).status_code == 201
    assert invite(platform, body["id"], other_brand).status_code == 201
    return Festival.objects.get(pk=body["id"])


# --- the platform's side --------------------------------------------------------------------------


def test_platform_creates_a_draft_festival(platform):
    body = create(platform, name=" 双11 ")
    assert (body["name"], body["status"], body["main_room"], body["venues"]) == ("双11", "draft", None, [])
    assert platform.get(f"{PLATFORM}/{body['id']}").json()["id"] == body["id"]
    assert [f["id"] for f in platform.get(f"{PLATFORM}?status=draft").json()["results"]] == [body["id"]]
    assert platform.get(f"{PLATFORM}?status=published").json()["results"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"name": "618", **window(length=timedelta(0))},
        {"name": "618", **window(length=timedelta(hours=-1))},
        {"name": "", **window()},
        {"name": "618", "starts_at": "soon", "ends_at": "later"},
        {"name": "618"},
    ],
)
def test_invalid_festival_input_is_400_and_writes_nothing(platform, body):
    assert_error(platform.post(PLATFORM, body), 400, "invalid")
    assert not Festival.objects.exists()


def test_platform_edits_a_festival_within_a_valid_window(platform, festival):
    moved = window(starts_in=timedelta(days=3))
    response = platform.patch(f"{PLATFORM}/{festival.pk}", {"name": "618 Finale", **moved})
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "618 Finale"
    before = Festival.objects.get(pk=festival.pk)
    error = assert_error(
        platform.patch(f"{PLATFORM}/{festival.pk}", {"ends_at": iso(before.starts_at - timedelta(hours=1))}),
        400,
        "invalid",
    )
    assert "ends_at" in error["fields"]
    assert Festival.objects.get(pk=festival.pk).ends_at == before.ends_at


def test_platform_invites_brands_once_each(platform, festival, brand, other_brand, make_brand):
    venues = platform.get(f"{PLATFORM}/{festival.pk}").json()["venues"]
    assert sorted((v["brand"], v["status"], v["room_id"]) for v in venues) == [
        ("Acme", "invited", None),
        ("Rival", "invited", None),
    ]
    assert_error(invite(platform, festival.pk, brand), 409, "already_invited")
    assert_error(platform.post(f"{PLATFORM}/{festival.pk}/venues", {"brand_id": 999999}), 404, "brand_not_found")
    suspended = make_brand("gone", status=Brand.Status.SUSPENDED)
    assert_error(invite(platform, festival.pk, suspended), 409, "brand_suspended")
    assert_error(invite(platform, 999999, brand), 404, "festival_not_found")
    assert Venue.unscoped.filter(festival=festival).count() == 2


def test_unknown_festival_and_action_are_404(platform, festival):
    assert_error(platform.get(f"{PLATFORM}/999999"), 404, "festival_not_found")
    assert_error(platform.post(f"{PLATFORM}/{festival.pk}/launch"), 404, "not_found")
    assert Festival.objects.get(pk=festival.pk).status == "draft"


def test_festival_lists_run_a_constant_number_of_queries(platform, console, brand, make_brand, make_room):
    def counts():
        result = []
        for client, url in ((platform, PLATFORM), (console, CONSOLE)):
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url)
            result.append((len(queries), len(response.json()["results"])))
        return result

    def add_festival():
        body = create(platform)
        invite(platform, body["id"], brand)
        join(console, body["id"], make_room(brand))
        for n in range(2):
            invite(platform, body["id"], make_brand(f"guest{body['id']}x{n}"))

    add_festival()
    few = counts()
    for _ in range(4):
        add_festival()
    many = counts()
    assert [n for _, n in few] == [1, 1] and [n for _, n in many] == [5, 5]
    assert [q for q, _ in many] == [q for q, _ in few]


# --- brands join and leave ------------------------------------------------------------------------


def test_a_brand_joins_with_its_room_and_sees_its_venue(console, platform, festival, brand, make_room):
    room = make_room(brand)
    listed = console.get(CONSOLE).json()["results"]
    assert [(v["festival_id"], v["status"], v["room_id"]) for v in listed] == [(festival.pk, "invited", None)]

    response = join(console, festival.pk, room)
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["room_id"], response.json()["is_main_venue"]) == (
        "joined",
        room.pk,
        False,
    )
    assert venue(festival.pk, brand).joined_at is not None
    platform_view = {
        v["brand"]: (v["status"], v["room_id"]) for v in platform.get(f"{PLATFORM}/{festival.pk}").json()["venues"]
    }
    assert platform_view == {"Acme": ("joined", room.pk), "Rival": ("invited", None)}


def test_a_brand_can_switch_the_room_it_joined_with(console, festival, brand, make_room):
    first, second = make_room(brand), make_room(brand, status="live")
    join(console, festival.pk, first)
    assert join(console, festival.pk, second).json()["room_id"] == second.pk
    assert venue(festival.pk, brand).room_id == second.pk


@pytest.mark.parametrize("status", ["ended", "cancelled"])
def test_a_closed_room_cannot_join(console, festival, brand, make_room, status):
    room = make_room(brand, status=status)
    assert assert_error(join(console, festival.pk, room), 409, "room_closed")["fields"] == {"status": status}
    assert venue(festival.pk, brand).status == "invited"


def test_a_brand_joins_only_with_its_own_room(console, festival, brand, other_brand, make_room):
    theirs = make_room(other_brand)
    before = snapshot()
    assert_error(join(console, festival.pk, theirs), 404, "room_not_found")
    assert_error(console.post(f"{CONSOLE}/{festival.pk}/join", {}), 400, "invalid")
    assert snapshot() == before


def test_a_brand_cannot_join_a_festival_it_was_not_invited_to(console, platform, brand, make_room):
    body = create(platform)
    room = make_room(brand)
    assert_error(join(console, body["id"], room), 404, "festival_not_found")
    assert_error(console.post(f"{CONSOLE}/{body['id']}/leave"), 404, "festival_not_found")
    assert not Venue.unscoped.exists()


def test_a_brand_leaves_and_may_come_back(console, festival, brand, make_room):
    room = make_room(brand)
    join(console, festival.pk, room)
    left = console.post(f"{CONSOLE}/{festival.pk}/leave")
    assert left.status_code == 200 and left.json()["status"] == "left" and left.json()["left_at"]
    assert_error(console.post(f"{CONSOLE}/{festival.pk}/leave"), 409, "invalid_transition")
    back = join(console, festival.pk, room)
    assert back.json()["status"] == "joined" and back.json()["left_at"] is None


def test_an_invited_brand_may_decline_by_leaving(rival_console, festival, other_brand):
    assert rival_console.post(f"{CONSOLE}/{festival.pk}/leave").json()["status"] == "left"
    assert venue(festival.pk, other_brand).room_id is None


# --- main venue, publish, end ------------------------------------------------------------------------


def main_room(platform, festival_id, room_id):
    return platform.post(f"{PLATFORM}/{festival_id}/main-room", {"room_id": room_id})


def test_the_main_venue_is_a_joined_room(platform, console, rival_console, festival, brand, other_brand, make_room):
    mine, theirs, stray = make_room(brand), make_room(other_brand), make_room(other_brand)
    join(console, festival.pk, mine)
    for room_id in (theirs.pk, stray.pk, 999999):  # invited brand that has not joined, any room, no room
        assert_error(main_room(platform, festival.pk, room_id), 409, "room_not_in_festival")
    assert Festival.objects.get(pk=festival.pk).main_room_id is None

    response = main_room(platform, festival.pk, mine.pk)
    assert response.status_code == 200 and response.json()["main_room"] == mine.pk
    assert console.get(CONSOLE).json()["results"][0]["is_main_venue"] is True
    assert rival_console.get(CONSOLE).json()["results"][0]["is_main_venue"] is False


def test_a_brand_cannot_swap_away_its_main_venue_room(platform, console, festival, brand, make_room):
    main, other = make_room(brand), make_room(brand)
    join(console, festival.pk, main)
    main_room(platform, festival.pk, main.pk)
    assert_error(join(console, festival.pk, other), 409, "room_is_main_venue")
    assert venue(festival.pk, brand).room_id == main.pk


def test_leaving_with_the_main_venue_clears_it(platform, console, festival, brand, make_room):
    room = make_room(brand)
    join(console, festival.pk, room)
    main_room(platform, festival.pk, room.pk)
    assert console.post(f"{CONSOLE}/{festival.pk}/leave").status_code == 200
    assert Festival.objects.get(pk=festival.pk).main_room_id is None
    assert_error(main_room(platform, festival.pk, room.pk), 409, "room_not_in_festival")


def test_a_festival_is_published_with_a_main_venue_then_ended(platform, console, festival, brand, make_room):
    room = make_room(brand)
    assert_error(platform.post(f"{PLATFORM}/{festival.pk}/publish"), 409, "main_room_required")
    join(console, festival.pk, room)
    main_room(platform, festival.pk, room.pk)
    published = platform.post(f"{PLATFORM}/{festival.pk}/publish")
    assert published.status_code == 200 and published.json()["status"] == "published"
    error = assert_error(platform.post(f"{PLATFORM}/{festival.pk}/publish"), 409, "invalid_transition")
    assert error["fields"] == {"status": "published"}

    assert platform.post(f"{PLATFORM}/{festival.pk}/end").json()["status"] == "ended"
    assert_error(platform.post(f"{PLATFORM}/{festival.pk}/end"), 409, "invalid_transition")
    assert_error(platform.post(f"{PLATFORM}/{festival.pk}/publish"), 409, "invalid_transition")
    assert_error(join(console, festival.pk, make_room(brand)), 409, "festival_ended")
    assert venue(festival.pk, brand).room_id == room.pk


def test_ids_past_the_integer_range_are_not_found(platform, console, festival, brand, make_room):
    huge = 10**30
    join(console, festival.pk, make_room(brand))
    before = snapshot()
    assert_error(console.post(f"{CONSOLE}/{huge}/join", {"room_id": 1}), 404, "festival_not_found")
    assert_error(console.post(f"{CONSOLE}/{huge}/leave"), 404, "festival_not_found")
    assert_error(main_room(platform, festival.pk, huge), 409, "room_not_in_festival")
    assert_error(platform.get(f"{PLATFORM}/{huge}"), 404, "festival_not_found")
    assert snapshot() == before


def test_an_ended_festival_takes_no_new_brands(platform, festival, make_brand):
    platform.post(f"{PLATFORM}/{festival.pk}/end")
    assert_error(invite(platform, festival.pk, make_brand("late")), 409, "festival_ended")


# --- festival:<id> sources -----------------------------------------------------------------------------


@pytest.fixture
def published(platform, console, rival_console, festival, brand, other_brand, make_room):
    """The festival published with acme's room as the main venue and a rival room as a sub-venue."""
    main, sub = make_room(brand), make_room(other_brand)
    join(console, festival.pk, main)
    join(rival_console, festival.pk, sub)
    main_room(platform, festival.pk, main.pk)
    assert platform.post(f"{PLATFORM}/{festival.pk}/publish").status_code == 200
    return festival, main, sub


def mp_room(client, room, source=None):
    return client.get(f"/api/v1/mp/rooms/{room.pk}", {"source": source} if source is not None else {})


def test_a_viewer_from_a_festival_carries_its_source_into_any_venue(
    published, brand, other_brand, make_customer, customer_client
):
    festival, main, sub = published
    for room, owner in ((sub, other_brand), (main, brand)):
        viewer = customer_client(make_customer(owner))
        response = mp_room(viewer, room, f"festival:{festival.pk}")
        assert response.status_code == 200, response.content
        assert response.json()["source"] == {
            "kind": "festival",
            "festival_id": festival.pk,
            "costream_id": None,
            "referring_room_id": main.pk,
            "scene": "",
        }


def test_a_viewer_without_a_source_came_directly(published, other_brand, make_customer, customer_client):
    _, _, sub = published
    viewer = customer_client(make_customer(other_brand))
    assert mp_room(viewer, sub).json()["source"]["kind"] == "direct"
    assert mp_room(viewer, sub, "reminder").json()["source"]["kind"] == "reminder"


@pytest.mark.parametrize(
    "case", ["not_a_venue", "left", "draft", "ended", "unknown", "empty_id", "huge_id", "unicode_digit", "garbage"]
)
def test_a_festival_source_that_does_not_lead_to_the_room_is_refused(
    case,
    published,
    platform,
    rival_console,
    platform_festival_factory,
    other_brand,
    make_room,
    make_customer,
    customer_client,
):
    festival, _, sub = published
    room = sub
    source = f"festival:{festival.pk}"
    if case == "not_a_venue":
        room = make_room(other_brand)
    elif case == "left":
        rival_console.post(f"{CONSOLE}/{festival.pk}/leave")
    elif case == "draft":
        source = f"festival:{platform_festival_factory(room=sub)}"
    elif case == "ended":
        platform.post(f"{PLATFORM}/{festival.pk}/end")
    elif case == "unknown":
        source = "festival:999999"
    elif case == "empty_id":
        source = "festival:"
    elif case == "huge_id":
        source = "festival:" + "9" * 30
    elif case == "unicode_digit":
        source = "festival:²"
    else:
        source = "somewhere"
    viewer = customer_client(make_customer(other_brand))
    error = assert_error(mp_room(viewer, room, source), 400, "invalid_source")
    assert "source" in error["fields"]


@pytest.fixture
def platform_festival_factory(platform, rival_console):
    """Another festival, still a draft, that the rival brand joined with ``room``."""

    def make(room):
        body = create(platform, name="Draft fest")
        invite(platform, body["id"], room.brand)
        assert join(rival_console, body["id"], room).status_code == 200
        return body["id"]

    return make


# --- brand staff and the platform API --------------------------------------------------------------------


@pytest.fixture
def platform_requests(festival, brand, make_room):
    room = make_room(brand, status="live")
    f = festival.pk
    return [
        ("platform-room-ban", "post", f"/api/v1/platform/rooms/{room.pk}/ban", {"reason": "x"}),
        ("platform-festivals", "get", PLATFORM, None),
        ("platform-festivals", "post", PLATFORM, {"name": "Mine now", **window()}),
        ("platform-festival", "get", f"{PLATFORM}/{f}", None),
        ("platform-festival", "patch", f"{PLATFORM}/{f}", {"name": "Renamed"}),
        ("platform-festival-venues", "post", f"{PLATFORM}/{f}/venues", {"brand_id": brand.pk}),
        ("platform-festival-main-room", "post", f"{PLATFORM}/{f}/main-room", {"room_id": room.pk}),
        ("platform-festival-action", "post", f"{PLATFORM}/{f}/publish", None),
        ("platform-festival-action", "post", f"{PLATFORM}/{f}/end", None),
    ]


def test_the_platform_table_covers_every_platform_endpoint(platform_requests):
    assert {name for name, *_ in platform_requests} == {url.name for url in platform_urls}


@pytest.mark.parametrize("role", [Membership.Role.OWNER, Membership.Role.OPERATOR, Membership.Role.GUIDE])
def test_brand_staff_cannot_use_platform_endpoints(brand, make_staff, staff_client, platform_requests, role):
    user = make_staff(brand, role)
    for client in (staff_client(user, brand), staff_client(user)):
        before = snapshot()
        for _name, method, path, body in platform_requests:
            assert_error(getattr(client, method)(path, body), 403, "platform_only")
        assert snapshot() == before
    assert Festival.objects.count() == 1


def test_the_platform_can_make_those_requests(platform, platform_requests):
    for name, method, path, body in platform_requests:
        response = getattr(platform, method)(path, body)
        # The refusals above are about who asks: the platform gets answers (a rule may still say no).
        assert response.status_code not in (401, 403, 404), (name, response.content[:300])
