"""Start reminders (开播提醒): subscribing on the mini-program API, and the periodic task that sends
each subscription once, in batches, through the sandbox message client."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from conftest import assert_error
from livestream.models import LiveRoom, ReminderSubscription
from livestream.services import reminders
from livestream.services.reminders import reminders_send_for_room, send_due_reminders
from livestream.services.rooms import room_cancel, room_update
from livestream.tasks import send_start_reminders
from tenants.errors import UpstreamError
from tenants.models import Brand, Customer
from tenants.wechat.sandbox import SandboxMiniProgramClient

Sub = ReminderSubscription.Status
outbox = SandboxMiniProgramClient.outbox


@pytest.fixture(autouse=True)
def _empty_sandbox():
    SandboxMiniProgramClient.reset()
    yield
    SandboxMiniProgramClient.reset()


def make_room(brand, *, starts_in=timedelta(minutes=5), start=None, **fields):
    start = start or timezone.now() + starts_in
    defaults = {"title": "Spring launch", "anchor_name": "Lin Wei"}
    return LiveRoom.objects.create(
        brand=brand, scheduled_start=start, scheduled_end=start + timedelta(hours=2), **{**defaults, **fields}
    )


def subscribe(room, customers):
    return ReminderSubscription.unscoped.bulk_create(
        [ReminderSubscription(brand_id=room.brand_id, room=room, customer=customer) for customer in customers]
    )


def statuses(room) -> dict[str, str]:
    """openid → subscription status."""
    return dict(ReminderSubscription.unscoped.filter(room=room).values_list("customer__openid", "status"))


def sent_openids() -> list[str]:
    return [message.openid for message in outbox]


@pytest.fixture
def customers(brand, make_customer):
    return [make_customer(brand, openid=f"oAcme{n}") for n in range(3)]


@pytest.fixture
def room(brand):
    return make_room(brand)


def url(room):
    return f"/api/v1/mp/rooms/{room.pk}/reminder"


# --- subscribe / unsubscribe on the mini-program API ----------------------------------------
def test_subscribing_twice_keeps_one_subscription_and_unsubscribing_is_idempotent(room, customers, customer_client):
    client = customer_client(customers[0])

    for _ in range(2):
        response = client.post(url(room))
        assert response.status_code == 200 and response.json() == {"subscribed": True}
    assert list(ReminderSubscription.unscoped.values_list("customer", "status")) == [(customers[0].pk, Sub.PENDING)]
    assert client.get(f"/api/v1/mp/rooms/{room.pk}/me").json()["subscribed"] is True

    for _ in range(2):
        response = client.delete(url(room))
        assert response.status_code == 200 and response.json() == {"subscribed": False}
    assert list(ReminderSubscription.unscoped.values_list("status", flat=True)) == [Sub.CANCELLED]
    assert client.get(f"/api/v1/mp/rooms/{room.pk}/me").json()["subscribed"] is False

    client.post(url(room))  # subscribing again revives the same row
    assert list(ReminderSubscription.unscoped.values_list("status", flat=True)) == [Sub.PENDING]


def test_unsubscribed_customer_is_not_reminded(room, customers, customer_client):
    for customer in customers:
        customer_client(customer).post(url(room))
    customer_client(customers[1]).delete(url(room))

    send_due_reminders()

    assert sorted(sent_openids()) == ["oAcme0", "oAcme2"]
    assert statuses(room)["oAcme1"] == Sub.CANCELLED


@pytest.mark.parametrize("status", ["live", "paused", "ended", "cancelled", "banned"])
def test_only_a_room_that_has_not_started_takes_reminders(brand, customers, customer_client, status):
    room = make_room(brand, status=status)

    error = assert_error(customer_client(customers[0]).post(url(room)), 409, "room_not_upcoming")

    assert error["fields"] == {"status": status}
    assert not ReminderSubscription.unscoped.exists()


def test_another_brands_room_is_not_found(other_brand, customers, customer_client):
    rival_room = make_room(other_brand)
    client = customer_client(customers[0])

    assert_error(client.post(url(rival_room)), 404, "room_not_found")
    assert_error(client.delete(url(rival_room)), 404, "room_not_found")
    assert not ReminderSubscription.unscoped.exists()


def test_customer_of_a_suspended_brand_cannot_subscribe(brand, room, customers, customer_client):
    Brand.objects.filter(pk=brand.pk).update(status=Brand.Status.SUSPENDED)

    assert_error(customer_client(customers[0]).post(url(room)), 403, "brand_suspended")
    assert not ReminderSubscription.unscoped.exists()


# --- the periodic task -----------------------------------------------------------------------
def test_task_sends_each_subscription_once_however_often_it_runs(room, customers):
    subscribe(room, customers)

    first = send_start_reminders.delay().get()
    second = send_start_reminders.delay().get()

    assert first == {"rooms": 1, "errors": 0, "batches": 1, "sent": 3, "refused": 0, "failed": 0, "retry": 0}
    assert second == {"rooms": 0, "errors": 0, "batches": 0, "sent": 0, "refused": 0, "failed": 0, "retry": 0}
    assert sorted(sent_openids()) == ["oAcme0", "oAcme1", "oAcme2"]
    rows = ReminderSubscription.unscoped.filter(room=room)
    assert {row.status for row in rows} == {Sub.SENT}
    assert all(row.sent_at and row.claimed_at for row in rows)


def test_subscriptions_are_read_in_pages_and_claimed_and_sent_in_batches(brand, room, make_customer, monkeypatch):
    subscribe(room, [make_customer(brand) for _ in range(5)])
    monkeypatch.setattr(reminders, "PENDING_PAGE", 3)
    claimed = []
    claim = reminders._claim_batch

    def counting_claim(*args):
        batch = claim(*args)
        claimed.append(len(batch))
        return batch

    monkeypatch.setattr(reminders, "_claim_batch", counting_claim)

    result = reminders_send_for_room(brand=brand, room=room, batch_size=2)

    assert result["sent"] == 5 and len(outbox) == 5 and len(set(sent_openids())) == 5
    assert result["batches"] == 3 and claimed == [2, 1, 2]  # pages of 3: [2, 1] then [2]
    assert set(statuses(room).values()) == {Sub.SENT}


def test_nothing_is_sent_before_the_brands_lead_time(brand, other_brand, make_customer):
    Brand.objects.filter(pk=brand.pk).update(reminder_lead_minutes=30)  # other_brand keeps the default 10
    start = timezone.now() + timedelta(hours=2)
    early, late = make_room(brand, start=start), make_room(other_brand, start=start)
    subscribe(early, [make_customer(brand, openid="oEarly")])
    subscribe(late, [make_customer(other_brand, openid="oLate")])

    assert send_due_reminders(now=start - timedelta(minutes=31))["sent"] == 0
    assert outbox == []

    send_due_reminders(now=start - timedelta(minutes=30))
    assert sent_openids() == ["oEarly"]

    send_due_reminders(now=start - timedelta(minutes=10))
    assert sent_openids() == ["oEarly", "oLate"]


def test_rescheduled_room_sends_at_its_new_time(brand, customers):
    room = make_room(brand, starts_in=timedelta(minutes=30))
    subscribe(room, customers)
    new_start = room.scheduled_start + timedelta(hours=3)
    room_update(brand=brand, room=room, scheduled_start=new_start, scheduled_end=new_start + timedelta(hours=1))

    send_due_reminders(now=room.scheduled_start - timedelta(minutes=5))  # the old time
    assert outbox == []

    send_due_reminders(now=new_start - timedelta(minutes=5))
    assert len(outbox) == 3
    local = timezone.localtime(new_start, brand.tz)
    assert outbox[0].data["time2"] == f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def test_cancelled_room_sends_nothing(brand, room, customers):
    subscribe(room, customers)

    room_cancel(brand=brand, room=room, reason="Anchor is ill")
    send_due_reminders(now=room.scheduled_start)

    assert outbox == []
    assert set(statuses(room).values()) == {Sub.CANCELLED}


def test_cancelled_room_sends_a_notice_at_once_when_the_brand_chose_so(brand, customers):
    Brand.objects.filter(pk=brand.pk).update(reminder_cancel_notice=True)
    brand.refresh_from_db()
    room = make_room(brand, starts_in=timedelta(days=2))  # far beyond the lead time
    subscribe(room, customers)

    room_cancel(brand=brand, room=room, reason="Anchor is ill")
    send_due_reminders()
    send_due_reminders()

    assert sorted(sent_openids()) == ["oAcme0", "oAcme1", "oAcme2"]
    assert {message.data["phrase4"] for message in outbox} == {"直播取消"}
    assert set(statuses(room).values()) == {Sub.SENT}


def test_refused_user_is_marked_and_never_retried(room, customers):
    subscribe(room, customers)
    SandboxMiniProgramClient.refusing_openids.add("oAcme1")

    result = send_due_reminders()
    SandboxMiniProgramClient.refusing_openids.clear()  # even if they would accept now
    send_due_reminders()

    assert result["refused"] == 1
    assert sorted(sent_openids()) == ["oAcme0", "oAcme2"]
    assert statuses(room) == {"oAcme0": Sub.SENT, "oAcme1": Sub.REFUSED, "oAcme2": Sub.SENT}


def test_refused_user_who_subscribes_again_is_reminded_once_more(room, customers, customer_client):
    subscribe(room, customers[:1])
    SandboxMiniProgramClient.refusing_openids.add("oAcme0")
    send_due_reminders()
    assert statuses(room) == {"oAcme0": Sub.REFUSED}
    assert customer_client(customers[0]).get(f"/api/v1/mp/rooms/{room.pk}/me").json()["subscribed"] is False

    SandboxMiniProgramClient.refusing_openids.clear()
    assert customer_client(customers[0]).post(url(room)).json() == {"subscribed": True}  # a new grant
    send_due_reminders()

    assert sent_openids() == ["oAcme0"]
    assert statuses(room) == {"oAcme0": Sub.SENT}


def test_transient_failure_puts_the_rest_back_and_a_later_run_sends_them(brand, room, make_customer, monkeypatch):
    subscribe(room, [make_customer(brand, openid=f"o{n}") for n in range(5)])
    send = SandboxMiniProgramClient.send_subscribe_message

    def flaky(client, message):
        if len(outbox) == 2:
            raise UpstreamError("wechat_unavailable", "WeChat could not be reached; try again.")
        send(client, message)

    monkeypatch.setattr(SandboxMiniProgramClient, "send_subscribe_message", flaky)
    result = send_due_reminders()

    assert result["sent"] == 2 and result["retry"] == 3
    pending = ReminderSubscription.unscoped.filter(room=room, status=Sub.PENDING)
    assert pending.count() == 3 and not pending.filter(claimed_at__isnull=False).exists()

    monkeypatch.undo()
    assert send_due_reminders()["sent"] == 3
    assert sorted(sent_openids()) == ["o0", "o1", "o2", "o3", "o4"]
    assert set(statuses(room).values()) == {Sub.SENT}


def test_unexpected_error_records_what_was_sent_and_returns_the_unsent(brand, room, make_customer, monkeypatch):
    subscribe(room, [make_customer(brand, openid=f"o{n}") for n in range(4)])
    send = SandboxMiniProgramClient.send_subscribe_message

    def broken(client, message):
        if len(outbox) == 1:
            raise RuntimeError("bug")
        send(client, message)

    monkeypatch.setattr(SandboxMiniProgramClient, "send_subscribe_message", broken)
    with pytest.raises(RuntimeError):
        reminders_send_for_room(brand=brand, room=room)

    # The message in flight may or may not have gone out: failed, never resent. The rest wait.
    assert sorted(statuses(room).values()) == [Sub.FAILED, Sub.PENDING, Sub.PENDING, Sub.SENT]
    monkeypatch.undo()
    send_due_reminders()
    assert len(outbox) == 3 and len(set(sent_openids())) == 3


def test_stale_sending_claims_are_closed_as_failed_and_never_resent(room, customers):
    stale, recent, pending = subscribe(room, customers)
    now = timezone.now()
    ReminderSubscription.unscoped.filter(pk=stale.pk).update(status=Sub.SENDING, claimed_at=now - timedelta(minutes=11))
    ReminderSubscription.unscoped.filter(pk=recent.pk).update(status=Sub.SENDING, claimed_at=now - timedelta(minutes=2))

    send_due_reminders(now=now)
    assert sent_openids() == ["oAcme2"]
    assert statuses(room) == {"oAcme0": Sub.FAILED, "oAcme1": Sub.SENDING, "oAcme2": Sub.SENT}
    assert ReminderSubscription.unscoped.get(pk=stale.pk).error.startswith("outcome unknown")

    send_due_reminders(now=now + timedelta(minutes=15))  # the recent claim goes stale too
    assert sent_openids() == ["oAcme2"]
    assert statuses(room)["oAcme1"] == Sub.FAILED


def test_message_has_the_template_page_and_data_fitted_to_wechats_limits(brand, make_customer):
    title = "Autumn collection launch night A-Z"  # 34 characters: too long for a thing (20)
    start = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)  # 20:00 in Shanghai
    anchor = "Jasmine Wang of Hangzhou store"  # 30 characters
    room = make_room(brand, start=start, title=title, anchor_name=anchor)
    subscribe(room, [make_customer(brand, openid="oFan")])

    send_due_reminders(now=start - timedelta(minutes=5))

    [message] = outbox
    assert message.openid == "oFan"
    assert message.template_id == "sandbox-live-reminder"
    assert message.page == f"pages/room/index?id={room.pk}&source=reminder"
    assert message.data == {
        "thing1": title[:19] + "…",
        "time2": "2030年5月1日 20:00",
        "thing3": "Jasmine Wang of Han…",
        "phrase4": "即将开播",
    }
    assert len(message.data["thing1"]) == 20


def test_brand_template_and_layout_are_used(brand, make_customer):
    Brand.objects.filter(pk=brand.pk).update(
        reminder_template_id="TPL-LIVE-9", reminder_template_data={"thing7": "{anchor}: {title}", "date3": "{start}"}
    )
    room = make_room(brand)
    subscribe(room, [make_customer(brand)])

    send_due_reminders()

    [message] = outbox
    assert message.template_id == "TPL-LIVE-9"
    assert set(message.data) == {"thing7", "date3"}
    assert message.data["thing7"] == "Lin Wei: Spring lau…"


def test_a_brands_broken_layout_holds_up_only_its_own_reminders(brand, other_brand, make_customer, caplog):
    Brand.objects.filter(pk=brand.pk).update(reminder_template_data={"thing1": "{titel}"})
    broken, fine = make_room(brand), make_room(other_brand)
    subscribe(broken, [make_customer(brand, openid="oBroken")])
    subscribe(fine, [make_customer(other_brand, openid="oFine")])

    result = send_due_reminders()

    assert (result["rooms"], result["errors"], result["sent"]) == (2, 1, 1)
    assert sent_openids() == ["oFine"]
    assert statuses(broken) == {"oBroken": Sub.PENDING}  # sent once the brand fixes its layout
    assert f"Reminders for room {broken.pk}" in caplog.text

    Brand.objects.filter(pk=brand.pk).update(reminder_template_data={})
    send_due_reminders()
    assert sent_openids() == ["oFine", "oBroken"]


def test_room_that_started_early_reminds_at_once(brand, customers):
    room = make_room(brand, starts_in=timedelta(hours=2), status=LiveRoom.Status.LIVE)
    subscribe(room, customers)

    send_due_reminders()

    assert len(outbox) == 3 and {message.data["phrase4"] for message in outbox} == {"正在直播"}


def test_suspended_brands_rooms_send_nothing(brand, room, customers):
    subscribe(room, customers)
    Brand.objects.filter(pk=brand.pk).update(status=Brand.Status.SUSPENDED)

    assert send_due_reminders()["rooms"] == 0
    assert outbox == []
    assert set(statuses(room).values()) == {Sub.PENDING}


def test_two_brands_rooms_each_send_only_to_their_own_customers(brand, other_brand, make_customer, monkeypatch):
    rooms = {}
    for owner in (brand, other_brand):
        rooms[owner.pk] = make_room(owner)
        subscribe(rooms[owner.pk], [make_customer(owner, openid=f"{owner.slug}{n}") for n in range(3)])
    appid_of = {}
    send = SandboxMiniProgramClient.send_subscribe_message

    def recording(client, message):
        appid_of[message.openid] = client.appid
        send(client, message)

    monkeypatch.setattr(SandboxMiniProgramClient, "send_subscribe_message", recording)
    assert send_due_reminders()["sent"] == 6

    for owner in (brand, other_brand):
        page = f"pages/room/index?id={rooms[owner.pk].pk}&source=reminder"
        openids = set(Customer.unscoped.filter(brand=owner).values_list("openid", flat=True))
        assert {message.openid for message in outbox if message.page == page} == openids
        assert {appid_of[openid] for openid in openids} == {owner.appid}
    assert len(outbox) == 6


# --- two workers at once (PostgreSQL: real parallel connections) -------------------------------
@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks")
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_each_subscription_exactly_once(brand):
    room = make_room(brand)
    customers = Customer.objects.bulk_create([Customer(brand=brand, openid=f"oPar{n:05d}") for n in range(2000)])
    subscribe(room, customers)
    start = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            start.wait()
            results.append(reminders_send_for_room(brand=brand, room=room, batch_size=100))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(outbox) == 2000 and len(set(sent_openids())) == 2000
    assert sum(result["sent"] for result in results) == 2000
    assert set(statuses(room).values()) == {Sub.SENT}
