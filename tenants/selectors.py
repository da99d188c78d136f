"""Reads of the tenants app that are more than a one-line queryset."""

from django.contrib.auth import get_user_model

from tenants.models import Brand, Membership


def brand_accounts(brand: Brand):
    """The staff accounts that are the brand's own: those with a membership of it.

    Accounts are platform-wide, so this is the one rule for every write of a brand that names
    an account (a guide's login, a store's manager, an admin form's user field): it names one of
    these, or it makes a new account. Any other account, of another brand or of the platform, is
    refused as if it did not exist; it joins the brand only by accepting an invitation
    (``tenants.services.staff_invitation_accept``).
    """
    members = Membership.unscoped.filter(brand=brand).values("user_id")
    return get_user_model().objects.filter(pk__in=members, is_superuser=False)


def brand_account(brand: Brand, username: str):
    """The brand's own account with this username, or None (also when the username is another's)."""
    return brand_accounts(brand).filter(username=username).first() if username else None
