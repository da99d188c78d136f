"""Staff accounts are platform-wide, brands are not: a brand names only its own accounts or makes
new ones, and an account joins another brand only by accepting an invitation as itself."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client as AdminClient
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import assert_error
from guides.models import Guide, Store
from tenants.models import Membership, StaffInvitation

pytestmark = pytest.mark.django_db


@pytest.fixture
def theirs(other_brand, make_staff):
    """Accounts of another brand: its owner and a guide."""
    owner = make_staff(other_brand, Membership.Role.OWNER, username="their-owner")
    guide = make_staff(other_brand, Membership.Role.GUIDE, username="their-guide")
    with_guide = Guide.unscoped.create(brand=other_brand, user=guide, name="Theirs")
    return {"owner": owner, "guide": guide, "guide_row": with_guide}


def memberships(user):
    return sorted(Membership.unscoped.filter(user=user).values_list("brand__slug", "role"))


def upload(client, path, text):
    file = SimpleUploadedFile("import.csv", text.encode(), content_type="text/csv")
    return APIClient.post(client, path, {"file": file}, format="multipart")


def admin_client(user):
    client = AdminClient()
    client.force_login(user)
    return client


# --- the console API ---------------------------------------------------------------------------


@pytest.mark.parametrize("whose", ["owner", "guide"])
def test_another_brands_account_is_not_enrolled_as_a_guide_by_its_username(whose, theirs, console, other_brand):
    user = theirs[whose]
    before = memberships(user)
    as_theirs = console.post("/api/v1/console/guides", {"username": user.username, "name": "x"})
    nobody = console.post("/api/v1/console/guides", {"username": "nobody-anywhere", "name": "x"})
    # No oracle: another brand's username answers exactly as one that would be created.
    assert as_theirs.status_code == nobody.status_code == 400
    assert as_theirs.json() == nobody.json()
    assert as_theirs.json()["error"]["fields"] == {"password": ["A new user needs a password."]}

    # With a password it would be a sign-up, and the username is taken: refused, never attached.
    taken = console.post(
        "/api/v1/console/guides", {"username": user.username, "name": "x", "password": "correct-horse-9"}
    )
    assert_error(taken, 409, "username_taken")
    assert memberships(user) == before
    assert not Guide.unscoped.filter(user=user).exclude(brand=other_brand).exists()
    assert user.check_password("correct-horse-9")  # the fixture's password: unchanged


def test_a_new_username_still_makes_a_new_account(console, brand):
    made = console.post("/api/v1/console/guides", {"username": "amy", "name": "Amy", "password": "correct-horse-9"})
    assert made.status_code == 201, made.content
    assert memberships(get_user_model().objects.get(username="amy")) == [(brand.slug, "guide")]


def test_the_brands_own_account_becomes_a_guide_without_a_password(console, brand, make_staff):
    manager = make_staff(brand, Membership.Role.STORE_MANAGER, username="own-manager")
    made = console.post("/api/v1/console/guides", {"username": "own-manager", "name": "Own"})
    assert made.status_code == 201, made.content
    assert memberships(manager) == [(brand.slug, "store_manager")]


def test_staff_me_lists_only_the_brands_the_account_joined(theirs, console, staff_client, other_brand):
    console.post("/api/v1/console/guides", {"username": "their-guide", "name": "x", "password": "correct-horse-9"})
    me = staff_client(theirs["guide"]).get("/api/v1/staff/me").json()
    assert [b["slug"] for b in me["brands"]] == [other_brand.slug]


def test_a_store_manager_is_one_of_the_brands_own_accounts(theirs, console, brand, other_brand, make_staff):
    def answer(method, path, username):
        response = getattr(console, method)(path, {"code": "S1", "name": "One", "manager_username": username})
        return response.status_code, response.json()

    created, body = answer("post", "/api/v1/console/stores", theirs["owner"].username)
    assert (created, body) == answer("post", "/api/v1/console/stores", "nobody-anywhere")
    assert created == 400 and body["error"]["fields"] == {"manager": ["No such user in the brand."]}

    store = console.post("/api/v1/console/stores", {"code": "S1", "name": "One"}).json()
    path = f"/api/v1/console/stores/{store['id']}"
    assert answer("patch", path, theirs["owner"].username) == answer("patch", path, "nobody-anywhere")
    assert Store.unscoped.get(pk=store["id"]).manager is None
    assert memberships(theirs["owner"]) == [(other_brand.slug, "owner")]

    own = make_staff(brand, Membership.Role.STORE_MANAGER, username="own-manager")
    assert answer("patch", path, "own-manager")[0] == 200
    assert Store.unscoped.get(pk=store["id"]).manager == own


def test_the_csv_imports_name_only_the_brands_own_accounts(theirs, console, other_brand):
    stores = upload(console, "/api/v1/console/stores/import", "code,name,manager\nS1,One,their-owner\nS2,Two,ghost\n")
    error = assert_error(stores, 400, "import_invalid")
    assert error["fields"]["lines"]["2"] == error["fields"]["lines"]["3"] == {"manager": ["No such user in the brand."]}

    text = "username,name,password\ntheir-guide,A,\nghost,B,\n"
    error = assert_error(upload(console, "/api/v1/console/guides/import", text), 400, "import_invalid")
    assert (
        error["fields"]["lines"]["2"] == error["fields"]["lines"]["3"] == {"password": ["A new user needs a password."]}
    )
    text = "username,name,password\ntheir-owner,A,correct-horse-9\n"
    error = assert_error(upload(console, "/api/v1/console/guides/import", text), 400, "import_invalid")
    assert "taken" in error["fields"]["lines"]["2"]["username"][0]
    assert not Store.unscoped.filter(code__in=["S1", "S2"]).exists()
    assert memberships(theirs["owner"]) == [(other_brand.slug, "owner")]
    assert memberships(theirs["guide"]) == [(other_brand.slug, "guide")]


# --- the admin ---------------------------------------------------------------------------------


def test_the_admins_user_fields_offer_and_accept_only_the_brands_accounts(theirs, brand, make_staff):
    own = make_staff(brand, Membership.Role.STORE_MANAGER, username="own-manager")
    operator = admin_client(make_staff(brand, Membership.Role.OPERATOR, username="own-operator"))

    page = operator.get("/admin/guides/store/add/").content.decode()
    assert "own-manager" in page and "their-owner" not in page

    refused = operator.post(
        "/admin/guides/store/add/", {"code": "S1", "name": "One", "manager": theirs["owner"].pk, "status": "open"}
    )
    assert refused.status_code == 200  # the form again, with its error
    page = refused.content.decode()
    assert "Select a valid choice" in page and "their-owner" not in page
    assert not Store.unscoped.filter(brand=brand).exists()

    guide_form = {"name": "Lin", "user": theirs["guide"].pk, "kind": "store_guide"}
    refused = operator.post("/admin/guides/guide/add/", guide_form)
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    assert not Guide.unscoped.filter(brand=brand).exists()

    saved = operator.post(
        "/admin/guides/store/add/", {"code": "S1", "name": "One", "manager": own.pk, "status": "open"}
    )
    assert saved.status_code == 302
    assert Store.unscoped.get(brand=brand).manager == own


def test_the_admin_refuses_a_second_guide_for_one_account_as_a_form_error(brand, make_staff):
    lin = make_staff(brand, Membership.Role.GUIDE, username="lin")
    Guide.unscoped.create(brand=brand, user=lin, name="Lin")
    operator = admin_client(make_staff(brand, Membership.Role.OPERATOR))
    again = operator.post("/admin/guides/guide/add/", {"name": "Lin again", "user": lin.pk, "kind": "store_guide"})
    assert again.status_code == 200  # was a 500 (IntegrityError on guide_brand_user_uniq)
    assert "errorlist" in again.content.decode()
    assert Guide.unscoped.filter(user=lin).count() == 1


def test_the_admin_invites_and_shows_the_code_once(brand, other_brand, make_staff):
    owner = admin_client(make_staff(brand, Membership.Role.OWNER))
    added = owner.post("/admin/tenants/staffinvitation/add/", {"role": "operator", "note": "Wang"}, follow=True)
    messages = [str(m) for m in added.context["messages"]]
    (invitation,) = StaffInvitation.unscoped.filter(brand=brand)
    assert any("one-time code" in m for m in messages) and invitation.role == "operator"

    operator = admin_client(make_staff(brand, Membership.Role.OPERATOR))
    page = operator.get("/admin/tenants/staffinvitation/add/").content.decode()
    assert 'value="guide"' in page and 'value="operator"' not in page  # operators invite guides and managers
    assert operator.post("/admin/tenants/staffinvitation/add/", {"role": "operator"}).status_code == 200
    assert StaffInvitation.unscoped.filter(brand=brand).count() == 1

    rival = admin_client(make_staff(other_brand, Membership.Role.OWNER))
    assert "Wang" not in rival.get("/admin/tenants/staffinvitation/").content.decode()
    assert rival.get(f"/admin/tenants/staffinvitation/{invitation.pk}/change/").status_code == 302


# --- joining a second brand --------------------------------------------------------------------


@pytest.fixture
def owner_console(brand, make_staff, staff_client):
    return staff_client(make_staff(brand, Membership.Role.OWNER), brand)


def invite(client, role="guide", note="Lin from Beta"):
    response = client.post("/api/v1/console/staff/invitations", {"role": role, "note": note})
    assert response.status_code == 201, response.content
    return response.json()


def test_an_account_joins_a_second_brand_by_accepting_as_itself(theirs, brand, other_brand, console, staff_client):
    invitation = invite(console)
    assert invitation["status"] == "pending" and len(invitation["code"]) >= 32
    assert "code" not in console.get("/api/v1/console/staff/invitations").json()["results"][0]

    joined = staff_client(theirs["guide"]).post("/api/v1/staff/invitations/accept", {"code": invitation["code"]})
    assert joined.status_code == 201, joined.content
    assert joined.json() == {
        "id": brand.pk,
        "slug": brand.slug,
        "name": brand.name,
        "role": "guide",
        "status": "active",
    }
    assert memberships(theirs["guide"]) == sorted([(brand.slug, "guide"), (other_brand.slug, "guide")])

    # Now the account is the brand's own: it becomes a guide of the brand by its username.
    made = console.post("/api/v1/console/guides", {"username": "their-guide", "name": "Lin"})
    assert made.status_code == 201, made.content
    (listed,) = console.get("/api/v1/console/staff/invitations").json()["results"]
    assert (listed["status"], listed["accepted_by"]) == ("accepted", "their-guide")

    again = staff_client(theirs["owner"]).post("/api/v1/staff/invitations/accept", {"code": invitation["code"]})
    assert_error(again, 404, "invitation_not_found")  # one use


def test_codes_that_do_not_open_the_door(theirs, brand, console, owner_console, staff_client):
    guide = staff_client(theirs["guide"])
    assert_error(guide.post("/api/v1/staff/invitations/accept", {"code": "x" * 32}), 404, "invitation_not_found")
    assert_error(guide.post("/api/v1/staff/invitations/accept", {}), 400, "invalid")
    assert_error(APIClient().post("/api/v1/staff/invitations/accept", {"code": "x"}), 401, "not_authenticated")

    expired = invite(console)
    StaffInvitation.unscoped.filter(pk=expired["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error(guide.post("/api/v1/staff/invitations/accept", {"code": expired["code"]}), 404, "invitation_not_found")

    revoked = invite(console)
    assert console.post(f"/api/v1/console/staff/invitations/{revoked['id']}/revoke").json()["status"] == "revoked"
    assert_error(console.post(f"/api/v1/console/staff/invitations/{revoked['id']}/revoke"), 409, "invitation_closed")
    assert_error(guide.post("/api/v1/staff/invitations/accept", {"code": revoked["code"]}), 404, "invitation_not_found")

    member = invite(console)
    own = staff_client(Membership.unscoped.filter(brand=brand).first().user)
    assert_error(own.post("/api/v1/staff/invitations/accept", {"code": member["code"]}), 409, "already_a_member")
    assert len(memberships(theirs["guide"])) == 1


def test_who_may_invite_to_which_role(console, owner_console):
    assert_error(console.post("/api/v1/console/staff/invitations", {"role": "operator"}), 403, "role_not_allowed")
    assert_error(console.post("/api/v1/console/staff/invitations", {"role": "owner"}), 400, "invalid")
    assert invite(owner_console, role="operator")["role"] == "operator"
    assert invite(console, role="store_manager")["role"] == "store_manager"


def test_another_brand_neither_sees_nor_revokes_the_invitations(console, rival_console):
    invitation = invite(console)
    assert rival_console.get("/api/v1/console/staff/invitations").json()["results"] == []
    revoke = rival_console.post(f"/api/v1/console/staff/invitations/{invitation['id']}/revoke")
    assert_error(revoke, 404, "invitation_not_found")
    assert StaffInvitation.unscoped.get(pk=invitation["id"]).status == "pending"
