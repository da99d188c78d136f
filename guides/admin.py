from django.contrib import admin

from guides.models import Guide, Store
from tenants.admin_site import BrandScopedAdmin


@admin.register(Store)
class StoreAdmin(BrandScopedAdmin):
    list_display = ["code", "name", "address", "status"]
    list_filter = ["status"]
    search_fields = ["code", "name", "address"]


@admin.register(Guide)
class GuideAdmin(BrandScopedAdmin):
    list_display = ["name", "user", "store", "kind", "leader", "status"]
    list_filter = ["kind", "status", "store"]
    search_fields = ["name", "user__username"]
    raw_id_fields = ["user"]
    list_select_related = ["user", "store", "leader"]
