"""tenants.auth.customer_claims: a customer token verified once per process, its expiry checked every time."""

from datetime import timedelta

import time_machine
from django.utils import timezone

from tenants import auth
from tenants.auth import CustomerAccessToken, customer_claims


def test_a_valid_token_answers_its_customer_and_brand_and_is_remembered(brand, make_customer):
    customer = make_customer(brand)
    raw = str(CustomerAccessToken.for_customer(customer))
    assert customer_claims(raw) == (customer.pk, brand.pk)
    assert raw in auth._remembered.tokens
    assert customer_claims(raw) == (customer.pk, brand.pk)


def test_a_remembered_token_is_refused_once_it_expires(brand, make_customer):
    raw = str(CustomerAccessToken.for_customer(make_customer(brand)))
    assert customer_claims(raw) is not None
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        assert customer_claims(raw) is None


def test_a_forged_or_foreign_token_is_refused(brand, make_customer, make_staff):
    raw = str(CustomerAccessToken.for_customer(make_customer(brand)))
    header, payload, signature = raw.split(".")
    assert customer_claims(f"{header}.{payload}.{signature[:-2]}xx") is None
    assert customer_claims("not-a-token") is None
    from tenants.auth import staff_tokens

    assert customer_claims(staff_tokens(make_staff(brand))["access"]) is None  # not a customer token
