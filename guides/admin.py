from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from guides.models import (
    Binding,
    Campaign,
    CommissionEntry,
    CommissionPolicy,
    CommissionRule,
    Guide,
    LeaderboardEntry,
    LeaderboardHour,
    Settlement,
    ShareCode,
    Store,
)
from guides.services import settlement as settlement_services
from guides.services import stores as store_services
from tenants.admin_site import BrandScopedAdmin, ReadOnlyInline, format_yuan
from tenants.scoping import current_brand


class ReadOnlyAdmin(BrandScopedAdmin):
    """A record written only by the services (the ledger, payouts, frozen hours): shown, never edited."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Store)
class StoreAdmin(BrandScopedAdmin):
    list_display = ["code", "name", "address", "manager", "status"]
    list_filter = ["status"]
    search_fields = ["code", "name", "address"]


@admin.register(Guide)
class GuideAdmin(BrandScopedAdmin):
    list_display = ["name", "user", "store", "kind", "leader", "status", "openid"]
    list_filter = ["kind", "status", "store"]
    search_fields = ["name", "user__username"]
    list_select_related = ["user", "store", "leader"]
    readonly_fields = ["status", "left_at"]
    actions = ["leave"]

    @admin.action(description=_("Mark as left (customers fall back to the store)"))
    def leave(self, request, queryset):
        for guide in queryset.filter(status=Guide.Status.ACTIVE):
            store_services.guide_leave(brand=guide.brand, guide=guide)


@admin.register(ShareCode)
class ShareCodeAdmin(BrandScopedAdmin):
    list_display = ["scene", "guide", "target", "title", "visits", "created_at"]
    list_filter = ["target"]
    search_fields = ["scene", "title", "guide__name"]
    readonly_fields = ["scene", "guide", "target", "room", "product", "store", "title", "page", "visits", "poster"]
    exclude = ["code_png", "poster_png"]

    def has_add_permission(self, request):
        return False  # a share needs its code and poster: made through the API

    @admin.display(description=_("poster"))
    def poster(self, share):
        return format_html(
            '<a href="/api/v1/console/shares/{}/poster.png">poster.png</a> ({})', share.pk, _("console API")
        )


@admin.register(Binding)
class BindingAdmin(ReadOnlyAdmin):
    list_display = ["customer", "guide", "store", "bound_at", "protected_until"]
    list_filter = ["store"]
    search_fields = ["customer__nickname", "customer__openid", "guide__name"]
    list_select_related = ["customer", "guide", "store"]


@admin.register(CommissionPolicy)
class CommissionPolicyAdmin(BrandScopedAdmin):
    list_display = ["default_rate_bp", "leader_rate_bp", "updated_at"]

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not (
            current_brand() is not None and CommissionPolicy.objects.exists()
        )


@admin.register(CommissionRule)
class CommissionRuleAdmin(BrandScopedAdmin):
    list_display = ["product", "category", "guide_kind", "rate_bp", "created_at"]
    list_filter = ["guide_kind"]
    raw_id_fields = ["product"]


@admin.register(CommissionEntry)
class CommissionEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "guide", "kind", "role", "amount", "order", "settlement", "note"]
    list_filter = ["kind", "role"]
    search_fields = ["guide__name", "order__number", "note"]
    list_select_related = ["guide", "order", "settlement"]


class SettlementEntryInline(ReadOnlyInline):
    model = CommissionEntry
    fields = ["kind", "role", "amount", "order", "note", "created_at"]


@admin.register(Settlement)
class SettlementAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "guide", "amount", "status", "transfer_state", "failure_reason", "out_bill_no"]
    list_filter = ["status"]
    search_fields = ["guide__name", "out_bill_no", "transfer_bill_no"]
    list_select_related = ["guide"]
    inlines = [SettlementEntryInline]
    actions = ["settle_again"]

    @admin.action(description=_("Settle these guides again now (failed payouts were released)"))
    def settle_again(self, request, queryset):
        for guide_id, brand in {(s.guide_id, s.brand) for s in queryset.select_related("brand")}:
            result = settlement_services.settle_guide(brand=brand, guide_id=guide_id)
            if result is None:
                messages.info(request, gettext("Guide %(guide)s: nothing payable.") % {"guide": guide_id})
            else:
                messages.info(
                    request,
                    gettext("Guide %(guide)s: %(amount)s, %(status)s.")
                    % {"guide": guide_id, "amount": format_yuan(result.amount), "status": result.get_status_display()},
                )


@admin.register(Campaign)
class CampaignAdmin(BrandScopedAdmin):
    list_display = ["name", "starts_at", "ends_at", "rewards"]
    filter_horizontal = ["rooms"]


class LeaderboardEntryInline(ReadOnlyInline):
    model = LeaderboardEntry
    fields = ["rank", "guide", "gmv", "orders", "reward"]


@admin.register(LeaderboardHour)
class LeaderboardHourAdmin(ReadOnlyAdmin):
    list_display = ["campaign", "hour_start", "frozen_at"]
    list_filter = ["campaign"]
    inlines = [LeaderboardEntryInline]
