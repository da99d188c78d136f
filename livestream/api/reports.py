"""The post-show report (复盘) for brand operators: a room's, or the brand's over a date range,
as JSON, CSV or XLSX."""

from datetime import datetime, time, timedelta

from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from livestream import reports, selectors
from tenants.api.base import ConsoleAPIView
from tenants.errors import InvalidInput

TAGS = ["console: reports"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ReportSerializer(serializers.Serializer):
    viewers = serializers.DictField(help_text="visits, unique_viewers, new/returning, peak_online, watch seconds")
    orders = serializers.DictField(help_text="orders, paid_orders, gmv (fen), buyers, conversion, refund rates")
    funnel = serializers.DictField(child=serializers.IntegerField(), help_text="viewers → ordered → paid")
    sources = serializers.ListField(child=serializers.DictField())
    guides = serializers.ListField(child=serializers.DictField(), help_text="ranked by paid GMV")
    stores = serializers.ListField(child=serializers.DictField(), help_text="ranked by paid GMV")
    top_products = serializers.ListField(child=serializers.DictField())
    coupons = serializers.DictField(child=serializers.IntegerField(), help_text="drops, dropped, claimed, used")
    sections = serializers.DictField(help_text="Figures other features add (lotteries, group buys).")


class RoomReportSerializer(ReportSerializer):
    room = serializers.DictField()
    minutes = serializers.ListField(child=serializers.DictField(), help_text="online, likes, comments, orders (UTC)")
    pushes = serializers.ListField(child=serializers.DictField(), help_text="each push and what sold during it")


class BrandReportSerializer(ReportSerializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    rooms = serializers.ListField(child=serializers.DictField())


def _export(report: dict, *, brand, kind: str, name: str):
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
        return _export(report, brand=request.brand, kind=kind, name=f"{request.brand.slug}-room-{room_id}-report")


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
        return _export(report, brand=request.brand, kind=kind, name=name)
