"""Settlement under real parallel connections (PostgreSQL only): two runs at once settle each
commission exactly once."""

import threading

import pytest
from django.db import connection
from django.db.models import Sum

from commerce.payments.transfers import SandboxTransferClient
from guides.models import CommissionEntry, Settlement
from guides.services import commission, settlement
from tenants.scoping import brand_scope
from tests.commerce.conftest import create_sku
from tests.guides.conftest import buy, complete, make_guide, make_store, share

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs real parallel connections"),
    pytest.mark.django_db(transaction=True),
]


def test_two_settlement_runs_at_once_pay_each_guide_once(brand, make_customer, monkeypatch):
    SandboxTransferClient.reset()
    monkeypatch.setattr("guides.poster.fetch_image", lambda url: None)
    with brand_scope(brand):
        commission.policy_set(brand=brand, default_rate_bp=1000, leader_rate_bp=0)
    store = make_store(brand)
    guides = [make_guide(brand, f"g{n}", store=store) for n in range(4)]
    sku = create_sku(brand, price=10000, stock=100)
    for guide in guides:
        scene = share(brand, guide, "product", sku.product.pk).scene
        for _ in range(3):
            complete(buy(make_customer(brand), sku, scene=scene), days_ago=30)

    start = threading.Barrier(2)
    crashes = []

    def run():
        try:
            start.wait()
            settlement.settlements_run()
        except Exception as exc:  # surfaced by the assertion below
            crashes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert crashes == []
    for guide in guides:
        [paid] = Settlement.unscoped.filter(guide=guide)
        assert (paid.status, paid.amount, paid.entry_count) == ("paid", 3000, 3)
        assert CommissionEntry.unscoped.filter(guide=guide).aggregate(total=Sum("amount"))["total"] == 0
    assert len(SandboxTransferClient.bills) == len(guides)
    assert not CommissionEntry.unscoped.filter(kind="accrue", settlement__isnull=True).exists()
