"""Commission per line with overrides and the leader's share; reversal on refund before and after
settlement; settlement after the return window, once; a failed transfer stays payable and visible."""

import pytest
from django.db.models import Sum

from commerce.models import OrderLine, Refund
from commerce.payments.transfers import SandboxTransferClient
from commerce.services.payments import refund_approve, refund_request
from guides.models import CommissionEntry, Guide, Settlement
from guides.selectors import commission_balances
from guides.services import commission, settlement
from tenants.scoping import brand_scope
from tests.commerce.conftest import create_sku
from tests.guides.conftest import buy, complete, make_guide, share

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(brand):
    with brand_scope(brand):
        commission.policy_set(brand=brand, default_rate_bp=500, leader_rate_bp=100)  # 5 %, leader 1 %


def entries(guide, **filters):
    return list(CommissionEntry.unscoped.filter(guide=guide, **filters).order_by("pk"))


def balance(brand, guide):
    with brand_scope(brand):
        return commission_balances(brand=brand, guide_ids=[guide.pk])[guide.pk]


def refund(order, line_quantities):
    lines = [{"line_id": line.pk, "quantity": quantity} for line, quantity in line_quantities]
    made = refund_request(brand=order.brand, order=order, customer=order.customer, lines=lines)
    refund_approve(brand=order.brand, refund=made)
    assert Refund.unscoped.get(pk=made.pk).status == "succeeded"


def test_a_paid_order_accrues_per_line_for_the_guide_and_the_leader(brand, make_customer, guide, leader, sku, rates):
    order = buy(make_customer(brand), sku, quantity=2, scene=share(brand, guide, "product", sku.product.pk).scene)
    [mine], [leaders] = entries(guide), entries(leader)
    assert (mine.kind, mine.role, mine.base_amount, mine.rate_bp, mine.amount) == ("accrue", "guide", 20000, 500, 1000)
    assert (leaders.role, leaders.amount, leaders.order_id) == ("leader", 200, order.pk)
    assert balance(brand, guide) == {"pending": 1000, "payable": 0, "in_settlement": 0, "settled": 0}


def test_the_most_specific_rule_wins(brand, make_customer, guide, rates):
    koc = make_guide(brand, "kiki", kind=Guide.Kind.KOC)
    coat = create_sku(brand, price=10000, stock=10, name="Coat")
    scarf = create_sku(brand, price=10000, stock=10, name="Scarf")
    plain = create_sku(brand, price=10000, stock=10, name="Plain")
    for s, category in ((coat, "outerwear"), (scarf, "accessories")):
        s.product.category = category
        s.product.save()
    with brand_scope(brand):
        commission.rule_create(brand=brand, category="outerwear", rate_bp=800)
        commission.rule_create(brand=brand, category="outerwear", guide_kind="koc", rate_bp=1200)
        commission.rule_create(brand=brand, product=coat.product, rate_bp=1000)
        commission.rule_create(brand=brand, product=coat.product, guide_kind="koc", rate_bp=1500)
        commission.rule_create(brand=brand, guide_kind="koc", rate_bp=300)
        commission.rule_create(brand=brand, category="accessories", rate_bp=700)
    for who, expected in ((guide, {coat: 1000, scarf: 700, plain: 500}), (koc, {coat: 1500, scarf: 700, plain: 300})):
        customer = make_customer(brand)
        for s in (coat, scarf, plain):
            buy(customer, s, scene=share(brand, who, "product", s.product.pk).scene)
        got = {e.order_line.sku_id: e.rate_bp for e in entries(who, role="guide")}
        assert got == {s.pk: rate for s, rate in expected.items()}


def test_commission_is_on_the_amount_paid_after_the_line_discount(brand, make_customer, guide, sku, rates):
    from tests.commerce.conftest import create_flash_sale

    sale = create_flash_sale(sku, price=6000, per_customer_limit=5)
    from tests.commerce.conftest import pay_order, place_order

    customer = make_customer(brand)
    order = place_order(
        customer, [(sku, 2, sale)], source=f"scene:{share(brand, guide, 'product', sku.product.pk).scene}"
    )
    pay_order(order)
    [mine] = entries(guide)
    assert (mine.base_amount, mine.amount) == (12000, 600)


def test_an_order_credited_to_nobody_accrues_nothing(brand, make_customer, sku, rates):
    buy(make_customer(brand), sku)
    assert not CommissionEntry.unscoped.exists()


def test_partial_refund_before_settlement_reverses_in_proportion_and_the_last_unit_takes_the_rest(
    brand, make_customer, guide, leader, rates
):
    sku = create_sku(brand, price=3333, stock=10)
    order = buy(make_customer(brand), sku, quantity=3, scene=share(brand, guide, "product", sku.product.pk).scene)
    [line] = OrderLine.unscoped.filter(order=order)
    [accrual] = entries(guide)
    assert accrual.amount == 499  # 9999 × 5 %

    refund(order, [(line, 1)])
    assert [(e.kind, e.amount) for e in entries(guide)] == [("accrue", 499), ("reverse", -166)]
    refund(order, [(line, 2)])
    assert sum(e.amount for e in entries(guide)) == 0
    assert sum(e.amount for e in entries(leader)) == 0
    assert {e.kind for e in entries(guide)} == {"accrue", "reverse"}


def test_settlement_pays_only_after_completion_and_the_return_window(brand, make_customer, guide, sku, rates):
    order = buy(make_customer(brand), sku, scene=share(brand, guide, "product", sku.product.pk).scene)
    assert settlement.settlements_run() == 0  # paid, not completed
    order = complete(order, days_ago=brand.return_window_days - 1)
    assert settlement.settlements_run() == 0  # inside the return window
    assert balance(brand, guide)["pending"] == 500

    complete_long_ago = order.completed_at.replace(year=order.completed_at.year - 1)
    type(order).unscoped.filter(pk=order.pk).update(completed_at=complete_long_ago)
    assert settlement.settlements_run() >= 1
    [paid] = Settlement.unscoped.filter(guide=guide)
    assert (paid.status, paid.amount, paid.entry_count) == ("paid", 500, 1)
    [(request, result)] = [b for b in SandboxTransferClient.bills.values() if b[0].openid == guide.openid]
    assert (request.amount, request.out_bill_no, result.state) == (500, paid.out_bill_no, "SUCCESS")
    assert balance(brand, guide) == {"pending": 0, "payable": 0, "in_settlement": 0, "settled": 500}

    settlement.settlements_run()  # again: nothing more
    assert Settlement.unscoped.filter(guide=guide).count() == 1


def test_a_refund_after_settlement_is_a_negative_adjustment_carried_into_the_next_one(
    brand, make_customer, guide, rates
):
    sku = create_sku(brand, price=10000, stock=10)
    scene = share(brand, guide, "product", sku.product.pk).scene
    customer = make_customer(brand)
    first = complete(buy(customer, sku, quantity=2, scene=scene), days_ago=30)
    settlement.settlements_run()
    assert balance(brand, guide)["settled"] == 1000

    refund(first, [(OrderLine.unscoped.get(order=first), 1)])
    [adjustment] = entries(guide, kind="adjust")
    assert adjustment.amount == -500 and adjustment.settlement_id is None
    assert balance(brand, guide)["payable"] == -500
    assert settlement.settlements_run() == 0  # a debt alone is not paid out

    complete(buy(customer, sku, quantity=3, scene=scene), days_ago=30)  # 1500 more
    settlement.settlements_run()
    latest = Settlement.unscoped.filter(guide=guide).order_by("-pk").first()
    assert latest.amount == 1000 and latest.status == "paid"
    total = CommissionEntry.unscoped.filter(guide=guide).aggregate(total=Sum("amount"))["total"]
    assert total == 0 and balance(brand, guide)["settled"] == 2000


def test_a_failed_transfer_leaves_the_amount_payable_and_the_failure_visible(
    brand, make_customer, guide, sku, rates, console
):
    SandboxTransferClient.failing_openids.add(guide.openid)
    complete(buy(make_customer(brand), sku, scene=share(brand, guide, "product", sku.product.pk).scene), days_ago=30)
    settlement.settlements_run()
    [failed] = Settlement.unscoped.filter(guide=guide)
    assert failed.status == "failed" and failed.failure_reason == "PAYEE_ACCOUNT_ABNORMAL"
    assert balance(brand, guide)["payable"] == 500
    listed = console.get("/api/v1/console/settlements?status=failed").json()["results"]
    assert [(s["id"], s["failure_reason"]) for s in listed] == [(failed.pk, "PAYEE_ACCOUNT_ABNORMAL")]

    SandboxTransferClient.failing_openids.clear()
    response = console.post("/api/v1/console/settlements/run", {"guide_id": guide.pk})
    assert response.status_code == 200 and response.json()["settlement"]["status"] == "paid"
    assert balance(brand, guide) == {"pending": 0, "payable": 0, "in_settlement": 0, "settled": 500}


def test_a_guide_without_openid_fails_visibly_and_keeps_the_money_payable(brand, make_customer, sku, rates):
    nobody = make_guide(brand, "noid", openid="")
    complete(buy(make_customer(brand), sku, scene=share(brand, nobody, "product", sku.product.pk).scene), days_ago=30)
    settlement.settlements_run()
    [failed] = Settlement.unscoped.filter(guide=nobody)
    assert failed.status == "failed" and "openid" in failed.failure_reason
    assert balance(brand, nobody)["payable"] == 500


def test_a_transfer_whose_answer_was_lost_is_asked_again_under_the_same_number(
    brand, make_customer, guide, sku, rates, monkeypatch
):
    from tenants.errors import UpstreamError

    complete(buy(make_customer(brand), sku, scene=share(brand, guide, "product", sku.product.pk).scene), days_ago=30)

    def lost(self, request):
        raise UpstreamError("payment_unavailable", "timeout")

    with monkeypatch.context() as patch:
        patch.setattr(SandboxTransferClient, "transfer", lost)
        settlement.settlements_run()
    [pending] = Settlement.unscoped.filter(guide=guide)
    assert (pending.status, pending.transfer_state) == ("processing", "UNKNOWN")
    assert balance(brand, guide)["in_settlement"] == 500

    Settlement.unscoped.filter(pk=pending.pk).update(created_at=pending.created_at.replace(year=2020))
    settlement.settlements_run()
    [paid] = Settlement.unscoped.filter(guide=guide)
    assert paid.status == "paid" and list(SandboxTransferClient.bills) == [pending.out_bill_no]
