"""Comments and mutes over HTTP: history by cursor (mini-program and console), hide / show / pin /
unpin with their room events, mutes, the admin pages, and cross-brand isolation of every endpoint
of livestream/api/live.py."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client as DjangoClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conftest import assert_error
from livestream import realtime
from livestream.api import live as live_api
from livestream.models import Comment, Mute
from livestream.urls import console_urls, mp_urls
from tenants.models import Membership
from tests.livestream.conftest import of_type

pytestmark = pytest.mark.django_db

MP_ROOMS = "/api/v1/mp/rooms"
ROOMS = "/api/v1/console/rooms"
COMMENTS = "/api/v1/console/comments"
MUTES = "/api/v1/console/mutes"


@pytest.fixture(autouse=True)
def fresh_store():
    realtime.reset_store()
    yield
    realtime.reset_store()


_next_id = iter(range(10_000, 1_000_000))


def add_comments(room, customer, texts, **fields):
    """Set-up only: comments as the flush leaves them (ids given, like the live store's)."""
    now = timezone.now()
    return [
        Comment.unscoped.create(
            id=next(_next_id),
            brand_id=room.brand_id,
            room=room,
            customer=customer,
            text=text,
            created_at=now + timedelta(seconds=i),
            **fields,
        )
        for i, text in enumerate(texts)
    ]


def reload(obj):
    return type(obj).unscoped.get(pk=obj.pk)


def rows():
    """Every comment and mute of every brand, to prove that a refused request changed nothing."""
    return {
        "comments": list(Comment.unscoped.order_by("pk").values()),
        "mutes": list(Mute.unscoped.order_by("pk").values()),
    }


def follow(client, url):
    """Every page of a cursor list: the ids of each page."""
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append([item["id"] for item in body["results"]])
        url = body["next"]
    return pages


@pytest.fixture
def world(brand, other_brand, make_room, make_customer, make_staff):
    """A live room of each brand, a customer of each, a few comments and a mute on each side."""
    room = make_room(brand, status="live")
    rival_room = make_room(other_brand, status="live")
    alice = make_customer(brand, nickname="Alice")
    bob = make_customer(brand, nickname="Bob")
    rival_customer = make_customer(other_brand, nickname="Rival")
    comments = add_comments(room, alice, ["one", "two", "three", "four", "five"])
    rival_comments = add_comments(rival_room, rival_customer, ["theirs", "theirs too"])
    rival_comments[1].is_pinned = True
    rival_comments[1].save()
    return {
        "room": room,
        "rival_room": rival_room,
        "alice": alice,
        "bob": bob,
        "rival_customer": rival_customer,
        "comments": comments,
        "rival_comments": rival_comments,
        "mute": Mute.unscoped.create(brand=brand, customer=bob, room=room),
        "rival_mute": Mute.unscoped.create(brand=other_brand, customer=rival_customer, room=rival_room),
    }


# --- history ---------------------------------------------------------------------------------------


def test_viewers_page_a_rooms_visible_comments_newest_first_by_cursor(world, customer_client):
    client = customer_client(world["alice"])
    one, two, three, four, five = world["comments"]
    Comment.unscoped.filter(pk=three.pk).update(status="hidden")
    pages = follow(client, f"{MP_ROOMS}/{world['room'].pk}/comments?page_size=2")
    assert pages == [[five.pk, four.pk], [two.pk, one.pk]]
    first = client.get(f"{MP_ROOMS}/{world['room'].pk}/comments?page_size=1").json()["results"][0]
    assert first["text"] == "five" and first["room_id"] == world["room"].pk and first["is_pinned"] is False
    assert first["customer"] == {"id": world["alice"].pk, "nickname": "Alice", "avatar_url": ""}
    assert "status" not in first  # viewers never learn what operators hid


def test_comment_history_runs_a_constant_number_of_queries(world, customer_client, make_customer):
    client = customer_client(world["alice"])
    url = f"{MP_ROOMS}/{world['room'].pk}/comments"

    def queries(page_size):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"{url}?page_size={page_size}").status_code == 200
        return len(captured)

    few = queries(2)
    add_comments(world["room"], make_customer(world["room"].brand, nickname="Carol"), ["more"] * 30)
    assert queries(30) == few


def test_operators_page_every_comment_with_its_status_and_filter_them(world, console):
    one, two, three, four, five = world["comments"]
    Comment.unscoped.filter(pk=three.pk).update(status="hidden")
    bobs = add_comments(world["room"], world["bob"], ["from bob"])[0]
    url = f"{ROOMS}/{world['room'].pk}/comments"
    assert follow(console, f"{url}?page_size=4") == [[bobs.pk, five.pk, four.pk, three.pk], [two.pk, one.pk]]
    hidden = console.get(f"{url}?status=hidden").json()["results"]
    assert [(c["id"], c["status"]) for c in hidden] == [(three.pk, "hidden")]
    assert [c["id"] for c in console.get(f"{url}?customer={world['bob'].pk}").json()["results"]] == [bobs.pk]


def test_a_page_size_over_the_maximum_is_capped(world, console):
    add_comments(world["room"], world["alice"], ["x"] * 120)
    assert len(console.get(f"{ROOMS}/{world['room'].pk}/comments?page_size=1000").json()["results"]) == 100


# --- hide, show, pin, unpin ------------------------------------------------------------------------


def test_hiding_a_comment_withdraws_it_from_viewers(
    world, console, customer_client, events, django_capture_on_commit_callbacks
):
    room, comment = world["room"], world["comments"][4]
    store = realtime.store()
    frame = realtime.encode("comment", {"id": comment.pk, "room_id": room.pk, "text": comment.text})
    store.remember_comment(room.pk, frame)  # what a joining viewer's snapshot would show
    with django_capture_on_commit_callbacks(execute=True):
        response = console.post(f"{COMMENTS}/{comment.pk}/hide")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "hidden"
    assert reload(comment).status == "hidden"
    assert of_type(events, "comment.hidden") == [(room.pk, {"room_id": room.pk, "id": comment.pk})]
    assert store.recent_comments(room.pk) == []
    mp = customer_client(world["alice"]).get(f"{MP_ROOMS}/{room.pk}/comments").json()["results"]
    assert comment.pk not in [c["id"] for c in mp]

    events.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = console.post(f"{COMMENTS}/{comment.pk}/show")
    assert response.json()["status"] == "visible" and reload(comment).status == "visible"
    ((room_id, shown),) = of_type(events, "comment")
    assert (room_id, shown["id"], shown["text"]) == (room.pk, comment.pk, "five")


def test_pinning_keeps_one_pinned_comment_per_room(world, console, events, django_capture_on_commit_callbacks):
    room, (one, two, *_) = world["room"], world["comments"]
    with django_capture_on_commit_callbacks(execute=True):
        assert console.post(f"{COMMENTS}/{one.pk}/pin").json()["is_pinned"] is True
        assert console.post(f"{COMMENTS}/{two.pk}/pin").json()["is_pinned"] is True
    assert Comment.unscoped.filter(room=room, is_pinned=True).get().pk == two.pk
    assert reload(world["rival_comments"][1]).is_pinned  # another room's pin is its own
    pinned = of_type(events, "comment.pinned")
    assert [(room_id, data["comment"]["id"], data["comment"]["text"]) for room_id, data in pinned] == [
        (room.pk, one.pk, "one"),
        (room.pk, two.pk, "two"),
    ]

    events.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert console.post(f"{COMMENTS}/{two.pk}/unpin").json()["is_pinned"] is False
    assert not Comment.unscoped.filter(room=room, is_pinned=True).exists()
    assert of_type(events, "comment.pinned") == [(room.pk, {"room_id": room.pk, "comment": None})]


def test_hiding_a_pinned_comment_unpins_it_and_a_hidden_one_cannot_be_pinned(
    world, console, events, django_capture_on_commit_callbacks
):
    comment = world["comments"][0]
    console.post(f"{COMMENTS}/{comment.pk}/pin")
    body = console.post(f"{COMMENTS}/{comment.pk}/hide").json()
    assert (body["status"], body["is_pinned"]) == ("hidden", False)
    assert (reload(comment).status, reload(comment).is_pinned) == ("hidden", False)
    events.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert_error(console.post(f"{COMMENTS}/{comment.pk}/pin"), 409, "comment_hidden")
    assert not reload(comment).is_pinned and events == []


def test_unknown_comments_and_actions_are_404(world, console):
    comment = world["comments"][0]
    assert_error(console.post(f"{COMMENTS}/{comment.pk}/delete"), 404, "not_found")
    assert_error(console.post(f"{COMMENTS}/999999999/hide"), 404, "comment_not_found")
    assert_error(console.post(f"{COMMENTS}/{2**70}/hide"), 404, "comment_not_found")
    assert reload(comment).status == "visible"


def test_viewers_and_guides_cannot_moderate(world, customer_client, make_staff, staff_client):
    comment = world["comments"][0]
    assert customer_client(world["alice"]).post(f"{COMMENTS}/{comment.pk}/hide").status_code == 401
    guide = staff_client(make_staff(world["room"].brand, Membership.Role.GUIDE), world["room"].brand)
    assert_error(guide.post(f"{COMMENTS}/{comment.pk}/hide"), 403, "role_not_allowed")
    assert_error(guide.post(MUTES, {"customer_id": world["alice"].pk}), 403, "role_not_allowed")
    assert reload(comment).status == "visible" and not Mute.unscoped.filter(customer=world["alice"]).exists()


# --- mutes -----------------------------------------------------------------------------------------


def test_operators_mute_a_customer_in_one_room(world, console, events, django_capture_on_commit_callbacks):
    room, alice = world["room"], world["alice"]
    until = timezone.now() + timedelta(hours=1)
    with django_capture_on_commit_callbacks(execute=True):
        response = console.post(
            MUTES, {"customer_id": alice.pk, "room_id": room.pk, "until": until.isoformat(), "reason": "  spam  "}
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["customer"], body["room"], body["reason"]) == (alice.pk, room.pk, "spam")
    mute = Mute.unscoped.get(pk=body["id"])
    assert (mute.brand_id, mute.until) == (room.brand_id, until)
    assert of_type(events, "customer.muted") == [(room.pk, {"room_id": room.pk, "customer_id": alice.pk})]


def test_a_brand_wide_mute_reaches_every_open_room_of_the_brand(
    world, console, make_room, events, django_capture_on_commit_callbacks
):
    brand = world["room"].brand
    paused = make_room(brand, status="paused")
    make_room(brand)  # scheduled: nobody is watching yet
    with django_capture_on_commit_callbacks(execute=True):
        response = console.post(MUTES, {"customer_id": world["alice"].pk})
    assert response.status_code == 201 and response.json()["room"] is None
    assert sorted(room_id for room_id, _ in of_type(events, "customer.muted")) == sorted([world["room"].pk, paused.pk])


def test_mutes_are_listed_newest_first_and_filtered(world, console):
    later = Mute.unscoped.create(brand=world["room"].brand, customer=world["alice"])
    assert [m["id"] for m in console.get(MUTES).json()["results"]] == [later.pk, world["mute"].pk]
    assert [m["id"] for m in console.get(f"{MUTES}?customer={world['bob'].pk}").json()["results"]] == [world["mute"].pk]
    assert [m["id"] for m in console.get(f"{MUTES}?room={world['room'].pk}").json()["results"]] == [world["mute"].pk]


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "customer_id"),
        ({"customer_id": "abc"}, "customer_id"),
        ({"customer_id": True}, "customer_id"),
        ({"customer_id": 0}, "customer_id"),
        ({"customer_id": "ALICE", "until": "yesterday"}, "until"),
        ({"customer_id": "ALICE", "until": "PAST"}, "until"),
        ({"customer_id": "ALICE", "reason": "x" * 201}, "reason"),
        ({"customer_id": "ALICE", "room_id": -1}, "room_id"),
    ],
)
def test_invalid_mutes_are_400_and_write_nothing(world, console, body, field):
    past = (timezone.now() - timedelta(minutes=1)).isoformat()
    body = {
        k: {"ALICE": world["alice"].pk, "PAST": past}.get(v, v) if isinstance(v, str) else v for k, v in body.items()
    }
    before = rows()
    error = assert_error(console.post(MUTES, body), 400, "invalid")
    assert field in error["fields"]
    assert rows() == before


def test_unknown_customers_and_rooms_cannot_be_muted(world, console):
    before = rows()
    assert_error(console.post(MUTES, {"customer_id": 99999999}), 404, "customer_not_found")
    assert_error(console.post(MUTES, {"customer_id": world["alice"].pk, "room_id": 99999999}), 404, "room_not_found")
    assert rows() == before


def test_lifting_a_mute_deletes_it_and_unmutes_the_customer(world, console, events, django_capture_on_commit_callbacks):
    room, bob = world["room"], world["bob"]
    with django_capture_on_commit_callbacks(execute=True):
        response = console.delete(f"{MUTES}/{world['mute'].pk}")
    assert response.status_code == 204
    assert not Mute.unscoped.filter(pk=world["mute"].pk).exists()
    assert of_type(events, "customer.unmuted") == [(room.pk, {"room_id": room.pk, "customer_id": bob.pk})]
    assert_error(console.delete(f"{MUTES}/{world['mute'].pk}"), 404, "mute_not_found")


def test_lifting_a_room_mute_under_a_brand_wide_one_does_not_unmute(
    world, console, events, django_capture_on_commit_callbacks
):
    Mute.unscoped.create(brand=world["room"].brand, customer=world["bob"])  # every room
    with django_capture_on_commit_callbacks(execute=True):
        assert console.delete(f"{MUTES}/{world['mute'].pk}").status_code == 204
    assert of_type(events, "customer.unmuted") == []


# --- isolation ---------------------------------------------------------------------------------------

ISOLATION = [
    # (url name, method, path, body, expected code): brand acme's operator (or customer) on rival's objects
    ("mp-room-comments", "get", lambda w: f"{MP_ROOMS}/{w['rival_room'].pk}/comments", None, "room_not_found"),
    ("console-room-comments", "get", lambda w: f"{ROOMS}/{w['rival_room'].pk}/comments", None, "room_not_found"),
    *[
        (
            "console-comment",
            "post",
            lambda w, a=action: f"{COMMENTS}/{w['rival_comments'][0].pk}/{a}",
            None,
            "comment_not_found",
        )
        for action in ("hide", "show", "pin", "unpin")
    ],
    ("console-comment", "post", lambda w: f"{COMMENTS}/{w['rival_comments'][1].pk}/unpin", None, "comment_not_found"),
    ("console-mutes", "post", lambda w: MUTES, lambda w: {"customer_id": w["rival_customer"].pk}, "customer_not_found"),
    (
        "console-mutes",
        "post",
        lambda w: MUTES,
        lambda w: {"customer_id": w["alice"].pk, "room_id": w["rival_room"].pk},
        "room_not_found",
    ),
    ("console-mute", "delete", lambda w: f"{MUTES}/{w['rival_mute'].pk}", None, "mute_not_found"),
]


def live_api_url_names():
    return {
        url.name
        for url in [*mp_urls, *console_urls]
        if getattr(url.callback, "view_class", None) and url.callback.view_class.__module__ == live_api.__name__
    }


def test_the_isolation_table_covers_every_endpoint_of_the_live_api():
    assert {name for name, *_ in ISOLATION} == live_api_url_names()


@pytest.mark.parametrize(
    "name, method, path, body, code", [pytest.param(*row, id=f"{row[0]}-{i}") for i, row in enumerate(ISOLATION)]
)
def test_another_brands_comments_and_mutes_are_404_and_nothing_changes(
    world, console, customer_client, name, method, path, body, code, events, django_capture_on_commit_callbacks
):
    client = customer_client(world["alice"]) if name.startswith("mp-") else console
    before = rows()
    with django_capture_on_commit_callbacks(execute=True):
        response = getattr(client, method)(path(world), body(world) if callable(body) else body)
    assert_error(response, 404, code)
    assert rows() == before
    assert events == []


@pytest.mark.parametrize(
    "name, method, path, body, code",
    [pytest.param(*row, id=f"{row[0]}-{i}") for i, row in enumerate(ISOLATION) if row[0] != "mp-room-comments"],
)
def test_the_owner_brand_can_make_the_same_request(world, rival_console, name, method, path, body, code):
    """The control for the table above: the 404 comes from the brand, not from the object."""
    data = body(world) if callable(body) else body
    if isinstance(data, dict) and data.get("customer_id") == world["alice"].pk:
        data = {**data, "customer_id": world["rival_customer"].pk}
    response = getattr(rival_console, method)(path(world), data)
    assert response.status_code < 300, (name, response.content[:300])


def test_the_owner_brands_viewers_read_its_history(world, make_customer, customer_client):
    rival_viewer = customer_client(make_customer(world["rival_room"].brand))
    ids = [c["id"] for c in rival_viewer.get(f"{MP_ROOMS}/{world['rival_room'].pk}/comments").json()["results"]]
    assert ids == [c.pk for c in reversed(world["rival_comments"])]


def test_lists_show_only_the_brands_own_mutes_and_customers(world, console):
    assert [m["id"] for m in console.get(MUTES).json()["results"]] == [world["mute"].pk]
    for url in (MUTES, f"{ROOMS}/{world['room'].pk}/comments"):
        error = assert_error(console.get(f"{url}?customer={world['rival_customer'].pk}"), 400, "invalid")
        assert "customer" in error["fields"]  # another brand's customer is no valid choice


# --- admin -------------------------------------------------------------------------------------------


def admin_client(user):
    client = DjangoClient()
    client.force_login(user)
    return client


@pytest.fixture
def admin(brand, make_staff):
    return admin_client(make_staff(brand, Membership.Role.OPERATOR))


def listed(client, url):
    response = client.get(url)
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].result_list}


def test_the_admin_lists_and_searches_only_the_brands_comments_and_mutes(admin, world):
    assert listed(admin, "/admin/livestream/comment/") == {c.pk for c in world["comments"]}
    assert listed(admin, "/admin/livestream/comment/?q=theirs") == set()
    assert listed(admin, "/admin/livestream/comment/?q=three") == {world["comments"][2].pk}
    assert listed(admin, "/admin/livestream/mute/") == {world["mute"].pk}
    assert admin.get(f"/admin/livestream/comment/{world['comments'][0].pk}/change/").status_code == 200
    for url in (
        f"/admin/livestream/comment/{world['rival_comments'][0].pk}/change/",
        f"/admin/livestream/mute/{world['rival_mute'].pk}/change/",
    ):
        assert admin.get(url).status_code == 302  # "does not exist", as for any unknown id


def test_the_admin_hides_and_shows_comments_through_the_service(
    admin, world, events, django_capture_on_commit_callbacks
):
    mine, theirs = world["comments"][0], world["rival_comments"][0]
    with django_capture_on_commit_callbacks(execute=True):
        admin.post("/admin/livestream/comment/", {"action": "hide", "_selected_action": [mine.pk, theirs.pk]})
    assert (reload(mine).status, reload(theirs).status) == ("hidden", "visible")
    assert of_type(events, "comment.hidden") == [(world["room"].pk, {"room_id": world["room"].pk, "id": mine.pk})]
    with django_capture_on_commit_callbacks(execute=True):
        admin.post("/admin/livestream/comment/", {"action": "show", "_selected_action": [mine.pk]})
    assert reload(mine).status == "visible"


def test_the_admin_cannot_add_edit_or_delete_comments(admin, world):
    comment = world["comments"][0]
    assert admin.get("/admin/livestream/comment/add/").status_code == 403
    admin.post(f"/admin/livestream/comment/{comment.pk}/change/", {"text": "edited"})
    assert admin.post(f"/admin/livestream/comment/{comment.pk}/delete/", {"post": "yes"}).status_code == 403
    assert reload(comment).text == "one"


def test_the_admin_mutes_and_unmutes_through_the_service(admin, world, events, django_capture_on_commit_callbacks):
    room, alice = world["room"], world["alice"]
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post("/admin/livestream/mute/add/", {"customer": alice.pk, "room": room.pk, "reason": "rude"})
    assert response.status_code == 302, response.content.decode()[:2000]
    mute = Mute.unscoped.get(customer=alice)
    assert (mute.brand_id, mute.room_id, mute.reason) == (room.brand_id, room.pk, "rude")
    assert of_type(events, "customer.muted") == [(room.pk, {"room_id": room.pk, "customer_id": alice.pk})]

    events.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(f"/admin/livestream/mute/{mute.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Mute.unscoped.filter(pk=mute.pk).exists()
    assert of_type(events, "customer.unmuted") == [(room.pk, {"room_id": room.pk, "customer_id": alice.pk})]


def post_past_mute(admin, customer):
    past = timezone.localtime() - timedelta(hours=1)
    return admin.post(
        "/admin/livestream/mute/add/",
        {"customer": customer.pk, "until_0": past.date().isoformat(), "until_1": past.time().strftime("%H:%M:%S")},
        follow=True,
    )


def test_the_admin_refuses_a_mute_that_ends_in_the_past(admin, world):
    response = post_past_mute(admin, world["alice"])
    assert "A mute ends in the future." in response.content.decode()
    assert not Mute.unscoped.filter(customer=world["alice"]).exists()


def test_the_admin_does_not_report_a_refused_mute_as_added(admin, world):
    response = post_past_mute(admin, world["alice"])
    assert not any("added successfully" in str(m) for m in response.context["messages"])


def test_the_admin_cannot_mute_another_brands_customer_or_in_its_room(admin, world):
    before = rows()
    for data, field in (
        ({"customer": world["rival_customer"].pk}, "customer"),
        ({"customer": world["alice"].pk, "room": world["rival_room"].pk}, "room"),
    ):
        response = admin.post("/admin/livestream/mute/add/", data)
        assert response.status_code == 200 and field in response.context["adminform"].form.errors
    admin.post(f"/admin/livestream/mute/{world['rival_mute'].pk}/delete/", {"post": "yes"})
    assert rows() == before
