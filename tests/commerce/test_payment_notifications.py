"""POST /api/v1/payments/notify/wechatpay with notifications the sandbox signs and encrypts exactly as
WeChat Pay does: paid once however often delivered, 401 and nothing changed for anything untrusted,
a payment that can no longer be honoured refunded automatically, refunds settled once."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from commerce.models import Order, OrderEvent, Payment, Refund
from commerce.payments import RefundResult, SandboxPayProvider, payment_provider, protocol
from commerce.payments.sandbox import SandboxKeys
from commerce.services import orders as order_services
from commerce.services import payments as payment_services
from tests.commerce.conftest import (
    NOTIFY,
    commerce_rows,
    notify_paid,
    pay_order,
    place_order,
    reload,
    start_payment,
)

pytestmark = pytest.mark.django_db


def deliver(headers, body):
    """What WeChat Pay's servers do: POST the raw bytes with the Wechatpay-* headers."""
    return Client().post(NOTIFY, data=body, content_type="application/json", headers=headers)


def assert_refused(response):
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "FAIL"


def paid_events(order):
    return OrderEvent.unscoped.filter(order=order, to_status="paid").count()


@pytest.fixture
def order(customer, sku):
    """An order of 2 coats (200.00 yuan) whose customer has started paying."""
    order = place_order(customer, [(sku, 2)])
    start_payment(order)
    return order


@pytest.fixture
def payment(order):
    return Payment.unscoped.get(order=order)


# --- paid once -----------------------------------------------------------------------------------


def test_a_payment_notification_pays_the_order(order, payment, customer):
    response = deliver(*notify_paid(order))

    assert response.status_code == 204
    order, payment = reload(order), reload(payment)
    assert order.status == "paid" and order.paid_at == payment.paid_at
    assert (payment.status, payment.transaction_id) == ("paid", f"sbx_tx_{payment.out_trade_no}")
    assert reload(customer).first_paid_at == payment.paid_at
    assert paid_events(order) == 1


def test_a_notification_delivered_twice_pays_once(order, payment, customer):
    headers, body = notify_paid(order)
    assert deliver(headers, body).status_code == 204
    after_first = commerce_rows()

    assert deliver(headers, body).status_code == 204  # the same bytes again
    assert deliver(*notify_paid(order)).status_code == 204  # a fresh delivery of the same payment

    assert commerce_rows() == after_first
    assert paid_events(order) == 1 and not Refund.unscoped.exists()


def test_a_customer_who_paid_before_keeps_the_first_payment_time(brand, customer, sku):
    first = pay_order(place_order(customer, [(sku, 1)]))
    first_paid_at = reload(customer).first_paid_at
    pay_order(place_order(customer, [(sku, 1)]))
    assert reload(customer).first_paid_at == first_paid_at == first.paid_at


# --- untrusted notifications: 401 and nothing changes ------------------------------------------------


def resign(headers, body):
    """Headers carrying a valid sandbox-platform signature over ``body`` (for tampered resources)."""
    keys = payment_provider().keys
    message = protocol.signing_message(headers["Wechatpay-Timestamp"], headers["Wechatpay-Nonce"], body)
    return {**headers, "Wechatpay-Signature": protocol.sign(keys.platform_private_key, message)}


def tamper_ciphertext(body):
    envelope = json.loads(body)
    ciphertext = envelope["resource"]["ciphertext"]
    envelope["resource"]["ciphertext"] = ("A" if ciphertext[0] != "A" else "B") + ciphertext[1:]
    return json.dumps(envelope).encode()


def paid_trade(order):
    payment = Payment.unscoped.get(order=order)
    return payment.out_trade_no, payment.amount, order.customer.openid, order.brand.appid


def stale(order):
    provider = payment_provider()
    past = SandboxPayProvider(provider.keys, clock=lambda: protocol.utc_now() - timedelta(minutes=5, seconds=1))
    payment = Payment.unscoped.get(order=order)
    return past.payment_notification(payment.out_trade_no, payment.amount, order.customer.openid, order.brand.appid)


def foreign_key(order):
    payment = Payment.unscoped.get(order=order)
    impostor = SandboxPayProvider(SandboxKeys.generate())
    return impostor.payment_notification(payment.out_trade_no, payment.amount, order.customer.openid, order.brand.appid)


UNTRUSTED = {
    "body_changed_after_signing": lambda o: (lambda h, b: (h, b.replace(b'"id": "', b'"id": "x')))(*notify_paid(o)),
    "signature_of_another_body": lambda o: (notify_paid(o)[0], notify_paid(o)[1]),
    "no_signature": lambda o: (lambda h, b: ({k: v for k, v in h.items() if k != "Wechatpay-Signature"}, b))(
        *notify_paid(o)
    ),
    "no_timestamp": lambda o: (lambda h, b: ({k: v for k, v in h.items() if k != "Wechatpay-Timestamp"}, b))(
        *notify_paid(o)
    ),
    "unknown_serial": lambda o: (lambda h, b: ({**h, "Wechatpay-Serial": "PUB_KEY_ID_0000"}, b))(*notify_paid(o)),
    "other_signature_type": lambda o: (lambda h, b: ({**h, "Wechatpay-Signature-Type": "WECHATPAY2-SM2"}, b))(
        *notify_paid(o)
    ),
    "signature_probe": lambda o: payment_provider().probe_notification(),
    "five_minutes_old": stale,
    "signed_with_another_key": foreign_key,
    "ciphertext_tampered_and_resigned": lambda o: (
        lambda h, b: (resign(h, tamper_ciphertext(b)), tamper_ciphertext(b))
    )(*notify_paid(o)),
    "unknown_trade_number": lambda o: payment_provider().payment_notification(
        "NOSUCHTRADE123", 20000, "o1", o.brand.appid
    ),
    "amount_does_not_match": lambda o: notify_paid(o, amount=1),
    "another_merchant": lambda o: payment_provider().payment_notification(*paid_trade(o), mchid="1900000999"),
    "another_brands_mini_program": lambda o: payment_provider().payment_notification(
        *paid_trade(o)[:3], "wxanother0000001"
    ),
    "not_json": lambda o: (lambda h, b: (resign(h, b"not json"), b"not json"))(*notify_paid(o)),
}


@pytest.mark.parametrize("case", UNTRUSTED)
def test_an_untrusted_or_mismatched_notification_is_401_and_changes_nothing(case, order):
    headers, body = UNTRUSTED[case](order)
    before = commerce_rows()

    assert_refused(deliver(headers, body))

    assert commerce_rows() == before
    assert reload(order).status == "pending_payment"


def test_the_endpoint_takes_only_post(order):
    assert Client().get(NOTIFY).status_code == 405
    assert reload(order).status == "pending_payment"


def test_a_refused_notification_can_be_delivered_again_correctly(order):
    headers, body = notify_paid(order)
    assert_refused(deliver({**headers, "Wechatpay-Nonce": "X" + headers["Wechatpay-Nonce"]}, body))
    assert deliver(headers, body).status_code == 204
    assert reload(order).status == "paid"


# --- payments that can no longer be honoured ---------------------------------------------------------


def expire(order):
    Order.unscoped.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert order_services.orders_expire() == 1


def test_a_payment_after_expiry_is_refunded_automatically_and_the_order_stays_cancelled(order, payment, sku):
    expire(order)
    assert reload(payment).status == "closed" and reload(sku).stock == 10

    response = deliver(*notify_paid(order))

    assert response.status_code == 204
    assert reload(order).status == "cancelled" and reload(sku).stock == 10
    assert reload(payment).status == "paid"  # the money did arrive…
    refund = Refund.unscoped.get(order=order)  # …and goes straight back, whole
    assert (refund.payment_id, refund.amount, refund.lines, refund.status) == (payment.pk, 20000, [], "succeeded")
    assert refund.order_status_before == "cancelled"
    assert reload(order).refunded_total == 0  # the order itself took no money
    assert paid_events(order) == 0


def test_a_late_payment_delivered_twice_is_refunded_once(order, payment):
    expire(order)
    headers, body = notify_paid(order)
    deliver(headers, body)
    after_first = commerce_rows()

    assert deliver(headers, body).status_code == 204
    assert deliver(*notify_paid(order)).status_code == 204

    assert commerce_rows() == after_first
    assert Refund.unscoped.filter(order=order).count() == 1


def test_a_second_payment_of_a_paid_order_goes_back(order, payment, customer):
    second = start_payment(reload(order))  # the customer opened the payment sheet twice and paid both
    assert deliver(*notify_paid(order, payment)).status_code == 204
    assert deliver(*notify_paid(order, second)).status_code == 204

    order = reload(order)
    assert order.status == "paid" and order.refunded_total == 0 and paid_events(order) == 1
    refund = Refund.unscoped.get(order=order)
    assert (refund.payment_id, refund.amount, refund.status, refund.order_status_before) == (
        second.pk,
        20000,
        "succeeded",
        "paid",
    )


def test_a_payment_inside_the_window_is_honoured_even_if_expiry_has_not_run(order):
    Order.unscoped.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert deliver(*notify_paid(order)).status_code == 204
    assert reload(order).status == "paid"
    assert order_services.orders_expire() == 0
    assert reload(order).status == "paid" and not Refund.unscoped.exists()


# --- refund notifications ------------------------------------------------------------------------------


@pytest.fixture
def provider_answers_processing(monkeypatch):
    """WeChat Pay accepts refunds and reports the outcome later, by notification."""
    provider = payment_provider()
    monkeypatch.setattr(provider, "refund", lambda request: RefundResult("PROCESSING", f"wx_{request.out_refund_no}"))
    return provider


@pytest.fixture
def processing_refund(order, customer, operator, provider_answers_processing):
    pay_order(order)
    refund = payment_services.refund_request(brand=order.brand, order=reload(order), customer=customer)
    refund = payment_services.refund_approve(brand=order.brand, refund=refund, staff=operator)
    assert refund.status == "processing" and reload(order).status == "refunding"
    return refund


def refund_notification(refund, status="SUCCESS", **fields):
    payment = Payment.unscoped.get(order_id=refund.order_id, status="paid")
    return payment_provider().refund_notification(
        payment.out_trade_no, refund.out_refund_no, refund.amount, payment.amount, status=status, **fields
    )


def test_a_refund_success_notification_settles_the_refund_once(processing_refund, order, sku):
    assert reload(sku).stock == 8
    headers, body = refund_notification(processing_refund)

    assert deliver(headers, body).status_code == 204
    after_first = commerce_rows()
    assert deliver(headers, body).status_code == 204
    assert deliver(*refund_notification(processing_refund)).status_code == 204

    assert commerce_rows() == after_first
    refund, order = reload(processing_refund), reload(order)
    assert refund.status == "succeeded" and refund.succeeded_at is not None
    assert refund.provider_refund_id == f"wx_{refund.out_refund_no}"
    assert (order.status, order.refunded_total) == ("refunded", 20000)
    assert reload(sku).stock == 10  # back once


@pytest.mark.parametrize("outcome", ["CLOSED", "ABNORMAL"])
def test_a_failed_refund_returns_the_order_to_where_it_was(outcome, processing_refund, order, sku):
    assert deliver(*refund_notification(processing_refund, outcome)).status_code == 204

    assert reload(processing_refund).status == "failed"
    order = reload(order)
    assert (order.status, order.refunded_total) == ("paid", 0)
    assert reload(sku).stock == 8
    last = OrderEvent.unscoped.filter(order=order).last()
    assert (last.from_status, last.to_status, last.actor) == ("refunding", "paid", "payment")


def test_a_refund_notification_after_the_refund_failed_changes_nothing(processing_refund, order):
    deliver(*refund_notification(processing_refund, "CLOSED"))
    before = commerce_rows()
    assert deliver(*refund_notification(processing_refund, "SUCCESS")).status_code == 204
    assert commerce_rows() == before


def test_a_refund_notification_for_an_undecided_refund_changes_nothing(order, customer, provider_answers_processing):
    pay_order(order)
    refund = payment_services.refund_request(brand=order.brand, order=reload(order), customer=customer)
    before = commerce_rows()

    assert deliver(*refund_notification(refund)).status_code == 204

    assert commerce_rows() == before and reload(refund).status == "requested"


def test_an_unknown_refund_number_is_401(processing_refund):
    payment = Payment.unscoped.get(order_id=processing_refund.order_id, status="paid")
    before = commerce_rows()
    assert_refused(deliver(*payment_provider().refund_notification(payment.out_trade_no, "RNOSUCH", 1, 20000)))
    assert commerce_rows() == before


def test_a_refund_notification_of_another_merchant_is_401(processing_refund):
    before = commerce_rows()
    assert_refused(deliver(*refund_notification(processing_refund, mchid="1900000999")))
    assert commerce_rows() == before and reload(processing_refund).status == "processing"


def test_a_tampered_refund_notification_is_401(processing_refund):
    headers, body = refund_notification(processing_refund)
    before = commerce_rows()
    assert_refused(deliver(headers, body.replace(b'"id": "', b'"id": "y')))
    assert commerce_rows() == before and reload(processing_refund).status == "processing"


def test_an_automatic_refund_waiting_at_the_provider_settles_by_notification(
    order, payment, provider_answers_processing
):
    expire(order)
    deliver(*notify_paid(order))
    refund = Refund.unscoped.get(order=order)
    assert refund.status == "processing"

    assert (
        deliver(
            *payment_provider().refund_notification(payment.out_trade_no, refund.out_refund_no, 20000, 20000)
        ).status_code
        == 204
    )

    assert reload(refund).status == "succeeded"
    assert reload(order).status == "cancelled" and reload(order).refunded_total == 0
