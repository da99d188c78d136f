"""The hook registry (tenants.hooks): every hook a lower app announces, with its typed payload and
the higher apps' subscribers, listed once, in the README too; announcing runs them at the declared
moment, and only with the declared payload."""

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import transaction

from tenants import hooks

EXPECTED = {
    "order paid": ["coupons.services.on_order_paid", "guides.services.commission.on_order_paid"],
    "order refunded": ["guides.services.commission.on_order_refunded"],
    "order cancelled": ["coupons.services.on_order_cancelled"],
    "products changed": ["livestream.room_state.on_products_changed"],
}


def test_the_catalogue_lists_every_hook_with_its_owner_payload_and_subscribers():
    listed = {entry["name"]: entry for entry in hooks.catalogue()}
    assert set(EXPECTED) <= set(listed)
    for name, subscribers in EXPECTED.items():
        assert sorted(listed[name]["subscribers"]) == sorted(subscribers), name
        assert listed[name]["owner"] == "commerce"
    assert listed["order paid"]["payload"] == {"order": "Order", "paid_at": "datetime"}


def test_the_readme_lists_each_hook_and_its_subscribers():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for entry in hooks.catalogue():
        row = next((line for line in readme.splitlines() if line.startswith(f"| {entry['name']} |")), None)
        assert row is not None, f"README: no row for hook {entry['name']!r}"
        for subscriber in entry["subscribers"]:
            assert subscriber in row, f"README: {subscriber} missing from {entry['name']!r}"


@dataclass(frozen=True)
class Ping:
    n: int


@pytest.fixture
def scratch(monkeypatch):
    monkeypatch.setattr(hooks, "_REGISTRY", dict(hooks._REGISTRY))
    return lambda when: hooks.define(f"ping {when}", owner="tests", payload=Ping, when=when, doc="test")


def test_an_in_transaction_hook_runs_its_subscribers_at_once_in_order(scratch):
    hook, seen = scratch(hooks.IN_TRANSACTION), []
    hook.subscribe(lambda p: seen.append(("a", p.n)))
    hook.subscribe(lambda p: seen.append(("b", p.n)))
    hook.announce(Ping(1))
    assert seen == [("a", 1), ("b", 1)]


@pytest.mark.django_db
def test_an_on_commit_hook_waits_for_the_commit_and_skips_a_rollback(scratch, django_capture_on_commit_callbacks):
    hook, seen = scratch(hooks.ON_COMMIT), []
    hook.subscribe(lambda p: seen.append(p.n))
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        hook.announce(Ping(1))
        assert seen == []
    assert seen == [1]
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        hook.announce(Ping(2))
        raise RuntimeError
    assert seen == [1]


def test_the_payload_is_the_declared_type_and_names_are_unique(scratch):
    hook = scratch(hooks.IN_TRANSACTION)
    with pytest.raises(TypeError):
        hook.announce({"n": 1})
    with pytest.raises(ValueError):
        hooks.define(hook.name, owner="tests", payload=Ping, when=hooks.ON_COMMIT, doc="again")
    with pytest.raises(TypeError):
        hooks.define("untyped", owner="tests", payload=dict, when=hooks.ON_COMMIT, doc="no fields")


def test_a_subscriber_subscribes_once(scratch):
    hook = scratch(hooks.IN_TRANSACTION)

    def listener(p):
        return p

    hook.subscribe(listener)
    with pytest.raises(ValueError, match=re.escape("already subscribes")):
        hook.subscribe(listener)
