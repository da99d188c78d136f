"""The one text rule (tenants.text) beyond JSON bodies (issue 21's gaps): query strings and URLs,
form and multipart bodies (the CSV imports: a NUL in a store name reached PostgreSQL, which
refuses it, as a 500), and every admin form. Each is answered 400 ``invalid_text`` — in the API's
error shape on the API — and nothing is written. The same on SQLite (which would store the NUL)
and on PostgreSQL (which raised)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from conftest import assert_error
from guides.models import Guide, Store
from tenants.models import Customer, Membership

pytestmark = pytest.mark.django_db


def upload(client, path, text, name="import.csv", **fields):
    file = SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")
    return APIClient.post(client, path, {"file": file, **fields}, format="multipart")


def admin_client(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def operator(brand, make_staff):
    return admin_client(make_staff(brand, Membership.Role.OPERATOR))


# --- query strings and URLs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/console/customers?q=%00",  # a search filter that reached PostgreSQL
        "/api/v1/console/products?q=a%00b",
        "/api/v1/console/stores?page=1&x%00=1",  # a name, too
        "/api/v1/console/customers/%00",
    ],
)
def test_a_query_string_or_url_with_nul_is_refused_in_the_error_shape(console, make_customer, brand, path):
    make_customer(brand, nickname="Ann")
    error = assert_error(console.get(path), 400, "invalid_text")
    assert error["fields"] or "path" in path or "x%00" in path


def test_a_clean_query_string_still_searches(console, make_customer, brand):
    make_customer(brand, nickname="Ann")
    assert [c["nickname"] for c in console.get("/api/v1/console/customers?q=An").json()["results"]] == ["Ann"]


def test_the_admins_search_with_nul_is_a_400_not_a_500(operator):
    response = operator.get("/admin/guides/store/?q=%00")
    assert response.status_code == 400
    assert b"invalid_text" in response.content
    assert operator.get("/admin/guides/store/?q=Jing").status_code == 200


# --- multipart: the CSV imports -----------------------------------------------------------------------


def test_a_store_name_with_nul_in_the_csv_is_refused_by_line_and_nothing_imported(console):
    """Before: the NUL reached PostgreSQL (500, "A string literal cannot contain NUL") or, on
    SQLite, was stored."""
    text = "code,name\nSH-1,Jing'an\nSH-2,West\x00Lake\n"
    error = assert_error(upload(console, "/api/v1/console/stores/import", text), 400, "invalid_text")
    assert error["fields"]["lines"] == {"3": {"name": [error["fields"]["lines"]["3"]["name"][0]]}}
    assert not Store.unscoped.exists()


def test_a_guide_line_with_nul_is_refused_and_nothing_imported(console):
    text = "username,name,password\namy1,Amy,correct-horse-9\nbob\x002,Bob,correct-horse-9\n"
    error = assert_error(upload(console, "/api/v1/console/guides/import", text), 400, "invalid_text")
    assert set(error["fields"]["lines"]) == {"3"} and "username" in error["fields"]["lines"]["3"]
    assert not Guide.unscoped.exists()


def test_a_multipart_field_or_file_name_with_nul_is_refused(console):
    fine = "code,name\nSH-1,Jing'an\n"
    error = assert_error(upload(console, "/api/v1/console/stores/import", fine, note="a\x00b"), 400, "invalid_text")
    assert "note" in error["fields"]
    response = upload(console, "/api/v1/console/stores/import", fine, name="st\x00res.csv")
    # Django's multipart parser may drop what follows a NUL in a file name; either it is refused
    # or the (clean) remainder is imported — never a 500.
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert response.json()["error"]["code"] == "invalid_text"


def test_another_brands_console_cannot_import_into_this_brand(console, rival_console):
    assert upload(rival_console, "/api/v1/console/stores/import", "code,name\nR-1,Rival\n").status_code == 200
    assert list(Store.unscoped.values_list("code", "brand__slug")) == [("R-1", "rival")]


# --- the admin's forms ----------------------------------------------------------------------------------


def test_an_admin_form_with_nul_is_a_400_and_writes_nothing(operator, brand):
    """Before: the admin's add form sent the NUL to PostgreSQL (500); SQLite stored it."""
    response = operator.post("/admin/guides/store/add/", {"code": "SH-9", "name": "Bad\x00name", "status": "open"})
    assert response.status_code == 400 and b"invalid_text" in response.content
    assert not Store.unscoped.exists()
    response = operator.post("/admin/guides/store/add/", {"code": "SH-9", "name": "Good name", "status": "open"})
    assert response.status_code == 302, response.content[:2000]
    assert Store.unscoped.get().name == "Good name"


def test_an_admin_change_form_with_nul_changes_nothing(operator, brand, make_customer):
    customer = make_customer(brand, nickname="Ann")
    response = operator.post(f"/admin/tenants/customer/{customer.pk}/change/", {"nickname": "A\x00nn"})
    assert response.status_code == 400
    assert Customer.unscoped.get(pk=customer.pk).nickname == "Ann"


def test_the_admin_login_form_with_nul_is_a_400():
    response = Client().post("/admin/login/", {"username": "a\x00", "password": "x"})
    assert response.status_code == 400
