from django.contrib import admin, messages

from tenants import services
from tenants.admin_site import BrandScopedAdmin, PlatformAdmin
from tenants.errors import DomainError
from tenants.models import Brand, Customer, Membership


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

    @admin.action(description="Suspend the selected brands")
    def suspend(self, request, queryset):
        self._each(request, queryset, services.brand_suspend)

    @admin.action(description="Reactivate the selected brands")
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
