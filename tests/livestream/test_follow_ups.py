"""Audience segments, follow-ups sent once per customer, and the guides' to-do lists."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import assert_error
from coupons.models import Coupon
from guides.models import Binding
from livestream.models import AudienceContact, FollowUp, FollowUpRecipient, ReminderSubscription, ViewingSession
from livestream.services import follow_ups
from tenants.scoping import brand_scope
from tenants.wechat.sandbox import SandboxMiniProgramClient
from tests.coupons.conftest import make_template
from tests.guides.conftest import make_guide
from tests.livestream.test_report import show  # noqa: F401  (the hand-made show)


@pytest.fixture
def audience(brand, show, make_customer):  # noqa: F811
    """The show's customers plus c4 (subscribed, never came) and c5 (watched, bound to the guide)."""
    room, guide = show["room"], show["guide"]
    c1, c2, c3 = show["customers"]
    c4, c5 = make_customer(brand), make_customer(brand)
    now = timezone.now()
    with brand_scope(brand):
        ReminderSubscription.objects.create(brand=brand, room=room, customer=c4, status="sent")
        ViewingSession.objects.create(
            brand=brand, room=room, customer=c5, socket_id="s6", joined_at=show["t0"],
            left_at=show["t0"] + timedelta(minutes=2), seconds=120,
        )  # fmt: skip
        for customer in (c1, c5):
            Binding.objects.create(
                brand=brand, customer=customer, guide=guide, store=show["store"], bound_at=now,
                protected_until=now + timedelta(days=30),
            )  # fmt: skip
    SandboxMiniProgramClient.reset()
    return {**show, "c": (c1, c2, c3, c4, c5)}


def test_segments(brand, audience, console):
    room, guide = audience["room"], audience["guide"]
    c1, c2, c3, c4, c5 = audience["c"]
    body = console.get(f"/api/v1/console/rooms/{room.pk}/segments").json()
    assert body == {"sizes": {"bought": 2, "watched_not_bought": 2, "subscribed_absent": 1, "refunded": 1}}
    with brand_scope(brand):
        from livestream.reports import segment_customers

        def ids(segment, guide=None):
            return list(segment_customers(brand=brand, room=room, segment=segment, guide=guide))

        assert ids("bought") == [c1.pk, c2.pk]
        assert ids("watched_not_bought") == [c3.pk, c5.pk]
        assert ids("subscribed_absent") == [c4.pk]
        assert ids("refunded") == [c2.pk]
        assert ids("watched_not_bought", guide) == [c5.pk]
        assert ids("bought", guide) == [c1.pk]
    by_guide = console.get(f"/api/v1/console/rooms/{room.pk}/segments?guide_id={guide.pk}").json()
    assert by_guide["sizes"]["watched_not_bought"] == 1


def test_follow_up_sends_a_coupon_and_a_message_once(brand, audience, console, django_capture_on_commit_callbacks):
    room = audience["room"]
    _, _, c3, _, c5 = audience["c"]
    template = make_template(brand)
    with django_capture_on_commit_callbacks(execute=True):
        response = console.post(
            f"/api/v1/console/rooms/{room.pk}/follow-ups",
            {"segment": "watched_not_bought", "coupon_template_id": template.pk, "message_text": "回放已上线"},
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["recipient_count"] == 2
    detail = console.get(f"/api/v1/console/follow-ups/{body['id']}").json()
    assert detail["status"] == "done" and detail["progress"] == {"pending": 0, "sending": 0, "done": 2, "failed": 0}

    # The task runs again (a retry, the beat's safety net, a second worker): nothing more goes out.
    assert follow_ups.follow_up_send(follow_up_id=body["id"]) == {"batches": 0, "done": 0, "failed": 0}
    follow_ups.follow_ups_send_pending()
    with brand_scope(brand):
        coupons = sorted(Coupon.objects.filter(source="follow_up").values_list("customer_id", flat=True))
        assert coupons == [c3.pk, c5.pk]
        assert FollowUpRecipient.objects.filter(follow_up_id=body["id"], message_sent=True).count() == 2
    assert sorted(m.openid for m in SandboxMiniProgramClient.outbox) == sorted([c3.openid, c5.openid])
    assert all("source=follow_up" in m.page for m in SandboxMiniProgramClient.outbox)
    listed = console.get(f"/api/v1/console/rooms/{room.pk}/follow-ups").json()
    assert [row["id"] for row in listed] == [body["id"]]


def test_a_follow_up_made_while_the_broker_is_down_is_answered_and_sent_by_the_sweep(
    brand, audience, console, django_capture_on_commit_callbacks, monkeypatch
):
    from kombu.exceptions import OperationalError

    from livestream.tasks import send_follow_up

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(send_follow_up, "apply_async", broker_down)
    room = audience["room"]
    with django_capture_on_commit_callbacks(execute=True):
        response = console.post(
            f"/api/v1/console/rooms/{room.pk}/follow-ups", {"segment": "bought", "message_text": "hi"}
        )
    assert response.status_code == 201, response.content  # was a 500 after the commit
    detail = console.get(f"/api/v1/console/follow-ups/{response.json()['id']}").json()
    assert detail["status"] == "sending" and detail["progress"]["pending"] == 2
    assert follow_ups.follow_ups_send_pending() == 1  # the beat's sweep sends it
    assert console.get(f"/api/v1/console/follow-ups/{response.json()['id']}").json()["status"] == "done"


def test_follow_up_in_two_racing_runs_gives_each_customer_once(brand, audience):
    room = audience["room"]
    template = make_template(brand)
    follow_up = follow_ups.follow_up_create(
        brand=brand, room=room, segment="bought", coupon_template_id=template.pk
    )  # no on_commit here: the sends below are the task's runs
    assert follow_ups.follow_up_send(follow_up_id=follow_up.pk, batch_size=1)["done"] == 2
    assert follow_ups.follow_up_send(follow_up_id=follow_up.pk, batch_size=1)["done"] == 0
    with brand_scope(brand):
        assert Coupon.objects.filter(source="follow_up").count() == 2


def test_follow_up_refusals(brand, audience, console, other_brand):
    room = audience["room"]
    path = f"/api/v1/console/rooms/{room.pk}/follow-ups"
    assert_error(console.post(path, {"segment": "bought"}), 400, "nothing_to_send")
    assert_error(console.post(path, {"segment": "everyone", "message_text": "hi"}), 400, "invalid")
    assert_error(console.post(path, {"segment": "bought", "coupon_template_id": 999999}), 404, "template_not_found")
    rival_template = make_template(other_brand)
    assert_error(
        console.post(path, {"segment": "bought", "coupon_template_id": rival_template.pk}), 404, "template_not_found"
    )
    # Nobody bound to the guide subscribed and stayed away: a follow-up to no one is refused, not "sent".
    nobody = {"segment": "subscribed_absent", "guide_id": audience["guide"].pk, "message_text": "hi"}
    assert_error(console.post(path, nobody), 409, "empty_segment")
    with brand_scope(brand):
        assert not FollowUp.objects.exists()


def test_another_brand_cannot_see_or_send(brand, audience, console, rival_console):
    room = audience["room"]
    created = console.post(f"/api/v1/console/rooms/{room.pk}/follow-ups", {"segment": "bought", "message_text": "hi"})
    for path in (f"rooms/{room.pk}/segments", f"rooms/{room.pk}/follow-ups"):
        assert_error(rival_console.get(f"/api/v1/console/{path}"), 404, "room_not_found")
    assert_error(
        rival_console.post(f"/api/v1/console/rooms/{room.pk}/follow-ups", {"segment": "bought", "message_text": "x"}),
        404,
        "room_not_found",
    )
    assert_error(rival_console.get(f"/api/v1/console/follow-ups/{created.json()['id']}"), 404, "follow_up_not_found")


def test_guide_to_do_list(brand, audience, staff_client):
    room, guide = audience["room"], audience["guide"]
    c1, _, c3, _, c5 = audience["c"]
    api = staff_client(guide.user, brand)
    rows = api.get("/api/v1/guide/follow-ups").json()["results"]
    # c1 is bound to the guide but bought; c3 watched and did not buy but is not the guide's.
    assert [(row["room_id"], row["customer_id"], row["contacted"]) for row in rows] == [(room.pk, c5.pk, False)]
    assert rows[0]["watched_seconds"] == 120

    done = api.post(f"/api/v1/guide/follow-ups/{room.pk}/{c5.pk}/contacted")
    assert done.status_code == 200 and done.json()["customer_id"] == c5.pk
    assert api.post(f"/api/v1/guide/follow-ups/{room.pk}/{c5.pk}/contacted").status_code == 200  # twice: no change
    assert api.get(f"/api/v1/guide/follow-ups?room_id={room.pk}").json()["results"][0]["contacted"] is True
    with brand_scope(brand):
        assert AudienceContact.objects.count() == 1
    for customer in (c1, c3):  # a buyer, another guide's customer
        response = api.post(f"/api/v1/guide/follow-ups/{room.pk}/{customer.pk}/contacted")
        assert_error(response, 404, "follow_up_not_found")


def test_a_guide_sees_only_their_own_customers(brand, other_brand, audience, staff_client):
    room, c5 = audience["room"], audience["c"][4]
    colleague = make_guide(brand, "wang", store=audience["store"])
    api = staff_client(colleague.user, brand)
    assert api.get("/api/v1/guide/follow-ups").json()["results"] == []
    assert_error(api.post(f"/api/v1/guide/follow-ups/{room.pk}/{c5.pk}/contacted"), 404, "follow_up_not_found")
    rival_guide = make_guide(other_brand, "zhao")
    rival = staff_client(rival_guide.user, other_brand)
    assert rival.get("/api/v1/guide/follow-ups").json()["results"] == []
    assert_error(rival.post(f"/api/v1/guide/follow-ups/{room.pk}/{c5.pk}/contacted"), 404, "follow_up_not_found")
