"""The operator's web admin for live rooms. Every change goes through livestream.services, so the
admin keeps the same rules as the console API (lead time, transitions, approved products only)."""

from datetime import datetime, timedelta

from django import forms
from django.contrib import admin, messages
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, re_path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from commerce.models import Product
from coupons.models import CouponTemplate
from guides.models import Guide
from livestream import reports
from livestream.api.reports import report_export
from livestream.models import (
    Comment,
    CoStream,
    Festival,
    FollowUp,
    FollowUpRecipient,
    GiftBox,
    GiftBoxOpening,
    GiftBoxPrize,
    LiveRoom,
    Lottery,
    LotteryWinner,
    Mute,
    ReminderSubscription,
    RoomProduct,
    Venue,
)
from livestream.services import follow_ups, gift_boxes, live, lotteries, room_products, rooms
from tenants import scoping
from tenants.admin_site import BrandScopedAdmin, BrandScopedInline, BrandScopedModelForm, PlatformAdmin, ReadOnlyInline
from tenants.errors import Conflict, DomainError


def run_service(model_admin, request, action, *args, **kwargs):
    """Run a service; a rule it refuses becomes a message, never a 500."""
    try:
        return action(*args, **kwargs)
    except DomainError as exc:
        model_admin.message_user(request, exc.message, messages.ERROR)
        return None


class RoomProductInline(BrandScopedInline):
    model = RoomProduct
    fields = ["product", "position", "on_sale"]
    extra = 1
    max_num = RoomProduct.MAX_PER_ROOM
    exclude = ["brand"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "product":
            kwargs["queryset"] = Product.objects.filter(audit_status=Product.AuditStatus.APPROVED).exclude(
                status=Product.Status.ARCHIVED
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_add_permission(self, request, obj=None):
        open_room = obj is not None and obj.status not in room_products.CLOSED
        return open_room and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        open_room = obj is None or obj.status not in room_products.CLOSED
        return open_room and super().has_change_permission(request, obj)


class LiveRoomForm(BrandScopedModelForm):
    class Meta:
        model = LiveRoom
        fields = ["brand", *sorted(rooms.EDITABLE_FIELDS)]

    def _post_clean(self):
        super()._post_clean()  # the instance now holds the form's values
        if self.errors:
            return
        rescheduled = self.instance.pk is None or bool({"scheduled_start", "scheduled_end"} & set(self.changed_data))
        try:
            rooms.validate_room(self.instance, now=timezone.now(), check_lead=rescheduled)
        except DomainError as exc:
            for field, errors in (exc.fields or {None: [exc.message]}).items():
                self.add_error(field if field in self.fields else None, errors)


@admin.register(LiveRoom)
class LiveRoomAdmin(BrandScopedAdmin):
    form = LiveRoomForm
    list_display = [
        "title",
        "status",
        "scheduled_start",
        "started_at",
        "ended_at",
        "host_store",
        "like_total",
        "report_link",
    ]
    list_filter = ["status", "kind"]
    search_fields = ["title", "anchor_name"]
    date_hierarchy = "scheduled_start"
    readonly_fields = [
        "status",
        "status_reason",
        "started_at",
        "ended_at",
        "pushed_product",
        "costream_code",
        "push_url",
        "like_total",
        "peak_online",
    ]
    inlines = [RoomProductInline]
    actions = ["start", "pause", "resume", "end", "cancel"]
    list_select_related = ["host_store"]

    def get_urls(self):
        report = self.admin_site.admin_view(lambda request, object_id: room_report_view(self, request, object_id))
        export = self.admin_site.admin_view(
            lambda request, object_id, kind: room_report_export_view(self, request, object_id, kind)
        )
        return [
            path("<path:object_id>/report/", report, name="livestream_liveroom_report"),
            re_path(
                r"^(?P<object_id>[0-9]+)/report\.(?P<kind>csv|xlsx)$", export, name="livestream_liveroom_report_export"
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("report"))
    def report_link(self, room):
        if room.started_at is None:
            return "—"
        url = reverse("admin:livestream_liveroom_report", args=[room.pk])
        return format_html('<a href="{}">{}</a>', url, _("report"))

    @admin.display(description=_("push URL"))
    def push_url(self, room):
        return rooms.push_url(room) if room.pk else ""

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in rooms.EDITABLE_FIELDS if name in form.cleaned_data}
        if change:
            rooms.room_update(brand=obj.brand, room=obj, **fields)
        else:
            brand = form.cleaned_data.get("brand") or scoping.current_brand()
            created = rooms.room_create(brand=brand, **fields)
            obj.pk, obj.brand = created.pk, created.brand
            obj.refresh_from_db()

    def save_formset(self, request, form, formset, change):
        if formset.model is not RoomProduct:
            return super().save_formset(request, form, formset, change)
        room = form.instance
        formset.save(commit=False)  # sorts the rows into new, changed and deleted; the services write
        for listing in formset.deleted_objects:
            run_service(
                self,
                request,
                room_products.room_product_remove,
                brand=room.brand,
                room=room,
                product_id=listing.product_id,
            )
        new = [listing.product_id for listing in formset.new_objects]
        if new:
            run_service(self, request, room_products.room_products_add, brand=room.brand, room=room, product_ids=new)
        for listing, changed in formset.changed_objects:
            if "on_sale" in changed:
                run_service(
                    self,
                    request,
                    room_products.room_product_set_sale,
                    brand=room.brand,
                    room=room,
                    product_id=listing.product_id,
                    on_sale=listing.on_sale,
                )
            if "position" in changed:
                RoomProduct.objects.filter(pk=listing.pk).update(position=listing.position)

    def _act(self, request, queryset, action):
        done = sum(run_service(self, request, action, brand=room.brand, room=room) is not None for room in queryset)
        if done:
            self.message_user(request, gettext("%(count)d room(s) updated.") % {"count": done}, messages.SUCCESS)

    @admin.action(description=_("Start the selected rooms"))
    def start(self, request, queryset):
        self._act(request, queryset, rooms.room_start)

    @admin.action(description=_("Pause the selected rooms"))
    def pause(self, request, queryset):
        self._act(request, queryset, rooms.room_pause)

    @admin.action(description=_("Resume the selected rooms"))
    def resume(self, request, queryset):
        self._act(request, queryset, rooms.room_resume)

    @admin.action(description=_("End the selected rooms"))
    def end(self, request, queryset):
        self._act(request, queryset, rooms.room_end)

    @admin.action(description=_("Cancel the selected rooms (before they start)"))
    def cancel(self, request, queryset):
        self._act(request, queryset, rooms.room_cancel)


@admin.register(ReminderSubscription)
class ReminderSubscriptionAdmin(BrandScopedAdmin):
    list_display = ["room", "customer", "status", "sent_at", "error"]
    list_filter = ["status"]
    list_select_related = ["room", "customer"]
    search_fields = ["room__title", "customer__openid"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CoStream)
class CoStreamAdmin(BrandScopedAdmin):
    list_display = ["inviter_room", "invitee_room", "status", "created_at", "accepted_at", "ended_at"]
    list_filter = ["status"]
    list_select_related = ["inviter_room", "invitee_room"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Venue)
class VenueAdmin(BrandScopedAdmin):
    list_display = ["festival", "room", "status", "joined_at", "left_at"]
    list_filter = ["status"]
    list_select_related = ["festival", "room"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Festival)
class FestivalAdmin(PlatformAdmin):
    """Festivals are the platform operator's."""

    list_display = ["name", "status", "starts_at", "ends_at", "main_room"]
    list_filter = ["status"]
    raw_id_fields = ["main_room"]


@admin.register(Comment)
class CommentAdmin(BrandScopedAdmin):
    list_display = ["id", "room", "customer", "text", "status", "is_pinned", "created_at"]
    list_filter = ["status", "is_pinned"]
    search_fields = ["text", "customer__nickname"]
    list_select_related = ["room", "customer"]
    actions = ["hide", "show"]
    readonly_fields = ["id", "room", "customer", "text", "status", "is_pinned", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Hide the selected comments"))
    def hide(self, request, queryset):
        for comment in queryset:
            run_service(self, request, live.comment_hide, brand=comment.brand, comment=comment, hidden=True)

    @admin.action(description=_("Show the selected comments again"))
    def show(self, request, queryset):
        for comment in queryset:
            run_service(self, request, live.comment_hide, brand=comment.brand, comment=comment, hidden=False)


class MuteForm(BrandScopedModelForm):
    class Meta:
        model = Mute
        fields = ["brand", "customer", "room", "until", "reason"]

    def clean_until(self):
        until = self.cleaned_data.get("until")
        if until is not None and until <= timezone.now():
            raise forms.ValidationError(_("A mute ends in the future."))
        return until


@admin.register(Mute)
class MuteAdmin(BrandScopedAdmin):
    form = MuteForm
    list_display = ["customer", "room", "until", "reason", "created_at"]
    raw_id_fields = ["customer", "room"]
    list_select_related = ["customer", "room"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        brand = form.cleaned_data.get("brand") or scoping.current_brand()
        created = run_service(
            self,
            request,
            live.mute_create,
            brand=brand,
            customer=obj.customer,
            room=obj.room,
            until=obj.until,
            reason=obj.reason,
        )
        if created is not None:
            obj.pk = created.pk

    def delete_model(self, request, obj):
        live.mute_lift(brand=obj.brand, mute=obj)


# --- the post-show report page ---------------------------------------------------------------------


class FollowUpForm(forms.Form):
    segment = forms.ChoiceField(
        choices=FollowUp.Segment.choices, initial=FollowUp.Segment.WATCHED_NOT_BOUGHT, label=_("segment")
    )
    guide = forms.ModelChoiceField(
        queryset=Guide.objects.none(), required=False, help_text=_("Only their customers."), label=_("guide")
    )
    coupon_template = forms.ModelChoiceField(
        queryset=CouponTemplate.objects.none(), required=False, label=_("coupon template")
    )
    message_text = forms.CharField(
        max_length=20, required=False, help_text=_("A subscribe message's line (≤ 20)."), label=_("message text")
    )

    def __init__(self, *args, brand, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["guide"].queryset = Guide.objects.filter(brand=brand)
        self.fields["coupon_template"].queryset = CouponTemplate.objects.filter(brand=brand, status="active")


TABLE_TITLES = {
    "sources": _("Sources"),
    "guides": _("Guides"),
    "stores": _("Stores"),
    "top_products": _("Top products"),
    "pushes": _("Pushes"),
    "lotteries": _("Lotteries"),
    "gift_boxes": _("Gift boxes"),
    "group_buys": _("Group buys"),
    "bargains": _("Bargains"),
}
# The report's column names (reports.EXPORT_COLUMNS and SECTION_COLUMNS) as the page heads them.
COLUMN_LABELS = {
    "id": "ID",
    "source": _("source"),
    "visits": _("visits"),
    "viewers": _("viewers"),
    "visitors": _("visitors"),
    "orders": _("orders"),
    "paid_orders": _("paid orders"),
    "gmv": _("paid GMV (fen)"),
    "buyers": _("buyers"),
    "refunded_orders": _("refunded orders"),
    "refunded": _("refunded (fen)"),
    "name": _("name"),
    "commission": _("commission (fen)"),
    "product_id": _("product ID"),
    "product_name": _("product"),
    "product": _("product"),
    "clicks": _("clicks"),
    "clickers": _("customers clicking"),
    "quantity": _("quantity"),
    "amount": _("amount (fen)"),
    "started_at": _("started at"),
    "ended_at": _("ended at"),
    "room_id": _("room ID"),
    "title": _("title"),
    "prize_kind": _("prize kind"),
    "prize": _("prize"),
    "status": _("status"),
    "prizes": _("prizes"),
    "entries": _("entries"),
    "winners": _("winners"),
    "coupons_issued": _("coupons issued"),
    "issue_failed": _("issue failed"),
    "addresses_given": _("addresses given"),
    "awaiting_address": _("awaiting address"),
    "lapsed": _("lapsed"),
    "watch_minutes": _("watch minutes"),
    "openings": _("openings"),
    "prizes_won": _("prizes won"),
    "coupons": _("coupons"),
    "items": _("items"),
    "points": _("points"),
    "group_size": _("group size"),
    "price": _("price (fen)"),
    "groups": _("groups"),
    "succeeded": _("succeeded"),
    "failed": _("failed"),
    "open": _("open"),
    "members": _("members"),
    "floor_price": _("floor price (fen)"),
    "helpers_needed": _("helpers needed"),
    "started": _("started"),
    "purchased": _("purchased"),
    "expired": _("expired"),
    "helps": _("helps"),
    "helpers": _("helpers"),
}
MAX_CHART_MINUTES = 24 * 60  # a longer show is charted at the minutes that have figures only


def report_charts(report: dict, tz) -> dict:
    """What the report page's charts draw: every minute of the show in order (minutes without a
    figure as zeros), labelled in the brand's time zone, with the pushes at their minutes."""
    rows = {row["minute"]: row for row in report["minutes"]}
    moments = sorted(datetime.fromisoformat(key + "+00:00") for key in rows)
    if moments and moments[-1] - moments[0] <= timedelta(minutes=MAX_CHART_MINUTES):
        span = int((moments[-1] - moments[0]).total_seconds() // 60)
        moments = [moments[0] + timedelta(minutes=n) for n in range(span + 1)]
    several_days = bool(moments) and moments[0].astimezone(tz).date() != moments[-1].astimezone(tz).date()
    shape = "%m-%d %H:%M" if several_days else "%H:%M"

    def label(moment):
        return moment.astimezone(tz).strftime(shape)

    def series(name):
        return [rows.get(moment.strftime("%Y-%m-%dT%H:%M"), {}).get(name, 0) for moment in moments]

    funnel = report["funnel"]
    return {
        "minutes": [label(moment) for moment in moments],
        "online": series("online"),
        "likes": series("likes"),
        "orders": series("orders"),
        "paid": series("paid_orders"),
        "pushes": [
            {"label": label(push["started_at"].replace(second=0, microsecond=0)), "name": push["product_name"]}
            for push in report["pushes"]
        ],
        "funnel": {
            "labels": [gettext("viewers"), gettext("clicked a product"), gettext("ordered"), gettext("paid")],
            "values": [funnel[step] for step in ("viewers", "clicked", "ordered", "paid")],
        },
        "sources": {
            "labels": [row["source"] for row in report["sources"]],
            "viewers": [row["viewers"] for row in report["sources"]],
            "gmv": [row["gmv"] / 100 for row in report["sources"]],
        },
        "text": {
            "time_axis": gettext("minute (%(zone)s)") % {"zone": str(tz)},
            "online": gettext("viewers online"),
            "likes": gettext("likes per minute"),
            "orders": gettext("orders"),
            "paid": gettext("paid orders"),
            "orders_axis": gettext("orders per minute"),
            "customers": gettext("customers"),
            "viewers": gettext("viewers"),
            "gmv": gettext("paid GMV (yuan)"),
            "yuan": gettext("yuan (¥)"),
            "push": gettext("push"),
        },
    }


def _percent(ratio: float) -> str:
    return f"{ratio * 100:.2f}"


def _yuan(fen: int) -> str:
    return f"{fen / 100:,.2f}"


def room_report_view(model_admin, request, object_id):
    """The room's post-show report with its charts; a follow-up to one segment is sent from here."""
    room = model_admin.get_object(request, object_id)
    if room is None or not model_admin.has_view_permission(request, room):
        raise Http404("No such live room.")
    brand = room.brand
    with scoping.brand_scope(brand):
        form = FollowUpForm(request.POST or None, brand=brand)
        if request.method == "POST" and model_admin.has_change_permission(request, room) and form.is_valid():
            data = form.cleaned_data
            follow_up = run_service(
                model_admin,
                request,
                follow_ups.follow_up_create,
                brand=brand,
                room=room,
                segment=data["segment"],
                guide_id=data["guide"].pk if data["guide"] else None,
                coupon_template_id=data["coupon_template"].pk if data["coupon_template"] else None,
                message_text=data["message_text"],
                staff=request.user,
            )
            if follow_up is not None:
                model_admin.message_user(
                    request,
                    gettext("Follow-up to %(count)d customer(s) is on its way.") % {"count": follow_up.recipient_count},
                )
                return HttpResponseRedirect(request.path)
        report = reports.room_report(brand=brand, room=room)
        sent = [
            {"follow_up": row, "progress": follow_ups.follow_up_progress(row)}
            for row in FollowUp.objects.filter(room=room).order_by("-created_at")[:20]
        ]
    tz = brand.tz
    charts = report_charts(report, tz)
    tables = [
        (TABLE_TITLES.get(name, name), [COLUMN_LABELS.get(column, column) for column in rows[0]], rows[1:])
        for name, rows in reports.report_tables(report, tz)
        if name in ("sources", "guides", "stores", "top_products", "pushes", *reports.SECTION_COLUMNS)
    ]
    context = {
        **model_admin.admin_site.each_context(request),
        "title": gettext("Report: %(room)s") % {"room": room.title},
        "opts": model_admin.model._meta,
        "room": room,
        "report": report,
        "charts": charts,
        "tables": tables,
        "gmv_yuan": _yuan(report["orders"]["gmv"]),
        "aov_yuan": _yuan(report["orders"]["average_order_value"]),
        "conversion": _percent(report["orders"]["conversion"]),
        "click_rate": _percent(report["clicks"]["click_rate"]),
        "group_buy_gmv_yuan": _yuan(report["group_buys"]["totals"]["gmv"]),
        "refund_count": _percent(report["orders"]["refund_rate_by_count"]),
        "refund_amount": _percent(report["orders"]["refund_rate_by_amount"]),
        "follow_up_form": form,
        "follow_ups": sent,
    }
    return TemplateResponse(request, "admin/livestream/liveroom/report.html", context)


def room_report_export_view(model_admin, request, object_id, kind):
    """The report's CSV or XLSX from the admin, with the admin's session (the console API's
    export needs a token); the same file, of the room of the brand in scope only."""
    room = model_admin.get_object(request, object_id)
    if room is None or not model_admin.has_view_permission(request, room):
        raise Http404("No such live room.")
    with scoping.brand_scope(room.brand):
        report = reports.room_report(brand=room.brand, room=room)
    return report_export(report, brand=room.brand, kind=kind, name=f"{room.brand.slug}-room-{room.pk}-report")


class FollowUpRecipientInline(ReadOnlyInline):
    model = FollowUpRecipient
    fields = ["customer", "status", "coupon", "message_sent", "error", "done_at"]
    max_num = 0


@admin.register(FollowUp)
class FollowUpAdmin(BrandScopedAdmin):
    list_display = ["room", "segment", "guide", "coupon_template", "message_text", "status", "recipient_count"]
    list_filter = ["status", "segment"]
    inlines = [FollowUpRecipientInline]

    def has_add_permission(self, request):
        return False  # sent from the room's report page or the console API, through the service

    def has_change_permission(self, request, obj=None):
        return False


# --- lotteries and gift boxes --------------------------------------------------------------------


class LotteryForm(BrandScopedModelForm):
    class Meta:
        model = Lottery
        fields = [
            "room",
            "title",
            "prize_kind",
            "coupon_template",
            "prize_name",
            "winner_count",
            "rule",
            "keyword",
            "draw_at",
            "address_hours",
        ]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        room = data["room"]
        try:
            if room.status not in lotteries.OPEN_ROOMS:
                raise Conflict("room_not_live", "A lottery is opened in a live room.", fields={"room": ["Not live."]})
            lotteries.clean_lottery(
                title=data["title"],
                prize_kind=data["prize_kind"],
                coupon_template_id=data["coupon_template"].pk if data.get("coupon_template") else None,
                prize_name=data.get("prize_name", ""),
                winner_count=data["winner_count"],
                rule=data["rule"],
                keyword=data.get("keyword", ""),
                draw_at=data.get("draw_at"),
                now=timezone.now(),
            )
        except DomainError as exc:
            for field, errors in (exc.fields or {None: [exc.message]}).items():
                field = "coupon_template" if field == "coupon_template_id" else field
                self.add_error(field if field in self.fields else None, errors)
        return data


class LotteryWinnerInline(ReadOnlyInline):
    model = LotteryWinner
    fields = ["rank", "customer", "status", "coupon", "address_deadline", "recipient", "phone", "address"]


@admin.register(Lottery)
class LotteryAdmin(BrandScopedAdmin):
    """Open a lottery (in a live room), watch its entrants and winners, draw or stop it."""

    form = LotteryForm
    list_display = ["title", "room", "status", "rule", "winner_count", "entrant_count", "draw_at", "drawn_at"]
    list_filter = ["status", "rule", "prize_kind"]
    list_select_related = ["room"]
    search_fields = ["title", "room__title"]
    readonly_fields = ["commitment", "status", "entrant_count", "winner_ids", "opened_at", "drawn_at", "stopped_at"]
    inlines = [LotteryWinnerInline]
    actions = ["draw", "stop"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "room":
            kwargs["queryset"] = LiveRoom.objects.filter(status__in=lotteries.OPEN_ROOMS)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        created = lotteries.lottery_open(
            brand=data["room"].brand,
            room=data["room"],
            title=data["title"],
            prize_kind=data["prize_kind"],
            coupon_template_id=data["coupon_template"].pk if data.get("coupon_template") else None,
            prize_name=data.get("prize_name", ""),
            winner_count=data["winner_count"],
            rule=data["rule"],
            keyword=data.get("keyword", ""),
            draw_at=data.get("draw_at"),
            address_hours=data["address_hours"],
        )
        obj.pk, obj.brand = created.pk, created.brand
        obj.refresh_from_db()

    def _act(self, request, queryset, action):
        done = sum(run_service(self, request, action, brand=x.brand, lottery=x) is not None for x in queryset)
        if done:
            self.message_user(request, gettext("%(count)d lottery(ies) updated.") % {"count": done}, messages.SUCCESS)

    @admin.action(description=_("Draw the selected lotteries now"))
    def draw(self, request, queryset):
        self._act(request, queryset, lotteries.lottery_draw)

    @admin.action(description=_("Stop the selected lotteries without a draw"))
    def stop(self, request, queryset):
        self._act(request, queryset, lotteries.lottery_stop)


class GiftBoxPrizeInline(ReadOnlyInline):
    model = GiftBoxPrize
    fields = ["kind", "name", "coupon_template", "points", "weight", "stock", "remaining"]


@admin.register(GiftBox)
class GiftBoxAdmin(BrandScopedAdmin):
    """Watch a box's prizes and stock left, and stop it; boxes are put in a room from the console."""

    list_display = ["title", "room", "status", "watch_minutes", "created_at", "stopped_at"]
    list_filter = ["status"]
    list_select_related = ["room"]
    search_fields = ["title", "room__title"]
    inlines = [GiftBoxPrizeInline]
    actions = ["stop"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Stop the selected gift boxes"))
    def stop(self, request, queryset):
        done = sum(
            run_service(self, request, gift_boxes.gift_box_stop, brand=box.brand, box=box) is not None
            for box in queryset
        )
        if done:
            self.message_user(request, gettext("%(count)d gift box(es) stopped.") % {"count": done}, messages.SUCCESS)


@admin.register(GiftBoxOpening)
class GiftBoxOpeningAdmin(BrandScopedAdmin):
    list_display = ["box", "customer", "prize", "coupon", "points", "watched_seconds", "created_at"]
    list_select_related = ["box", "customer", "prize"]
    search_fields = ["box__title", "customer__openid", "customer__nickname"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
