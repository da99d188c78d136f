from django.contrib import admin, messages
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from coupons import services
from coupons.models import Coupon, CouponDrop, CouponTemplate, Redemption, Referral, ReferralProgram
from tenants import scoping
from tenants.admin_site import BrandScopedAdmin
from tenants.errors import DomainError


class ReadOnlyAdmin(BrandScopedAdmin):
    """A record the services write (coupons given out, drops, redemptions): looked at, not edited."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CouponTemplate)
class CouponTemplateAdmin(BrandScopedAdmin):
    list_display = ["name", "kind", "channel", "store", "claimable", "issued", "total_quantity", "status"]
    list_filter = ["status", "kind", "channel", "claimable"]
    search_fields = ["name"]
    readonly_fields = ["issued", "status", "created_at", "updated_at"]
    filter_horizontal = ["products"]
    actions = ["retire"]

    def has_delete_permission(self, request, obj=None):
        return False  # coupons point at their template; retire it instead

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.issued:
            readonly += sorted(services.FROZEN_WHEN_ISSUED - {"store_id"}) + ["store"]
        return readonly

    @admin.action(description=_("Retire (stop giving out; given coupons stay valid)"))
    def retire(self, request, queryset):
        brand_templates = list(queryset.select_related("brand"))
        for template in brand_templates:
            try:
                services.coupon_template_retire(brand=template.brand, template=template)
            except DomainError as exc:
                self.message_user(request, f"{template}: {exc.message}", messages.ERROR)
        self.message_user(request, gettext("Retired %(count)d template(s).") % {"count": len(brand_templates)})


@admin.register(Coupon)
class CouponAdmin(ReadOnlyAdmin):
    list_display = ["pk", "template", "customer", "status", "source", "valid_until", "created_at", "used_at"]
    list_filter = ["status", "source"]
    search_fields = ["template__name", "customer__nickname", "customer__openid"]
    list_select_related = ["template", "customer"]


@admin.register(CouponDrop)
class CouponDropAdmin(ReadOnlyAdmin):
    list_display = ["pk", "room", "template", "quantity", "claimed", "created_at"]
    list_select_related = ["room", "template"]


@admin.register(Redemption)
class RedemptionAdmin(ReadOnlyAdmin):
    list_display = ["pk", "coupon", "store", "guide", "redeemed_at"]
    list_filter = ["store"]
    list_select_related = ["coupon", "store", "guide"]


@admin.register(Referral)
class ReferralAdmin(ReadOnlyAdmin):
    list_display = ["pk", "inviter", "invitee", "accepted_at", "rewarded_at", "reward_coupon"]
    list_select_related = ["inviter", "invitee"]


@admin.register(ReferralProgram)
class ReferralProgramAdmin(BrandScopedAdmin):
    list_display = ["pk", "reward_template", "is_active", "updated_at"]

    def has_add_permission(self, request):
        # One programme per brand: the brand's staff change theirs rather than add another.
        return super().has_add_permission(request) and not (
            scoping.current_brand() is not None and ReferralProgram.objects.exists()
        )
