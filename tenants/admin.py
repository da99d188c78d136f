from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from tenants import scoping, services
from tenants.admin_site import BrandScopedAdmin, PlatformAdmin
from tenants.errors import DomainError
from tenants.models import Brand, Customer, Membership, StaffInvitation


@admin.register(Brand)
class BrandAdmin(PlatformAdmin):
    """Brands are the platform operator's. A brand's owners see one row here, their own brand (the
    one picked in the header), and change only its settings (``tenants.services.BRAND_SETTINGS``):
    never another brand, never its slug, appid or status. Operators do not see the page."""

    list_display = ["name", "slug", "appid", "status", "timezone", "created_at"]
    list_filter = ["status"]
    search_fields = ["name", "slug", "appid"]
    actions = ["suspend", "reactivate"]
    staff_readonly = ["slug", "appid", "status"]

    def _own_brand(self, request):
        """The brand in scope when one of its owners is the one asking, else None."""
        if request.user.is_superuser or getattr(request, "admin_role", None) != Membership.Role.OWNER:
            return None
        return scoping.current_brand()

    def has_module_permission(self, request):
        return request.user.is_superuser or self._own_brand(request) is not None

    def has_view_permission(self, request, obj=None):
        if request.user.is_superuser:
            return True
        own = self._own_brand(request)
        return own is not None and (obj is None or obj.pk == own.pk)

    def has_change_permission(self, request, obj=None):
        return self.has_view_permission(request, obj)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        own = self._own_brand(request)
        return queryset.filter(pk=own.pk) if own is not None else queryset.none()

    def get_fields(self, request, obj=None):
        if request.user.is_superuser:
            return super().get_fields(request, obj)
        return [*self.staff_readonly, *services.BRAND_SETTINGS]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return readonly if request.user.is_superuser else [*readonly, *self.staff_readonly]

    def get_actions(self, request):
        return super().get_actions(request) if request.user.is_superuser else {}

    def get_list_filter(self, request):
        return super().get_list_filter(request) if request.user.is_superuser else []

    def changelist_view(self, request, extra_context=None):
        own = self._own_brand(request)
        if own is not None:  # one brand: straight to its settings
            return HttpResponseRedirect(reverse("admin:tenants_brand_change", args=[own.pk]))
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj, form, change):
        if request.user.is_superuser:
            return super().save_model(request, obj, form, change)
        settings = {name: form.cleaned_data[name] for name in form.changed_data if name in services.BRAND_SETTINGS}
        services.brand_update_settings(brand=obj, **settings)

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
