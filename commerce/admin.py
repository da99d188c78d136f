from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from commerce.models import (
    Bargain,
    BargainHelp,
    BargainOffer,
    FlashSale,
    Group,
    GroupBuyOffer,
    GroupMember,
    Order,
    OrderEvent,
    OrderLine,
    Product,
    Refund,
    Sku,
)
from commerce.services import bargains as bargain_services
from commerce.services import group_buys as group_buy_services
from commerce.services import orders as order_services
from commerce.services import payments as payment_services
from commerce.services import products as services
from tenants import scoping
from tenants.admin_site import BrandScopedAdmin, BrandScopedInline, BrandScopedModelForm, ReadOnlyInline
from tenants.errors import DomainError


class SkuInlineForm(BrandScopedModelForm):
    # The stock the operator was shown: saving applies the difference, so sales made while the
    # page was open still count.
    stock_shown = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Sku
        fields = ["code", "spec", "price", "stock", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["code"].disabled = True  # orders will name SKUs by code; it never changes
            self.fields["stock_shown"].initial = self.instance.stock


class SkuInlineFormSet(BaseInlineFormSet):
    def clean(self):
        """New codes must be free in the product's brand: the form cannot check, brand is not on it."""
        super().clean()
        brand_id = self.instance.brand_id or getattr(scoping.current_brand(), "pk", None)
        new_codes = [
            form.cleaned_data["code"]
            for form in self.forms
            if form.instance.pk is None and form.has_changed() and form.cleaned_data.get("code")
        ]
        duplicates = {code for code in new_codes if new_codes.count(code) > 1}
        if brand_id is not None:
            duplicates |= set(Sku.unscoped.filter(brand_id=brand_id, code__in=new_codes).values_list("code", flat=True))
        if duplicates:
            raise ValidationError(
                gettext("SKU codes already used in this brand: %(codes)s.") % {"codes": ", ".join(sorted(duplicates))}
            )


class SkuInline(BrandScopedInline):
    """A product's SKUs. Writes go through the services; stock edits become a delta on save."""

    model = Sku
    form = SkuInlineForm
    formset = SkuInlineFormSet
    fields = ["code", "spec", "price", "stock", "is_active", "stock_shown"]
    extra = 1
    can_delete = False  # a SKU that is no longer sold is deactivated, so past orders still find it

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Product)
class ProductAdmin(BrandScopedAdmin):
    """The product library. Audit, shelf and archive are actions, so their rules always apply."""

    list_display = ["name", "category", "price_type", "price", "price2", "status", "audit_status", "updated_at"]
    list_filter = ["status", "audit_status", "price_type", "category"]
    search_fields = ["name", "skus__code"]
    readonly_fields = ["status", "audit_status", "audit_reason", "created_at", "updated_at", "archived_at"]
    inlines = [SkuInline]
    actions = ["approve", "put_on_shelf", "take_off_shelf", "archive"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("brand")

    def has_change_permission(self, request, obj=None):
        archived = obj is not None and obj.status == Product.Status.ARCHIVED
        return super().has_change_permission(request, obj) and not archived

    def save_model(self, request, obj, form, change):
        if change:
            fields = {field: form.cleaned_data[field] for field in form.changed_data}
            services.product_update(brand=obj.brand, product=obj, **_editable(fields))
        else:
            brand = scoping.current_brand() or obj.brand  # the platform operator picks it in the form
            created = services.product_create(brand=brand, **_editable(form.cleaned_data))
            obj.pk, obj._state.adding = created.pk, False
        obj.refresh_from_db()  # the admin goes on with this object: show what the service wrote

    def save_formset(self, request, form, formset, change):
        if formset.model is not Sku:
            return super().save_formset(request, form, formset, change)
        formset.save(commit=False)  # fills new_objects / changed_objects for the change log; services write
        product = form.instance
        for sku_form in formset.forms:
            if not sku_form.has_changed():
                continue
            try:
                if sku_form.instance.pk is None:
                    sku_form.instance.pk = self._create_sku(product, sku_form.cleaned_data).pk
                else:
                    self._change_sku(product, sku_form)
            except DomainError as exc:
                self.message_user(
                    request,
                    gettext("SKU %(code)s: %(problem)s") % {"code": sku_form.instance.code, "problem": exc.message},
                    messages.ERROR,
                )

    def _create_sku(self, product, data):
        values = {field: data[field] for field in ("code", "spec", "price", "stock")}
        sku = services.sku_create(brand=product.brand, product=product, **values)
        if not data["is_active"]:
            sku = services.sku_update(brand=product.brand, sku=sku, is_active=False)
        return sku

    def _change_sku(self, product, sku_form):
        data, sku = sku_form.cleaned_data, sku_form.instance
        fields = {field: data[field] for field in sku_form.changed_data if field in services.SKU_EDITABLE_FIELDS}
        if fields:
            services.sku_update(brand=product.brand, sku=sku, **fields)
        delta = data["stock"] - data["stock_shown"] if data.get("stock_shown") is not None else 0
        if delta:
            services.sku_adjust_stock(brand=product.brand, sku=sku, delta=delta)

    def get_deleted_objects(self, objs, request):
        # The delete service decides: SKUs go with their product (no SKU delete permission is
        # needed), and a product that orders protect is archived instead of refused.
        deleted, model_count, _perms_needed, _protected = super().get_deleted_objects(objs, request)
        return deleted, model_count, set(), []

    def delete_model(self, request, obj):
        if services.product_delete(brand=obj.brand, product=obj) == "archived":
            self.message_user(
                request,
                gettext("%(product)s: orders mention it, so it was archived instead.") % {"product": obj},
                messages.WARNING,
            )

    def delete_queryset(self, request, queryset):
        for product in queryset:
            self.delete_model(request, product)

    def _for_each(self, request, queryset, action, done: str):
        succeeded = 0
        for product in queryset:
            try:
                action(brand=product.brand, product=product)
            except DomainError as exc:
                self.message_user(request, f"{product}: {exc.message}", messages.WARNING)
            else:
                succeeded += 1
        if succeeded:
            self.message_user(
                request,
                gettext("%(done)s: %(count)d product(s).") % {"done": done, "count": succeeded},
                messages.SUCCESS,
            )

    @admin.action(description=_("Approve the selected pending products"))
    def approve(self, request, queryset):
        self._for_each(
            request, queryset, lambda **kw: services.product_audit(approve=True, **kw), done=gettext("Approved")
        )

    @admin.action(description=_("Put the selected products on the shelf"))
    def put_on_shelf(self, request, queryset):
        self._for_each(
            request,
            queryset,
            lambda **kw: services.product_set_shelf(on_shelf=True, **kw),
            done=gettext("Put on the shelf"),
        )

    @admin.action(description=_("Take the selected products off the shelf"))
    def take_off_shelf(self, request, queryset):
        self._for_each(
            request,
            queryset,
            lambda **kw: services.product_set_shelf(on_shelf=False, **kw),
            done=gettext("Taken off the shelf"),
        )

    @admin.action(description=_("Archive the selected products"))
    def archive(self, request, queryset):
        self._for_each(request, queryset, services.product_archive, done=gettext("Archived"))


def _editable(values: dict) -> dict:
    return {field: value for field, value in values.items() if field in services.PRODUCT_EDITABLE_FIELDS}


@admin.register(Sku)
class SkuAdmin(BrandScopedAdmin):
    """Every SKU of the brand at a glance; they are edited on their product's page."""

    list_display = ["code", "product", "spec", "price", "stock", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "product__name"]
    list_select_related = ["product"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- orders, refunds, flash sales ---------------------------------------------------------------


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ["product_name", "sku_spec", "unit_price", "quantity", "discount", "refunded_quantity", "refunded_amount"]


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ["created_at", "from_status", "to_status", "actor", "actor_id", "reason"]


@admin.register(Order)
class OrderAdmin(BrandScopedAdmin):
    """Orders are written by the mini-program and the services: the admin reads them, ships them
    (with a tracking number) and cancels unpaid ones."""

    list_display = ["number", "status", "customer", "payable", "room", "guide", "store", "created_at", "paid_at"]
    list_filter = ["status", "delivery", "created_at"]
    search_fields = ["number", "customer__nickname", "customer__openid", "tracking_number"]
    list_select_related = ["customer", "room", "guide", "store"]
    date_hierarchy = "created_at"
    inlines = [OrderLineInline, OrderEventInline]
    actions = ["cancel_unpaid"]
    readonly_fields = [f.name for f in Order._meta.fields if f.name not in ("carrier", "tracking_number")]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """Entering a tracking number on a paid order ships it (through the service)."""
        if obj.status == Order.Status.PAID and obj.tracking_number:
            try:
                order_services.order_ship(
                    brand=obj.brand,
                    order=obj,
                    carrier=obj.carrier,
                    tracking_number=obj.tracking_number,
                    staff=request.user,
                )
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
        elif change and {"carrier", "tracking_number"} & set(form.changed_data):
            Order.objects.filter(pk=obj.pk).update(carrier=obj.carrier, tracking_number=obj.tracking_number)

    @admin.action(description=_("Cancel the selected unpaid orders"))
    def cancel_unpaid(self, request, queryset):
        for order in queryset:
            try:
                order_services.order_cancel(brand=order.brand, order=order, reason="cancelled by the brand")
            except DomainError as exc:
                self.message_user(request, f"{order}: {exc.message}", messages.WARNING)


@admin.register(Refund)
class RefundAdmin(BrandScopedAdmin):
    list_display = ["out_refund_no", "order", "amount", "status", "reason", "created_at", "decided_at"]
    list_filter = ["status"]
    search_fields = ["out_refund_no", "order__number"]
    list_select_related = ["order"]
    actions = ["approve", "reject"]
    readonly_fields = [f.name for f in Refund._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _decide(self, request, queryset, decide):
        for refund in queryset:
            try:
                decide(brand=refund.brand, refund=refund, staff=request.user)
            except DomainError as exc:
                self.message_user(request, f"{refund.out_refund_no}: {exc.message}", messages.WARNING)

    @admin.action(description=_("Approve the selected refunds (pay the money back)"))
    def approve(self, request, queryset):
        self._decide(request, queryset, payment_services.refund_approve)

    @admin.action(description=_("Reject the selected refunds"))
    def reject(self, request, queryset):
        self._decide(request, queryset, payment_services.refund_reject)


@admin.register(FlashSale)
class FlashSaleAdmin(BrandScopedAdmin):
    list_display = [
        "__str__",
        "sku",
        "price",
        "quantity",
        "sold",
        "per_customer_limit",
        "audience",
        "starts_at",
        "ends_at",
        "is_active",
    ]
    list_filter = ["is_active", "audience"]
    raw_id_fields = ["sku", "room"]
    readonly_fields = ["sold"]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return readonly if obj is None else [*readonly, "sku", "quantity"]  # units may already be sold


# --- group buys and bargains -------------------------------------------------------------------


class _OfferAdmin(BrandScopedAdmin):
    """Offers are created here or in the console; stopping goes through the service (which also
    closes a group buy's open groups)."""

    list_filter = ["is_active"]
    raw_id_fields = ["sku", "room"]
    actions = ["stop"]
    stop_service = None

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return readonly if obj is None else [*readonly, "sku", "is_active"]  # customers hold its price

    @admin.action(description=_("Stop the selected offers"))
    def stop(self, request, queryset):
        brand = scoping.current_brand()
        for offer in queryset:
            type(self).stop_service(brand=brand or offer.brand, offer=offer)
        self.message_user(
            request, gettext("Stopped %(count)d offer(s).") % {"count": queryset.count()}, messages.SUCCESS
        )


@admin.register(GroupBuyOffer)
class GroupBuyOfferAdmin(_OfferAdmin):
    list_display = ["__str__", "sku", "group_size", "price", "time_limit_minutes", "starts_at", "ends_at", "is_active"]
    list_filter = ["is_active", "new_customers_only", "fill_one_short"]
    stop_service = staticmethod(group_buy_services.group_buy_offer_stop)


class GroupMemberInline(ReadOnlyInline):
    model = GroupMember
    fields = ["customer", "order", "is_leader", "status", "sharer", "joined_at", "paid_at"]


@admin.register(Group)
class GroupAdmin(BrandScopedAdmin):
    list_display = ["__str__", "offer", "leader", "status", "seats_taken", "paid_count", "size", "expires_at"]
    list_filter = ["status", "filled_short"]
    inlines = [GroupMemberInline]
    fields = [
        "offer",
        "leader",
        "status",
        "size",
        "seats_taken",
        "paid_count",
        "filled_short",
        "expires_at",
        "closed_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(BargainOffer)
class BargainOfferAdmin(_OfferAdmin):
    list_display = [
        "__str__",
        "sku",
        "floor_price",
        "helpers_needed",
        "helps_per_day",
        "starts_at",
        "ends_at",
        "is_active",
    ]
    stop_service = staticmethod(bargain_services.bargain_offer_stop)


class BargainHelpInline(ReadOnlyInline):
    model = BargainHelp
    fields = ["helper", "amount", "day", "created_at"]


@admin.register(Bargain)
class BargainAdmin(BrandScopedAdmin):
    list_display = ["__str__", "offer", "customer", "status", "start_price", "cut_total", "expires_at"]
    list_filter = ["status"]
    inlines = [BargainHelpInline]
    fields = [
        "offer",
        "customer",
        "status",
        "start_price",
        "floor_price",
        "cut_total",
        "slots_used",
        "order",
        "expires_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
