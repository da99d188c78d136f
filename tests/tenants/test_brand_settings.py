"""A brand's own settings (blocked words, comment rate, start reminders, time zone): its owners
change them in the console API and the admin, operators read them, the platform operator acts
for any brand; another brand's staff reach nothing."""

import pytest
from django.test import Client as DjangoClient

from conftest import assert_error
from tenants.models import Brand, Membership

pytestmark = pytest.mark.django_db

BRAND = "/api/v1/console/brand"
SETTINGS = {
    "blocked_words": "假货\nfake",
    "blocked_word_action": "reject",
    "comments_per_minute": 3,
    "allow_anonymous_viewers": False,
    "reminder_lead_minutes": 15,
    "reminder_template_id": "tmpl-start-01",
    "reminder_template_data": {"thing1": "{title} 开播啦", "time2": "{start}"},
    "reminder_cancel_notice": True,
    "timezone": "Asia/Urumqi",
}


@pytest.fixture
def owner(brand, make_staff, staff_client):
    return staff_client(make_staff(brand, Membership.Role.OWNER), brand)


@pytest.fixture
def rival_owner(other_brand, make_staff, staff_client):
    return staff_client(make_staff(other_brand, Membership.Role.OWNER), other_brand)


def brand_row(brand):
    return Brand.objects.filter(pk=brand.pk).values(*SETTINGS, "name", "slug", "appid", "status").get()


def test_an_owner_changes_every_setting_and_reads_it_back(owner, brand):
    response = owner.patch(BRAND, SETTINGS)
    assert response.status_code == 200, response.content
    assert {key: response.json()[key] for key in SETTINGS} == SETTINGS
    assert {key: brand_row(brand)[key] for key in SETTINGS} == SETTINGS
    assert owner.get(BRAND).json()["blocked_words"] == "假货\nfake"


def test_the_new_rules_hold_for_the_next_comment(owner, brand):
    from livestream.models import LiveRoom
    from livestream.services.live import Moderation
    from tests.commerce.conftest import create_room

    owner.patch(BRAND, {"blocked_words": "假货", "blocked_word_action": "reject", "comments_per_minute": 2})
    room = create_room(brand)
    moderation = Moderation.for_room(LiveRoom.unscoped.select_related("brand").get(pk=room.pk))
    assert moderation.blocked.search("这是假货吗") and moderation.per_minute == 2


def test_an_operator_reads_the_settings_but_cannot_change_them(console, brand):
    before = brand_row(brand)
    read = console.get(BRAND)
    assert read.status_code == 200 and read.json()["comments_per_minute"] == before["comments_per_minute"]
    assert_error(console.patch(BRAND, {"blocked_words": "x"}), 403, "role_not_allowed")
    assert brand_row(brand) == before


def test_another_brands_owner_changes_only_their_own(rival_owner, owner, brand, other_brand, make_staff, staff_client):
    mine = brand_row(brand)
    response = rival_owner.patch(BRAND, {"blocked_words": "rival-word", "comments_per_minute": 7})
    assert response.status_code == 200 and response.json()["id"] == other_brand.pk
    assert brand_row(brand) == mine
    # Naming this brand in X-Brand does not make them its member.
    rival = make_staff(other_brand, Membership.Role.OWNER, username="rival-boss")
    assert_error(staff_client(rival, brand).patch(BRAND, {"blocked_words": "hijack"}), 403, "not_a_member")
    assert_error(staff_client(rival, brand).get(BRAND), 403, "not_a_member")
    assert brand_row(brand) == mine


@pytest.mark.parametrize(
    "body",
    [
        {"comments_per_minute": 0},
        {"comments_per_minute": 601},
        {"comments_per_minute": "many"},
        {"blocked_word_action": "nuke"},
        {"reminder_lead_minutes": 0},
        {"reminder_template_data": {"thing1": "{price} 开播"}},
        {"reminder_template_data": {"thing1": "{title"}},
        {"reminder_template_data": {"thing1": ""}},
        {"reminder_template_data": {"1 bad key": "{title}"}},
        {"reminder_template_data": ["{title}"]},
        {"reminder_template_data": {"thing1": {"nested": 1}}},
        {"timezone": "Mars/Olympus"},
        {"allow_anonymous_viewers": "perhaps"},
        {"name": ""},
    ],
)
def test_bad_settings_are_refused_and_change_nothing(owner, brand, body):
    before = brand_row(brand)
    error = assert_error(owner.patch(BRAND, body), 400, "invalid")
    assert set(error["fields"]) == set(body)
    assert brand_row(brand) == before


def test_what_is_the_platforms_is_never_changed_by_an_owner(owner, brand):
    before = brand_row(brand)
    response = owner.patch(BRAND, {"slug": "hijack", "appid": "wx0000000000hijack", "status": "suspended"})
    assert response.status_code == 200
    assert brand_row(brand) == before


def test_the_platform_operator_acts_for_any_brand_in_the_console(platform, brand, other_brand):
    assert_error(platform.get(BRAND), 403, "brand_required")
    for target in (brand, other_brand):
        assert platform.get(BRAND, HTTP_X_BRAND=target.slug).json()["id"] == target.pk
        assert platform.patch(BRAND, {"comments_per_minute": 5}, HTTP_X_BRAND=str(target.pk)).status_code == 200
        assert brand_row(target)["comments_per_minute"] == 5
    assert_error(platform.get(BRAND, HTTP_X_BRAND="no-such-brand"), 403, "not_a_member")
    assert not Membership.unscoped.filter(user__username="platform").exists()  # nothing stored


# --- the admin -----------------------------------------------------------------------------------


def admin_client(user):
    client = DjangoClient()
    client.force_login(user)
    return client


def admin_form(brand, **changes):
    values = {key: brand_row(brand)[key] for key in SETTINGS}
    values["reminder_template_data"] = "{}"
    values.update(name=brand.name, **changes)
    return {key: ("on" if value is True else value) for key, value in values.items() if value is not False}


def test_an_owner_edits_their_brands_settings_in_the_admin(brand, make_staff):
    client = admin_client(make_staff(brand, Membership.Role.OWNER))
    assert client.get("/admin/tenants/brand/").url == f"/admin/tenants/brand/{brand.pk}/change/"
    page = client.get(f"/admin/tenants/brand/{brand.pk}/change/").content.decode()
    assert 'name="blocked_words"' in page and 'name="slug"' not in page and 'name="app_secret"' not in page
    response = client.post(
        f"/admin/tenants/brand/{brand.pk}/change/",
        admin_form(
            brand,
            blocked_words="假货",
            comments_per_minute=4,
            timezone="Asia/Urumqi",
            reminder_template_data='{"thing1": "{title} 开播啦"}',
            slug="hijack",
            status="suspended",
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    row = brand_row(brand)
    assert (row["blocked_words"], row["comments_per_minute"], row["timezone"]) == ("假货", 4, "Asia/Urumqi")
    assert row["reminder_template_data"] == {"thing1": "{title} 开播啦"}
    assert (row["slug"], row["status"]) == ("acme", "active")


def test_the_admin_refuses_a_bad_reminder_text(brand, make_staff):
    client = admin_client(make_staff(brand, Membership.Role.OWNER))
    before = brand_row(brand)
    response = client.post(
        f"/admin/tenants/brand/{brand.pk}/change/", admin_form(brand, reminder_template_data='{"thing1": "{price}"}')
    )
    assert response.status_code == 200  # the form again, with the error
    assert brand_row(brand) == before


def test_an_owner_never_reaches_another_brand_in_the_admin(brand, other_brand, make_staff):
    client = admin_client(make_staff(brand, Membership.Role.OWNER))
    theirs = brand_row(other_brand)
    assert client.get(f"/admin/tenants/brand/{other_brand.pk}/change/").status_code in (302, 403)
    response = client.post(
        f"/admin/tenants/brand/{other_brand.pk}/change/", admin_form(other_brand, blocked_words="hijack")
    )
    assert response.status_code in (302, 403)
    assert brand_row(other_brand) == theirs
    assert client.get("/admin/tenants/brand/add/").status_code == 403
    assert client.post(f"/admin/tenants/brand/{brand.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Brand.objects.filter(pk=brand.pk).exists()


def test_operators_have_no_brand_page_in_the_admin(brand, make_staff):
    client = admin_client(make_staff(brand, Membership.Role.OPERATOR))
    assert client.get("/admin/tenants/brand/").status_code == 403
    assert client.get(f"/admin/tenants/brand/{brand.pk}/change/").status_code == 403
