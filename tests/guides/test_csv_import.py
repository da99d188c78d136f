"""CSV import of stores and guides: every error reported by line, nothing half-imported."""

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from conftest import assert_error
from guides.models import Guide, Store
from tenants.models import Membership

pytestmark = pytest.mark.django_db


def upload(client, path, text):
    file = SimpleUploadedFile("import.csv", text.encode("utf-8-sig"), content_type="text/csv")
    return APIClient.post(client, path, {"file": file}, format="multipart")


def test_stores_import_creates_and_updates_by_code(brand, console, make_staff):
    make_staff(brand, Membership.Role.STORE_MANAGER, username="lin")  # a manager is one of the brand's accounts
    text = "code,name,address,latitude,longitude,manager\nSH-1,Jing'an,1 Rd,31.2,121.4,lin\nHZ-2,West Lake,,,,\n"
    assert upload(console, "/api/v1/console/stores/import", text).json() == {"created": 2, "updated": 0}
    again = upload(console, "/api/v1/console/stores/import", "code,name\nSH-1,Jing'an flagship\n")
    assert again.json() == {"created": 0, "updated": 1}
    assert Store.unscoped.get(code="SH-1").name == "Jing'an flagship"
    assert Membership.unscoped.get(user__username="lin").role == "store_manager"


def test_stores_import_reports_every_bad_line_and_imports_nothing(brand, console):
    text = "code,name,latitude,manager\nOK-1,Fine,,\n,No code,,\nBAD-3,Bad,north,\nOK-1,Twice,,\nBAD-5,Ghost,,nobody\n"
    error = assert_error(upload(console, "/api/v1/console/stores/import", text), 400, "import_invalid")
    assert set(error["fields"]["lines"]) == {"3", "4", "5", "6"}
    assert "code" in error["fields"]["lines"]["3"] and "latitude" in error["fields"]["lines"]["4"]
    assert "manager" in error["fields"]["lines"]["6"]
    assert not Store.unscoped.exists()


def test_guides_import_with_leaders_in_the_same_file(brand, console):
    upload(console, "/api/v1/console/stores/import", "code,name\nSH-1,Jing'an\n")
    text = (
        "username,name,password,store,kind,leader\n"
        "lead1,Lead,correct-horse-9,SH-1,store_guide,\n"
        "amy1,Amy,correct-horse-9,SH-1,koc,lead1\n"
    )
    assert upload(console, "/api/v1/console/guides/import", text).json() == {"created": 2, "updated": 0}
    amy = Guide.unscoped.get(user__username="amy1")
    assert (amy.kind, amy.leader.user.username, amy.store.code) == ("koc", "lead1", "SH-1")
    assert get_user_model().objects.get(username="amy1").check_password("correct-horse-9")


def test_guides_import_errors_by_line_and_nothing_half_imported(brand, console, make_staff):
    make_staff(brand, username="boss")  # an operator cannot be a guide
    text = (
        "username,name,password,store,kind,leader\n"
        "good,Good,correct-horse-9,,store_guide,\n"
        "nopass,No Password,,,store_guide,\n"
        "boss,Boss,,,store_guide,\n"
        "wrong,Wrong,correct-horse-9,XX-9,wizard,ghost\n"
        "good,Again,correct-horse-9,,,\n"
    )
    error = assert_error(upload(console, "/api/v1/console/guides/import", text), 400, "import_invalid")
    lines = error["fields"]["lines"]
    assert set(lines) == {"3", "4", "5", "6"}
    assert {"store", "kind", "leader"} <= set(lines["5"])
    assert not Guide.unscoped.exists()
    assert not get_user_model().objects.filter(username__in=["good", "wrong"]).exists()


def test_a_malformed_file_is_one_clear_error(brand, console):
    assert_error(upload(console, "/api/v1/console/stores/import", "name\nX\n"), 400, "invalid_csv")
    bad = SimpleUploadedFile("x.csv", b"\xff\xfe\x00bad", content_type="text/csv")
    assert_error(
        APIClient.post(console, "/api/v1/console/stores/import", {"file": bad}, format="multipart"), 400, "invalid_csv"
    )
    assert_error(upload(console, "/api/v1/console/stores/import", "code,name\n"), 400, "invalid_csv")
