"""The brand's side of orders: console list and filters, constant query counts, detail, ship, the
streamed CSV export, and the admin pages."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from commerce.models import Order, OrderEvent, Refund
from commerce.selectors import CSV_COLUMNS
from commerce.services import payments as payment_services
from conftest import assert_error
from guides.models import Guide, Store
from tenants.models import Brand, Membership
from tests.commerce.conftest import (
    ORDERS,
    create_flash_sale,
    create_room,
    create_sku,
    pay_order,
    place_order,
    reload,
    ship_order,
)

pytestmark = pytest.mark.django_db

CONSOLE = "/api/v1/console/orders"
EXPORT = "/api/v1/console/orders/export.csv"


def ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def created_at(order, moment):
    Order.unscoped.filter(pk=order.pk).update(created_at=moment)
    return reload(order)


@pytest.fixture
def store(brand):
    return Store.unscoped.create(brand=brand, code="S1", name="Jing'an store")


@pytest.fixture
def guide(brand, store, make_staff):
    return Guide.unscoped.create(
        brand=brand, user=make_staff(brand, Membership.Role.GUIDE), name="Xiao Wang", store=store
    )


@pytest.fixture
def book(brand, other_brand, customer, rival_customer, sku, room, store, guide, make_customer):
    """A few orders of this brand in different states, rooms, days and attributions, and a rival's."""
    other_room = create_room(brand, products=[sku.product], title="Other room")
    neighbour = make_customer(brand, nickname="Neighbour")
    day = datetime(2025, 6, 1, 4, 0, tzinfo=UTC)
    orders = {
        "pending": place_order(customer, [(sku, 1)], room=room),
        "paid": pay_order(place_order(customer, [(sku, 2)], room=other_room)),
        "shipped": place_order(neighbour, [(sku, 1)]),
        "guided": place_order(neighbour, [(sku, 1)], room=room),
    }
    orders["shipped"] = ship_order(pay_order(orders["shipped"]))
    Order.unscoped.filter(pk=orders["guided"].pk).update(guide=guide, store=store)
    for offset, name in enumerate(["pending", "paid", "shipped", "guided"]):
        orders[name] = created_at(orders[name], day + timedelta(days=offset))
    rival = place_order(rival_customer, [(create_sku(other_brand), 1)])
    return {**orders, "rival": rival, "room": room, "other_room": other_room, "neighbour": neighbour}


# --- the list ------------------------------------------------------------------------------------


def test_the_console_lists_this_brands_orders_newest_first(ops, book):
    assert ids(ops.get(CONSOLE)) == [book[n].pk for n in ("guided", "shipped", "paid", "pending")]
    row = ops.get(CONSOLE).json()["results"][0]
    assert row["customer"] == {"id": book["neighbour"].pk, "nickname": "Neighbour"}
    assert row["lines"][0]["quantity"] == 1 and row["guide_id"] is not None


@pytest.mark.parametrize(
    "query, expected",
    [
        (lambda b: "status=paid", ["paid"]),
        (lambda b: "status=shipped", ["shipped"]),
        (lambda b: f"room={b['room'].pk}", ["guided", "pending"]),
        (lambda b: f"room={b['other_room'].pk}", ["paid"]),
        (lambda b: "created_after=2025-06-02T00:00:00Z", ["guided", "shipped", "paid"]),
        (lambda b: "created_before=2025-06-03T04:00:00Z", ["paid", "pending"]),
        (lambda b: "created_after=2025-06-02T00:00:00Z&created_before=2025-06-03T12:00:00Z", ["shipped", "paid"]),
        (lambda b: f"guide={b['guided'].guide_id}", ["guided"]),
        (lambda b: f"store={b['guided'].store_id}", ["guided"]),
        (lambda b: f"customer={b['neighbour'].pk}", ["guided", "shipped"]),
        (lambda b: f"number={b['paid'].number}", ["paid"]),
        (lambda b: f"status=pending_payment&room={b['room'].pk}", ["guided", "pending"]),
        (lambda b: f"status=pending_payment&customer={b['neighbour'].pk}", ["guided"]),
    ],
    ids=[
        "status_paid",
        "status_shipped",
        "room",
        "other_room",
        "after",
        "before",
        "date_range",
        "guide",
        "store",
        "customer",
        "number",
        "status_and_room",
        "status_and_customer",
    ],
)
def test_the_console_list_filters(ops, book, query, expected):
    assert ids(ops.get(f"{CONSOLE}?{query(book)}")) == [book[name].pk for name in expected]


@pytest.mark.parametrize("query", ["status=lost", "created_after=yesterday", "room=abc"])
def test_a_malformed_filter_is_400(ops, book, query):
    assert_error(ops.get(f"{CONSOLE}?{query}"), 400, "invalid")


@pytest.mark.parametrize("name", ["room", "guide", "store", "customer"])
def test_filtering_by_another_brands_object_answers_as_for_an_unknown_one(ops, book, other_brand, make_staff, name):
    rival_store = Store.unscoped.create(brand=other_brand, code="R1", name="Rival store")
    rival = {
        "room": create_room(other_brand).pk,
        "store": rival_store.pk,
        "guide": Guide.unscoped.create(brand=other_brand, user=make_staff(other_brand), name="G", store=rival_store).pk,
        "customer": book["rival"].customer_id,
    }[name]
    unknown = ops.get(f"{CONSOLE}?{name}=987654")
    foreign = ops.get(f"{CONSOLE}?{name}={rival}")
    assert_error(foreign, 400, "invalid")
    assert foreign.json()["error"]["fields"] == unknown.json()["error"]["fields"]


def count_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(queries)


def add_orders(customer, count):
    for _ in range(count):
        pay_order(place_order(customer, [(create_sku(customer.brand), 2), (create_sku(customer.brand), 1)]))


def test_the_console_list_runs_a_constant_number_of_queries(ops, customer, django_assert_max_num_queries):
    add_orders(customer, 1)
    few = count_queries(ops, CONSOLE)
    add_orders(customer, 6)

    with django_assert_max_num_queries(few):
        assert len(ids(ops.get(CONSOLE))) == 7


def test_the_mp_list_runs_a_constant_number_of_queries(mp, customer, django_assert_max_num_queries):
    add_orders(customer, 1)
    few = count_queries(mp, ORDERS)
    add_orders(customer, 6)

    with django_assert_max_num_queries(few):
        assert len(ids(mp.get(ORDERS))) == 7


def test_the_refund_list_runs_a_constant_number_of_queries(ops, customer, django_assert_max_num_queries):
    def refund_one():
        order = pay_order(place_order(customer, [(create_sku(customer.brand), 1)]))
        payment_services.refund_request(brand=customer.brand, order=order, customer=customer)

    refund_one()
    few = count_queries(ops, "/api/v1/console/refunds")
    for _ in range(5):
        refund_one()

    with django_assert_max_num_queries(few):
        assert len(ids(ops.get("/api/v1/console/refunds?status=requested"))) == 6


def test_the_mp_list_shows_the_customers_own_orders_and_filters_by_status(mp, book, customer):
    assert ids(mp.get(ORDERS)) == [book["paid"].pk, book["pending"].pk]
    assert ids(mp.get(f"{ORDERS}?status=paid")) == [book["paid"].pk]


# --- detail and ship -----------------------------------------------------------------------------


def test_the_detail_shows_lines_events_payments_and_refunds(ops, operator, customer, sku):
    order = ship_order(pay_order(place_order(customer, [(sku, 2)])), staff=operator)
    refund = payment_services.refund_request(brand=order.brand, order=order, customer=customer, reason="late")

    body = ops.get(f"{CONSOLE}/{order.pk}").json()

    assert [line["quantity"] for line in body["lines"]] == [2]
    assert [(e["from_status"], e["to_status"], e["actor"]) for e in body["events"]] == [
        ("", "pending_payment", "customer"),
        ("pending_payment", "paid", "payment"),
        ("paid", "shipped", "staff"),
        ("shipped", "refunding", "customer"),
    ]
    assert body["events"][2]["actor_id"] == operator.pk and body["events"][3]["reason"] == "late"
    [payment] = body["payments"]
    assert (payment["status"], payment["amount"], payment["provider"]) == ("paid", 20000, "sandbox")
    [shown] = body["refunds"]
    assert (shown["id"], shown["status"], shown["amount"], shown["order_number"]) == (
        refund.pk,
        "requested",
        20000,
        order.number,
    )
    assert (body["status"], body["tracking_number"], body["customer"]["id"]) == ("refunding", "SF1000", customer.pk)


def test_an_unknown_order_is_404(ops):
    assert_error(ops.get(f"{CONSOLE}/987654"), 404, "order_not_found")


def test_the_console_ships_a_paid_order_with_a_tracking_number(ops, operator, customer, sku):
    order = pay_order(place_order(customer, [(sku, 1)]))

    response = ops.post(f"{CONSOLE}/{order.pk}/ship", {"carrier": " SF ", "tracking_number": " SF123 "})

    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["carrier"], response.json()["tracking_number"]) == (
        "shipped",
        "SF",
        "SF123",
    )
    event = OrderEvent.unscoped.filter(order=order).last()
    assert (event.to_status, event.actor, event.actor_id) == ("shipped", "staff", operator.pk)


def test_shipping_an_unpaid_order_is_409_and_changes_nothing(ops, customer, sku):
    order = place_order(customer, [(sku, 1)])
    error = assert_error(ops.post(f"{CONSOLE}/{order.pk}/ship", {"tracking_number": "SF1"}), 409, "invalid_transition")
    assert error["fields"] == {"status": "pending_payment"}
    assert reload(order).tracking_number == ""


def test_a_tracking_number_too_long_is_400(ops, customer, sku):
    order = pay_order(place_order(customer, [(sku, 1)]))
    assert_error(ops.post(f"{CONSOLE}/{order.pk}/ship", {"tracking_number": "9" * 65}), 400, "invalid")
    assert reload(order).status == "paid"


def test_guides_and_store_managers_cannot_use_the_console(brand, make_staff, staff_client, customer, sku):
    order = pay_order(place_order(customer, [(sku, 1)]))
    for role in (Membership.Role.GUIDE, Membership.Role.STORE_MANAGER):
        client = staff_client(make_staff(brand, role), brand)
        assert client.get(CONSOLE).status_code == 403
        assert client.post(f"{CONSOLE}/{order.pk}/ship", {"tracking_number": "SF1"}).status_code == 403
    assert reload(order).status == "paid"


# --- the CSV export ------------------------------------------------------------------------------


def export(client, query=""):
    response = client.get(f"{EXPORT}?{query}" if query else EXPORT)
    assert response.status_code == 200, response.content
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return response, list(csv.DictReader(io.StringIO(text[1:])))


def test_the_export_streams_one_row_per_line_after_a_header(ops, brand, book, sku):
    scarf = create_sku(brand, price=2500, name="Scarf")
    two_lines = place_order(book["neighbour"], [(sku, 1), (scarf, 3)])

    response, rows = export(ops)

    assert response["Content-Disposition"] == 'attachment; filename="acme-orders.csv"'
    assert list(rows[0]) == [name for name, _ in CSV_COLUMNS]
    numbers = [row["order_number"] for row in rows]
    assert sorted(numbers) == sorted(
        [*(book[n].number for n in ("pending", "paid", "shipped", "guided")), two_lines.number, two_lines.number]
    )
    mine = [row for row in rows if row["order_number"] == two_lines.number]
    assert {(row["product"], row["quantity"], row["unit_price_fen"]) for row in mine} == {
        ("Coat", "1", "10000"),
        ("Scarf", "3", "2500"),
    }
    paid = next(row for row in rows if row["order_number"] == book["paid"].number)
    assert (paid["status"], paid["order_payable_fen"], paid["customer_nickname"]) == ("paid", "20000", "Mei")
    assert paid["room_id"] == str(book["other_room"].pk)


def test_the_export_holds_only_this_brands_orders(ops, rival_console, book):
    _, rows = export(ops)
    assert book["rival"].number not in {row["order_number"] for row in rows}
    _, theirs = export(rival_console)
    assert [row["order_number"] for row in theirs] == [book["rival"].number]


def test_the_export_writes_times_in_the_brands_zone(ops, brand, customer, sku):
    order = pay_order(place_order(customer, [(sku, 1)]))
    Order.unscoped.filter(pk=order.pk).update(
        created_at=datetime(2025, 6, 8, 16, 30, tzinfo=UTC), paid_at=datetime(2025, 6, 8, 16, 45, 5, tzinfo=UTC)
    )

    [row] = export(ops)[1]
    assert (row["created_at"], row["paid_at"]) == ("2025-06-09 00:30:00", "2025-06-09 00:45:05")  # Asia/Shanghai

    Brand.objects.filter(pk=brand.pk).update(timezone="Europe/London")
    [row] = export(ops)[1]
    assert (row["created_at"], row["paid_at"]) == ("2025-06-08 17:30:00", "2025-06-08 17:45:05")


def test_an_unpaid_order_exports_an_empty_payment_time(ops, customer, sku):
    place_order(customer, [(sku, 1)])
    [row] = export(ops)[1]
    assert row["paid_at"] == "" and row["status"] == "pending_payment"


@pytest.mark.parametrize(
    "query, expected",
    [
        (lambda b: "status=shipped", ["shipped"]),
        (lambda b: f"room={b['room'].pk}", ["pending", "guided"]),
        (lambda b: "created_after=2025-06-03T00:00:00Z", ["shipped", "guided"]),
        (lambda b: f"guide={b['guided'].guide_id}", ["guided"]),
        (lambda b: f"store={b['guided'].store_id}", ["guided"]),
    ],
    ids=["status", "room", "date", "guide", "store"],
)
def test_the_export_applies_the_lists_filters(ops, book, query, expected):
    _, rows = export(ops, query(book))
    assert sorted(row["order_number"] for row in rows) == sorted(book[name].number for name in expected)


def test_a_malformed_export_filter_is_400(ops, book):
    assert_error(ops.get(f"{EXPORT}?status=lost"), 400, "invalid")


def test_an_empty_export_is_only_the_header(ops):
    _, rows = export(ops)
    assert rows == []


# --- the admin -----------------------------------------------------------------------------------


def admin_client(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin(operator):
    return admin_client(operator)


@pytest.fixture
def rival_admin(other_brand, make_staff):
    return admin_client(make_staff(other_brand, Membership.Role.OPERATOR))


@pytest.fixture
def admin_book(customer, rival_customer, sku, other_brand):
    mine = pay_order(place_order(customer, [(sku, 1)]))
    payment_services.refund_request(brand=mine.brand, order=mine, customer=customer)
    rival_sku = create_sku(other_brand)
    theirs = pay_order(place_order(rival_customer, [(rival_sku, 1)]))
    payment_services.refund_request(brand=theirs.brand, order=theirs, customer=rival_customer)
    return {
        "mine": mine,
        "theirs": theirs,
        "my_sale": create_flash_sale(sku, title="MINE-SALE"),
        "their_sale": create_flash_sale(rival_sku, title="THEIR-SALE"),
    }


def listed(client, url):
    response = client.get(url)
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].result_list}


def test_the_admin_lists_only_this_brands_orders_refunds_and_flash_sales(admin, admin_book):
    mine, theirs = admin_book["mine"], admin_book["theirs"]
    assert listed(admin, "/admin/commerce/order/") == {mine.pk}
    assert listed(admin, "/admin/commerce/refund/") == {Refund.unscoped.get(order=mine).pk}
    assert listed(admin, "/admin/commerce/flashsale/") == {admin_book["my_sale"].pk}
    assert listed(admin, f"/admin/commerce/order/?q={theirs.number}") == set()
    assert listed(admin, f"/admin/commerce/order/?q={mine.number}") == {mine.pk}


def test_the_admin_shows_an_order_with_its_lines_and_events(admin, admin_book):
    page = admin.get(f"/admin/commerce/order/{admin_book['mine'].pk}/change/")
    assert page.status_code == 200
    inlines = [formset.opts.model.__name__ for formset in page.context["inline_admin_formsets"]]
    assert inlines == ["OrderLine", "OrderEvent"]
    assert "Coat" in page.content.decode()


def test_the_platform_operator_sees_an_order_with_its_lines_and_events(make_staff, admin_book):
    root = admin_client(make_staff(username="root", is_superuser=True, is_staff=True))
    page = root.get(f"/admin/commerce/order/{admin_book['theirs'].pk}/change/")
    assert page.status_code == 200
    inlines = [formset.opts.model.__name__ for formset in page.context["inline_admin_formsets"]]
    assert inlines == ["OrderLine", "OrderEvent"]
    assert "refunding" in page.content.decode()


def test_another_brands_objects_are_not_found_in_the_admin(admin, admin_book):
    theirs = admin_book["theirs"]
    their_refund = Refund.unscoped.get(order=theirs)
    for url in (
        f"/admin/commerce/order/{theirs.pk}/change/",
        f"/admin/commerce/refund/{their_refund.pk}/change/",
        f"/admin/commerce/flashsale/{admin_book['their_sale'].pk}/change/",
    ):
        assert admin.get(url).status_code == 302  # "does not exist" redirect, as for any unknown id


def test_admin_actions_do_not_reach_another_brands_objects(admin, admin_book):
    theirs = admin_book["theirs"]
    their_refund = Refund.unscoped.get(order=theirs)
    admin.post("/admin/commerce/refund/", {"action": "approve", "_selected_action": [their_refund.pk]})
    admin.post("/admin/commerce/refund/", {"action": "reject", "_selected_action": [their_refund.pk]})
    admin.post("/admin/commerce/order/", {"action": "cancel_unpaid", "_selected_action": [theirs.pk]})
    assert reload(their_refund).status == "requested" and reload(theirs).status == "refunding"


def test_the_admin_approves_refunds_through_the_service(admin, admin_book, operator):
    refund = Refund.unscoped.get(order=admin_book["mine"])
    admin.post("/admin/commerce/refund/", {"action": "approve", "_selected_action": [refund.pk]})
    refund = reload(refund)
    assert (refund.status, refund.decided_by_id) == ("succeeded", operator.pk)
    assert reload(admin_book["mine"]).status == "refunded"


def test_the_admin_cancels_unpaid_orders_and_reports_the_others(admin, customer, sku):
    unpaid = place_order(customer, [(sku, 2)])
    paid = pay_order(place_order(customer, [(sku, 1)]))

    response = admin.post(
        "/admin/commerce/order/", {"action": "cancel_unpaid", "_selected_action": [unpaid.pk, paid.pk]}, follow=True
    )

    assert (reload(unpaid).status, reload(paid).status) == ("cancelled", "paid")
    assert reload(sku).stock == 9
    assert "Cannot cancel an order that is paid" in response.content.decode()
    last = OrderEvent.unscoped.filter(order=unpaid).last()
    assert (last.to_status, last.actor, last.reason) == ("cancelled", "staff", "cancelled by the brand")


def test_the_admin_cannot_add_or_delete_orders(admin, customer, sku):
    order = place_order(customer, [(sku, 1)])
    assert admin.get("/admin/commerce/order/add/").status_code == 403
    assert admin.post(f"/admin/commerce/order/{order.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Order.unscoped.filter(pk=order.pk).exists()


def test_the_platform_operator_sees_every_brands_orders(make_staff, admin_book):
    root = admin_client(make_staff(username="root", is_superuser=True, is_staff=True))
    assert listed(root, "/admin/commerce/order/") == {admin_book["mine"].pk, admin_book["theirs"].pk}
