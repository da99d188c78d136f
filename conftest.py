"""Fixtures shared by every test: brands, principals and API clients for each audience.

``SIYU_TEST_CLOCK=2026-12-04T16:05Z`` runs the whole suite on a clock that starts at that instant
and ticks (time-machine): how CI proves the tests pass just after midnight in Asia/Shanghai, when
"today" in the brand's zone is not today in UTC.
"""

import os

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from config.celery import app as celery_app
from tenants.auth import CustomerAccessToken, forget_customers, staff_tokens
from tenants.models import Brand, Customer, Membership

if os.environ.get("SIYU_TEST_CLOCK"):
    time_machine.travel(os.environ["SIYU_TEST_CLOCK"], tick=True).start()

celery_app.conf.task_always_eager = True
celery_app.conf.task_eager_propagates = True


def clear_cache():
    """Empty this test process's cache without touching other xdist workers' keys on Redis."""
    from django.core.cache import cache

    if settings.REDIS_URL:
        client = cache._cache.get_client(write=True)
        keys = list(client.scan_iter(match=f"{settings.REDIS_KEY_PREFIX}:*", count=1000))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()
        from livestream import realtime

        realtime.reset_store()  # the live store in this process, empty as Redis's keys are above


@pytest.fixture(autouse=True, scope="session")
def _error_answers_are_documented():
    """An API error that its OpenAPI operation does not list fails the test (tests/contract_errors.py)."""
    from tests.contract_errors import install

    install()


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_cache()
    yield


@pytest.fixture(autouse=True)
def _close_consumer_connections():
    """Close the database connections a test's consumers left open. Channels' test communicator
    turns ``close_old_connections`` off while it runs the app (so a test's transaction survives),
    so what ``database_sync_to_async`` opened for a consumer stays open in asgiref's one worker
    thread until a later call closes it — or until PostgreSQL refuses to drop the test database
    ("being accessed by other users")."""
    yield
    from asgiref.sync import SyncToAsync
    from django.db import connections

    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=30)


@pytest.fixture(autouse=True)
def _customers_read_each_time(settings):
    """Tests change customers and brands between requests and expect the next request to see it:
    tenants.auth remembers none (tests/tenants/test_customer_cache.py tests it remembering)."""
    settings.CUSTOMER_CACHE_SECONDS = 0
    forget_customers()


@pytest.fixture(autouse=True)
def _english(settings):
    """The tests that read pages read them in English (the admin's default is Chinese: the tests of
    that, tests/tenants/test_admin_i18n.py and tests/browser/test_admin.py, ask for it)."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def make_brand(db):
    def make(slug="acme", **fields):
        defaults = {"name": slug.title(), "appid": f"wx{slug.replace('-', '')[:10]:0<10}test"}
        return Brand.objects.create(slug=slug, **{**defaults, **fields})

    return make


@pytest.fixture
def brand(make_brand):
    return make_brand("acme")


@pytest.fixture
def other_brand(make_brand):
    return make_brand("rival")


@pytest.fixture
def make_customer(db):
    def make(brand, openid=None, **fields):
        return Customer.objects.create(brand=brand, openid=openid or f"o{Customer.unscoped.count() + 1:06d}", **fields)

    return make


@pytest.fixture
def make_staff(db):
    def make(brand=None, role=Membership.Role.OPERATOR, username=None, **fields):
        User = get_user_model()
        user = User.objects.create_user(
            username=username or f"staff{User.objects.count() + 1}", password="correct-horse-9", **fields
        )
        if brand is not None:
            Membership.objects.create(brand=brand, user=user, role=role)
        return user

    return make


class Client(APIClient):
    """An API client that sends JSON and, for staff, the X-Brand header."""

    def __init__(self, token=None, brand=None):
        super().__init__()
        headers = {}
        if token:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        if brand is not None:
            headers["HTTP_X_BRAND"] = str(brand.pk)
        self.credentials(**headers)

    def generic(self, method, path, data="", content_type="application/json", **extra):
        return super().generic(method, path, data, content_type, **extra)

    def post(self, path, data=None, **extra):
        return super().post(path, data, format="json", **extra)

    def patch(self, path, data=None, **extra):
        return super().patch(path, data, format="json", **extra)


@pytest.fixture
def anon():
    return Client()


@pytest.fixture
def customer_client():
    def make(customer):
        return Client(token=str(CustomerAccessToken.for_customer(customer)))

    return make


@pytest.fixture
def staff_client():
    def make(user, brand=None):
        return Client(token=staff_tokens(user)["access"], brand=brand)

    return make


@pytest.fixture
def console(brand, make_staff, staff_client):
    """An operator of ``brand`` on the console API."""
    return staff_client(make_staff(brand, Membership.Role.OPERATOR), brand)


@pytest.fixture
def rival_console(other_brand, make_staff, staff_client):
    return staff_client(make_staff(other_brand, Membership.Role.OPERATOR), other_brand)


@pytest.fixture
def platform(make_staff, staff_client):
    user = make_staff(username="platform")
    user.is_superuser = user.is_staff = True
    user.save()
    return staff_client(user)


def assert_error(response, status, code):
    """The shared error shape (DESIGN §10) with the expected status and code."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]
