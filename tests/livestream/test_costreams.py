"""Co-streams (连麦): invitations by costream_code, within a brand or across brands; accept,
decline, end; the rules; a push reaching both linked rooms; and ``costream:<id>`` sources."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conftest import assert_error
from livestream.models import CoStream
from livestream.services import room_products, rooms
from tenants.models import Brand
from tests.livestream.conftest import of_type, reload, snapshot

pytestmark = pytest.mark.django_db

ROOMS = "/api/v1/console/rooms"
COSTREAMS = "/api/v1/console/costreams"


def invite(client, room, target_code):
    return client.post(f"{ROOMS}/{room.pk}/costreams", {"room_code": target_code})


def act(client, costream_id, name):
    return client.post(f"{COSTREAMS}/{costream_id}/{name}")


def link(inviter_room, invitee_room, status="invited"):
    """Set-up only: a co-stream row as the services leave it, without going through them."""
    return CoStream.unscoped.create(
        brand_id=inviter_room.brand_id,
        inviter_room=inviter_room,
        invitee_brand_id=invitee_room.brand_id,
        invitee_room=invitee_room,
        status=status,
        accepted_at=timezone.now() if status in ("accepted", "ended") else None,
    )


@pytest.fixture
def live_rooms(brand, other_brand, make_room):
    """Two live rooms of acme (a, b) and one of the rival brand (r)."""
    return make_room(brand, status="live"), make_room(brand, status="live"), make_room(other_brand, status="live")


# --- the happy paths -----------------------------------------------------------------------------


def test_a_room_invites_another_of_its_brand_which_accepts(
    console, live_rooms, events, django_capture_on_commit_callbacks
):
    a, b, _ = live_rooms
    with django_capture_on_commit_callbacks(execute=True):
        response = invite(console, a, b.costream_code)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["inviter_room_id"], body["invitee_room_id"], body["side"]) == (
        "invited",
        a.pk,
        b.pk,
        "inviter",
    )
    assert body["partner"]["room_id"] == b.pk
    assert {(room_id, data["status"], data["partner"]["room_id"]) for room_id, data in of_type(events, "costream")} == {
        (a.pk, "invited", b.pk),
        (b.pk, "invited", a.pk),
    }

    events.clear()
    with django_capture_on_commit_callbacks(execute=True):
        accepted = act(console, body["id"], "accept")
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    assert CoStream.unscoped.get(pk=body["id"]).accepted_at is not None
    assert sorted(room_id for room_id, data in of_type(events, "costream") if data["status"] == "accepted") == sorted(
        [a.pk, b.pk]
    )


def test_a_room_invites_another_brands_room_which_accepts(console, rival_console, live_rooms):
    a, _, r = live_rooms
    costream_id = invite(console, a, r.costream_code).json()["id"]
    seen = rival_console.get(COSTREAMS).json()["results"]
    assert [(c["id"], c["side"], c["status"], c["partner"]["room_id"], c["partner"]["brand"]) for c in seen] == [
        (costream_id, "invitee", "invited", a.pk, "Acme")
    ]
    response = act(rival_console, costream_id, "accept")
    assert response.status_code == 200 and response.json()["status"] == "accepted"
    mine = console.get(f"{COSTREAMS}?status=accepted").json()["results"]
    assert [(c["id"], c["side"], c["partner"]["room_id"], c["partner"]["brand"]) for c in mine] == [
        (costream_id, "inviter", r.pk, "Rival")
    ]


def test_the_inviter_cannot_answer_its_own_invitation_to_another_brand(console, live_rooms):
    a, _, r = live_rooms
    costream_id = invite(console, a, r.costream_code).json()["id"]
    for name in ("accept", "decline"):
        assert_error(act(console, costream_id, name), 404, "costream_not_found")
    assert CoStream.unscoped.get(pk=costream_id).status == "invited"


def test_a_declined_invitation_is_closed_and_frees_both_rooms(console, rival_console, live_rooms):
    a, _, r = live_rooms
    costream_id = invite(console, a, r.costream_code).json()["id"]
    declined = act(rival_console, costream_id, "decline")
    assert declined.status_code == 200 and declined.json()["status"] == "declined" and declined.json()["ended_at"]
    for client, name in ((rival_console, "accept"), (rival_console, "decline"), (console, "end")):
        error = assert_error(act(client, costream_id, name), 409, "invalid_transition")
        assert error["fields"] == {"status": "declined"}
    assert CoStream.unscoped.get(pk=costream_id).status == "declined"
    assert invite(console, a, r.costream_code).status_code == 201  # both rooms are free again


@pytest.mark.parametrize("side", ["inviter", "invitee"])
def test_either_side_ends_a_costream(
    console, rival_console, live_rooms, side, events, django_capture_on_commit_callbacks
):
    a, _, r = live_rooms
    costream = link(a, r, "accepted")
    client = console if side == "inviter" else rival_console
    with django_capture_on_commit_callbacks(execute=True):
        response = act(client, costream.pk, "end")
    assert response.status_code == 200 and response.json()["status"] == "ended"
    assert CoStream.unscoped.get(pk=costream.pk).ended_at is not None
    assert {(room_id, data["status"]) for room_id, data in of_type(events, "costream")} == {
        (a.pk, "ended"),
        (r.pk, "ended"),
    }
    assert_error(act(client, costream.pk, "end"), 409, "invalid_transition")


def test_the_inviter_withdraws_an_invitation_by_ending_it(console, live_rooms):
    a, b, _ = live_rooms
    costream_id = invite(console, a, b.costream_code).json()["id"]
    assert act(console, costream_id, "end").json()["status"] == "ended"
    assert_error(act(console, costream_id, "accept"), 409, "invalid_transition")


def test_unknown_costream_action_or_id_is_404(console, live_rooms):
    a, b, _ = live_rooms
    costream = link(a, b)
    assert_error(act(console, costream.pk, "merge"), 404, "not_found")
    assert_error(act(console, 999999, "accept"), 404, "costream_not_found")
    assert CoStream.unscoped.get(pk=costream.pk).status == "invited"


# --- the rules -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "who, status",
    [
        ("inviter", "scheduled"),
        ("inviter", "paused"),
        ("target", "paused"),
        ("target", "ended"),
        ("target", "scheduled"),
    ],
)
def test_only_live_rooms_co_stream(console, brand, other_brand, make_room, who, status):
    room = make_room(brand, status=status if who == "inviter" else "live")
    target = make_room(other_brand, status=status if who == "target" else "live")
    error = assert_error(invite(console, room, target.costream_code), 409, "room_not_live")
    assert error["fields"] == {"room_id": (room if who == "inviter" else target).pk, "status": status}
    assert not CoStream.unscoped.exists()


@pytest.mark.parametrize("existing", ["invited", "accepted"])
@pytest.mark.parametrize("busy", ["inviter", "target"])
def test_a_room_is_in_at_most_one_costream(console, brand, other_brand, make_room, live_rooms, existing, busy):
    a, b, r = live_rooms
    third = make_room(other_brand, status="live")
    # a is busy when it invites; r is busy when it is the target.
    if busy == "inviter":
        link(a, b, existing)
    else:
        link(third, r, existing)
    before = snapshot()
    assert_error(invite(console, a, r.costream_code), 409, "already_linked")
    assert snapshot() == before


def test_a_finished_costream_does_not_block_a_new_one(console, live_rooms):
    a, b, r = live_rooms
    link(a, b, "ended")
    link(r, a, "declined")
    response = invite(console, a, r.costream_code)
    assert response.status_code == 201, response.content
    assert CoStream.unscoped.filter(status="invited").count() == 1


def test_a_room_cannot_co_stream_with_itself(console, live_rooms):
    a, _, _ = live_rooms
    assert_error(invite(console, a, a.costream_code), 400, "same_room")
    assert not CoStream.unscoped.exists()


def test_an_unknown_code_is_not_found(console, live_rooms):
    a, _, _ = live_rooms
    error = assert_error(invite(console, a, "nosuchcode"), 404, "room_not_found")
    assert "room_code" in error["fields"]
    assert_error(console.post(f"{ROOMS}/{a.pk}/costreams", {}), 400, "invalid")
    assert not CoStream.unscoped.exists()


def test_a_suspended_brands_room_cannot_be_invited(console, other_brand, live_rooms):
    a, _, r = live_rooms
    Brand.objects.filter(pk=other_brand.pk).update(status=Brand.Status.SUSPENDED)
    assert_error(invite(console, a, r.costream_code), 404, "room_not_found")
    assert not CoStream.unscoped.exists()


def test_costream_list_runs_a_constant_number_of_queries(console, brand, other_brand, make_room):
    Brand.objects.filter(pk__in=(brand.pk, other_brand.pk)).update(max_live_rooms=20)

    def add_pair():
        link(make_room(brand, status="live"), make_room(other_brand, status="live"), "accepted")

    def count():
        with CaptureQueriesContext(connection) as queries:
            response = console.get(COSTREAMS)
        return len(queries), len(response.json()["results"])

    add_pair()
    few = count()
    for _ in range(5):
        add_pair()
    many = count()
    assert (few[1], many[1]) == (1, 6) and many[0] == few[0]


def test_an_invitation_cannot_be_accepted_once_a_room_stopped_being_live(console, rival_console, brand, live_rooms):
    a, _, r = live_rooms
    costream_id = invite(console, a, r.costream_code).json()["id"]
    rooms.room_pause(brand=brand, room=a)
    assert_error(act(rival_console, costream_id, "accept"), 409, "room_not_live")
    assert CoStream.unscoped.get(pk=costream_id).status == "invited"


@pytest.mark.parametrize("how", ["end", "ban"])
@pytest.mark.parametrize("existing", ["invited", "accepted"])
@pytest.mark.parametrize("side", ["inviter", "invitee"])
def test_a_room_that_ends_or_is_banned_leaves_its_costream(
    console, platform, live_rooms, how, existing, side, events, django_capture_on_commit_callbacks
):
    a, _, r = live_rooms
    costream = link(a, r, existing) if side == "inviter" else link(r, a, existing)
    with django_capture_on_commit_callbacks(execute=True):
        if how == "end":
            response = console.post(f"{ROOMS}/{a.pk}/end")
        else:
            response = platform.post(f"/api/v1/platform/rooms/{a.pk}/ban", {"reason": "violation"})
    assert response.status_code == 200, response.content
    costream.refresh_from_db()
    assert costream.status == "ended" and costream.ended_at is not None
    assert {(room_id, data["status"]) for room_id, data in of_type(events, "costream")} == {
        (a.pk, "ended"),
        (r.pk, "ended"),
    }
    assert reload(r).status == "live"  # the partner room carries on


# --- a push reaches both linked rooms ------------------------------------------------------------------


@pytest.fixture
def stocked_rooms(brand, other_brand, live_rooms, make_product):
    a, _, r = live_rooms
    mine, theirs = make_product(brand, name="Acme tea"), make_product(other_brand, name="Rival cup")
    room_products.room_products_add(brand=brand, room=a, product_ids=[mine.pk])
    room_products.room_products_add(brand=other_brand, room=r, product_ids=[theirs.pk])
    return mine, theirs


def pushes(published):
    return sorted(
        (room_id, data["room_id"], data["product"] and data["product"]["id"])
        for room_id, data in of_type(published, "product.push")
    )


def test_while_linked_each_rooms_push_reaches_both_rooms(
    console, rival_console, live_rooms, stocked_rooms, events, django_capture_on_commit_callbacks
):
    a, _, r = live_rooms
    mine, theirs = stocked_rooms
    link(a, r, "accepted")
    with django_capture_on_commit_callbacks(execute=True):
        assert console.post(f"{ROOMS}/{a.pk}/push", {"product_id": mine.pk}).status_code == 200
    assert pushes(events) == sorted([(a.pk, a.pk, mine.pk), (r.pk, a.pk, mine.pk)])

    events.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert rival_console.post(f"{ROOMS}/{r.pk}/push", {"product_id": theirs.pk}).status_code == 200
    assert pushes(events) == sorted([(r.pk, r.pk, theirs.pk), (a.pk, r.pk, theirs.pk)])
    # Each room keeps its own pushed product; the partner's is only relayed.
    assert reload(a).pushed_product.product_id == mine.pk and reload(r).pushed_product.product_id == theirs.pk


@pytest.mark.parametrize("status", ["invited", "declined", "ended"])
def test_a_push_stays_in_its_room_unless_the_costream_is_accepted(
    console, live_rooms, stocked_rooms, status, events, django_capture_on_commit_callbacks
):
    a, _, r = live_rooms
    mine, _ = stocked_rooms
    link(a, r, status)
    with django_capture_on_commit_callbacks(execute=True):
        assert console.post(f"{ROOMS}/{a.pk}/push", {"product_id": mine.pk}).status_code == 200
    assert pushes(events) == [(a.pk, a.pk, mine.pk)]


# --- costream:<id> sources ----------------------------------------------------------------------------


def room_with_source(client, room, source):
    return client.get(f"/api/v1/mp/rooms/{room.pk}", {"source": source})


def test_a_viewer_from_the_partner_room_carries_the_costream_source(
    other_brand, make_customer, customer_client, live_rooms, stocked_rooms
):
    a, _, r = live_rooms
    mine, _ = stocked_rooms
    costream = link(a, r, "accepted")
    room_products.room_product_push(brand=a.brand, room=a, product_id=mine.pk)
    viewer = customer_client(make_customer(other_brand))
    response = room_with_source(viewer, r, f"costream:{costream.pk}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["source"] == {
        "kind": "costream",
        "festival_id": None,
        "costream_id": costream.pk,
        "referring_room_id": a.pk,
        "scene": "",
    }
    assert body["costream"]["partner"]["room_id"] == a.pk
    assert body["costream"]["partner"]["pushed_product"]["id"] == mine.pk


@pytest.mark.parametrize("source", ["costream:abc", "costream:", "costream:-1", "costream:³", "costream:" + "9" * 30])
def test_a_malformed_costream_source_is_refused(brand, make_room, make_customer, customer_client, source):
    room = make_room(brand)
    viewer = customer_client(make_customer(brand))
    assert_error(room_with_source(viewer, room, source), 400, "invalid_source")


@pytest.mark.parametrize("case", ["invited", "ended", "other_rooms", "unknown", "not_a_number"])
def test_a_costream_source_that_does_not_lead_to_the_room_is_refused(
    brand, other_brand, make_room, make_customer, customer_client, live_rooms, case
):
    a, b, r = live_rooms
    if case in ("invited", "ended"):
        source = f"costream:{link(a, r, case).pk}"
    elif case == "other_rooms":
        source = f"costream:{link(a, b, 'accepted').pk}"  # a real co-stream, but not r's
    elif case == "unknown":
        source = "costream:999999"
    else:
        source = "costream:abc"
    viewer = customer_client(make_customer(other_brand))
    error = assert_error(room_with_source(viewer, r, source), 400, "invalid_source")
    assert "source" in error["fields"]
