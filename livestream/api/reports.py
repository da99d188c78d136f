"""The post-show report (复盘) for brand operators: a room's, or the brand's over a date range,
as JSON, CSV or XLSX."""

from datetime import datetime, time, timedelta

from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from livestream import reports, selectors
from livestream.models import FollowUp
from livestream.services import follow_ups
from tenants.api.base import ConsoleAPIView
from tenants.api.fields import IdField
from tenants.errors import InvalidInput, NotFound
from tenants.schema import error_codes

TAGS = ["console: reports"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ReportSectionSerializer(serializers.Serializer):
    totals = serializers.DictField(child=serializers.IntegerField())
    rows = serializers.ListField(child=serializers.DictField())


class ReportSerializer(serializers.Serializer):
    viewers = serializers.DictField(help_text="visits, unique_viewers, new/returning, peak_online, watch seconds")
    clicks = serializers.DictField(
        help_text="clicks (product cards opened), clickers (customers who opened any), click_rate (of viewers)"
    )
    orders = serializers.DictField(help_text="orders, paid_orders, gmv (fen), buyers, conversion, refund rates")
    funnel = serializers.DictField(
        child=serializers.IntegerField(), help_text="customers: viewers → clicked a product → ordered → paid"
    )
    sources = serializers.ListField(child=serializers.DictField())
    guides = serializers.ListField(child=serializers.DictField(), help_text="ranked by paid GMV")
    stores = serializers.ListField(child=serializers.DictField(), help_text="ranked by paid GMV")
    top_products = serializers.ListField(
        child=serializers.DictField(), help_text="sold or clicked: quantity, amount, orders, clicks, clickers"
    )
    coupons = serializers.DictField(child=serializers.IntegerField(), help_text="drops, dropped, claimed, used")
    lotteries = ReportSectionSerializer(help_text="entries, winners, coupons issued, addresses given, awaited, lapsed")
    gift_boxes = ReportSectionSerializer(help_text="openings, prizes won (coupons, items, points)")
    group_buys = ReportSectionSerializer(help_text="groups started/succeeded/failed/open, members, orders paid, GMV")
    bargains = ReportSectionSerializer(help_text="bargains started, succeeded (at the floor), purchased, helps")


class RoomReportSerializer(ReportSerializer):
    room = serializers.DictField()
    minutes = serializers.ListField(child=serializers.DictField(), help_text="online, likes, comments, orders (UTC)")
    pushes = serializers.ListField(child=serializers.DictField(), help_text="each push and what sold during it")


class BrandReportSerializer(ReportSerializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    rooms = serializers.ListField(child=serializers.DictField())


def report_export(report: dict, *, brand, kind: str, name: str):
    """A report as a CSV (streamed) or XLSX download; the console API and the admin answer it alike."""
    if kind == "csv":
        response = StreamingHttpResponse(reports.report_csv(report, brand.tz), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(reports.report_xlsx(report, brand.tz), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{name}.{kind}"'
    return response


EXPORT_KIND = OpenApiParameter("kind", str, OpenApiParameter.PATH, enum=["csv", "xlsx"])


class RoomReportApi(ConsoleAPIView):
    @extend_schema(tags=TAGS, responses=RoomReportSerializer, operation_id="console_room_report")
    def get(self, request, room_id):
        report = reports.room_report(brand=request.brand, room=selectors.get_room(room_id))
        return Response(RoomReportSerializer(report).data)


class RoomReportExportApi(ConsoleAPIView):
    @extend_schema(
        tags=TAGS,
        parameters=[EXPORT_KIND],
        responses={200: OpenApiResponse(description="text/csv or XLSX")},
        operation_id="console_room_report_export",
    )
    def get(self, request, room_id, kind):
        report = reports.room_report(brand=request.brand, room=selectors.get_room(room_id))
        return report_export(report, brand=request.brand, kind=kind, name=f"{request.brand.slug}-room-{room_id}-report")


class RangeSerializer(serializers.Serializer):
    start = serializers.DateField(help_text="First day, in the brand's time zone.")
    end = serializers.DateField(help_text="Last day (included).")

    def bounds(self, tz) -> tuple[datetime, datetime]:
        start, end = self.validated_data["start"], self.validated_data["end"]
        if end < start:
            raise InvalidInput("invalid_range", "The end must not be before the start.", fields={"end": ["Too early."]})
        return (
            datetime.combine(start, time.min, tzinfo=tz),
            datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
        )


def _brand_report(request):
    bounds = RangeSerializer(data=request.query_params)
    bounds.is_valid(raise_exception=True)
    start, end = bounds.bounds(request.brand.tz)
    return reports.brand_report(brand=request.brand, start=start, end=end), bounds.validated_data


class BrandReportApi(ConsoleAPIView):
    @error_codes({400: ["invalid_range"]})
    @extend_schema(tags=TAGS, parameters=[RangeSerializer], responses=BrandReportSerializer)
    def get(self, request):
        report, _ = _brand_report(request)
        return Response(BrandReportSerializer(report).data)


class BrandReportExportApi(ConsoleAPIView):
    @extend_schema(
        tags=TAGS,
        parameters=[RangeSerializer, EXPORT_KIND],
        responses={200: OpenApiResponse(description="text/csv or XLSX")},
    )
    def get(self, request, kind):
        report, days = _brand_report(request)
        name = f"{request.brand.slug}-report-{days['start']}-{days['end']}"
        return report_export(report, brand=request.brand, kind=kind, name=name)


# --- audience follow-up ---------------------------------------------------------------------------


class SegmentQuerySerializer(serializers.Serializer):
    guide_id = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="Only the customers bound to this guide."
    )


class SegmentSizesSerializer(serializers.Serializer):
    sizes = serializers.DictField(child=serializers.IntegerField(), help_text="Customers per segment.")


class RoomSegmentsApi(ConsoleAPIView):
    @extend_schema(tags=TAGS, parameters=[SegmentQuerySerializer], responses=SegmentSizesSerializer)
    def get(self, request, room_id):
        room = selectors.get_room(room_id)
        query = SegmentQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        guide_id = query.validated_data.get("guide_id")
        guide = reports.segment_guide(guide_id) if guide_id is not None else None
        return Response({"sizes": reports.segment_sizes(brand=request.brand, room=room, guide=guide)})


class FollowUpSerializer(serializers.ModelSerializer):
    room_id = serializers.IntegerField(read_only=True)
    guide_id = serializers.IntegerField(read_only=True, allow_null=True)
    coupon_template_id = serializers.IntegerField(read_only=True, allow_null=True)
    progress = serializers.SerializerMethodField()

    class Meta:
        model = FollowUp
        fields = [
            "id",
            "room_id",
            "segment",
            "guide_id",
            "coupon_template_id",
            "message_text",
            "status",
            "recipient_count",
            "progress",
            "created_at",
            "finished_at",
        ]

    def get_progress(self, follow_up) -> dict[str, int]:
        """Recipients by state: pending, sending, done, failed."""
        return follow_ups.follow_up_progress(follow_up)


class FollowUpInputSerializer(serializers.Serializer):
    segment = serializers.ChoiceField(choices=FollowUp.Segment.choices)
    guide_id = IdField(required=False, allow_null=True)
    coupon_template_id = IdField(required=False, allow_null=True)
    message_text = serializers.CharField(max_length=20, required=False, allow_blank=True)


class RoomFollowUpsApi(ConsoleAPIView):
    @extend_schema(tags=TAGS, responses=FollowUpSerializer(many=True))
    def get(self, request, room_id):
        room = selectors.get_room(room_id)
        rows = FollowUp.objects.filter(room=room).order_by("-created_at", "-pk")[:100]
        return Response(FollowUpSerializer(rows, many=True).data)

    @error_codes(
        {
            400: ["invalid_segment", "nothing_to_send"],
            404: ["template_not_found"],
            409: ["empty_segment", "room_not_started"],
        }
    )
    @extend_schema(tags=TAGS, request=FollowUpInputSerializer, responses={201: FollowUpSerializer})
    def post(self, request, room_id):
        room = selectors.get_room(room_id)
        data = FollowUpInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        follow_up = follow_ups.follow_up_create(
            brand=request.brand, room=room, staff=request.user, **data.validated_data
        )
        follow_up.refresh_from_db()
        return Response(FollowUpSerializer(follow_up).data, status=201)


class FollowUpDetailApi(ConsoleAPIView):
    @extend_schema(tags=TAGS, responses=FollowUpSerializer)
    def get(self, request, follow_up_id):
        follow_up = FollowUp.objects.filter(pk=follow_up_id).first()
        if follow_up is None:
            raise NotFound("follow_up_not_found", "No such follow-up.")
        return Response(FollowUpSerializer(follow_up).data)
