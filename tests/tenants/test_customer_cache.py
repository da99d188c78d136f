"""tenants.auth remembers verified tokens (until they expire) and customer rows (for
CUSTOMER_CACHE_SECONDS) per process: one query at most per customer per window, and a suspended
brand refused within that window (at once by the process that suspended it)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework_simplejwt.exceptions import InvalidToken

from conftest import assert_error
from tenants import auth
from tenants.auth import CustomerAccessToken, customer_from_token
from tenants.models import Brand
from tenants.services import brand_suspend

pytestmark = pytest.mark.django_db


@pytest.fixture
def remembering(settings):
    settings.CUSTOMER_CACHE_SECONDS = 5
    auth.forget_customers()


def test_a_customer_is_read_once_per_window_and_built_fresh_for_each_request(
    brand, make_customer, remembering, django_assert_num_queries
):
    token = str(CustomerAccessToken.for_customer(make_customer(brand)))
    with django_assert_num_queries(1):
        first = customer_from_token(token)
    with django_assert_num_queries(0):
        second = customer_from_token(token)
    assert first == second and first is not second and first.brand is not second.brand
    first.nickname = "changed by one request"
    assert customer_from_token(token).nickname != "changed by one request"


def test_a_suspended_brand_is_refused_once_its_row_is_read_again(brand, make_customer, customer_client, remembering):
    client = customer_client(make_customer(brand))
    assert client.get("/api/v1/mp/orders").status_code == 200
    Brand.objects.filter(pk=brand.pk).update(status=Brand.Status.SUSPENDED)  # as another process would

    assert client.get("/api/v1/mp/orders").status_code == 200  # remembered: within the window
    with time_machine.travel(timezone.now() + timedelta(seconds=6)):
        assert_error(client.get("/api/v1/mp/orders"), 403, "brand_suspended")


def test_the_process_that_suspends_a_brand_refuses_it_at_once(
    brand, make_customer, customer_client, remembering, django_capture_on_commit_callbacks
):
    client = customer_client(make_customer(brand))
    assert client.get("/api/v1/mp/orders").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        brand_suspend(brand=brand, reason="test")
    assert_error(client.get("/api/v1/mp/orders"), 403, "brand_suspended")


def test_a_remembered_token_is_refused_once_it_expires(brand, make_customer, remembering):
    token = CustomerAccessToken.for_customer(make_customer(brand))
    customer_from_token(str(token))
    with time_machine.travel(timezone.now() + timedelta(hours=3)), pytest.raises(InvalidToken):
        customer_from_token(str(token))


def test_a_token_naming_another_brand_for_a_remembered_customer_is_refused(
    brand, other_brand, make_customer, remembering
):
    customer = make_customer(brand)
    customer_from_token(str(CustomerAccessToken.for_customer(customer)))
    forged = CustomerAccessToken.for_customer(customer)
    forged["brand_id"] = other_brand.pk
    with pytest.raises(InvalidToken):
        customer_from_token(str(forged))


def test_a_brand_is_remembered_with_its_customers_and_alone(
    brand, make_customer, remembering, django_assert_num_queries
):
    token = str(CustomerAccessToken.for_customer(make_customer(brand)))
    customer_from_token(token)
    with django_assert_num_queries(0):
        assert auth.remembered_brand(brand.pk) == brand
    auth.forget_customers()
    with django_assert_num_queries(1):
        assert auth.remembered_brand(brand.pk) == brand
    with django_assert_num_queries(0):
        remembered = auth.remembered_brand(brand.pk)
    assert remembered is not auth.remembered_brand(brand.pk)  # built fresh for each request
    with django_assert_num_queries(1):
        assert auth.remembered_brand(10**9) is None


def test_a_token_customer_names_the_ids_and_loads_the_row_only_when_asked(
    brand, make_customer, remembering, django_assert_num_queries
):
    customer = make_customer(brand)
    with django_assert_num_queries(0):
        named = auth.token_customer(str(CustomerAccessToken.for_customer(customer)))
    assert (named.pk, named.brand_id) == (customer.pk, brand.pk)
    assert named.load() == customer
    assert auth.token_customer("not-a-token") is None
