from django.contrib import admin, messages
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from tenants import services
from tenants.admin_site import BrandScopedAdmin, PlatformAdmin
from tenants.errors import DomainError
from tenants.models import Brand, Customer, Membership, StaffInvitation


@admin.register(Brand)
class BrandAdmin(PlatformAdmin):
    """Brands are the platform operator's: brand staff never see this page."""

    list_display = ["name", "slug", "appid", "status", "timezone", "created_at"]
    list_filter = ["status"]
    search_fields = ["name", "slug", "appid"]
    actions = ["suspend", "reactivate"]

    def _each(self, request, queryset, action):
        for brand in queryset:
            try:
                action(brand=brand)
            except DomainError as exc:
                self.message_user(request, f"{brand}: {exc.message}", messages.WARNING)

    @admin.action(description=_("Suspend the selected brands"))
    def suspend(self, request, queryset):
        self._each(request, queryset, services.brand_suspend)

    @admin.action(description=_("Reactivate the selected brands"))
    def reactivate(self, request, queryset):
        self._each(request, queryset, services.brand_reactivate)


@admin.register(Membership)
class MembershipAdmin(BrandScopedAdmin):
    """Who works for the brand. Owners manage it; staff accounts are created by the platform."""

    admin_roles = frozenset({Membership.Role.OWNER})
    list_display = ["user", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username"]
    raw_id_fields = ["user"]

    def has_add_permission(self, request):
        return request.user.is_superuser

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        return readonly if request.user.is_superuser else [*readonly, "user"]


@admin.register(Customer)
class CustomerAdmin(BrandScopedAdmin):
    list_display = ["__str__", "openid", "phone", "is_member", "first_seen_at", "first_paid_at"]
    list_filter = ["is_member"]
    search_fields = ["nickname", "openid", "phone", "unionid"]
    readonly_fields = ["openid", "unionid", "first_seen_at", "first_paid_at", "last_login_at"]

    def has_add_permission(self, request):
        return False  # customers come from mini-program logins


@admin.register(StaffInvitation)
class StaffInvitationAdmin(BrandScopedAdmin):
    """Invite an account to the brand's staff: its one-time code is shown once, on saving."""

    list_display = ["role", "note", "status", "invited_by", "accepted_by", "created_at", "expires_at"]
    list_filter = ["status", "role"]
    fields = ["role", "note"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        return ["role", "note"] if obj is not None else []

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def _inviter_role(self, request):
        return Membership.Role.OWNER if request.user.is_superuser else request.admin_role

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "role":
            allowed = services.INVITING_ROLES.get(self._inviter_role(request), ())
            kwargs["choices"] = [(value, label) for value, label in db_field.choices if value in allowed]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        invitation, code = services.staff_invitation_create(
            brand=obj.brand,
            role=obj.role,
            note=obj.note,
            invited_by=request.user,
            inviter_role=self._inviter_role(request),
        )
        obj.pk = invitation.pk
        self.message_user(
            request,
            gettext(
                "Hand this one-time code to the person you invite; it is shown only now: %(code)s "
                "(they accept it logged in as themselves: POST /api/v1/staff/invitations/accept)."
            )
            % {"code": code},
            messages.WARNING,
        )

    @admin.action(description=_("Revoke the selected invitations"))
    def revoke(self, request, queryset):
        for invitation in queryset.filter(status=StaffInvitation.Status.PENDING):
            services.staff_invitation_revoke(brand=invitation.brand, invitation=invitation)
