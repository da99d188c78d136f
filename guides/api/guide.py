"""The guide's mobile endpoints (``/api/v1/guide/``): their shares, customers, orders, commission
and the leaderboard; store managers (and team leaders) also see their guides."""

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response

from guides import selectors
from guides.api.common import (
    PNG,
    BalancesSerializer,
    GuideSerializer,
    LeaderboardQuerySerializer,
    LeaderboardSerializer,
    LedgerEntrySerializer,
    SettlementSerializer,
    ShareSerializer,
    leaderboard_payload,
    png_response,
)
from guides.models import CommissionEntry, Guide, Settlement, ShareCode
from guides.services import shares
from livestream import reports
from livestream.services import follow_ups
from tenants.api.base import GuideAPIView
from tenants.api.fields import IdField
from tenants.errors import InvalidInput, NotFound
from tenants.schema import error_codes

TAGS = ["guide"]
IMAGES = ("code", "poster")


def _image_url(share_id, name):
    return reverse("guide-share-image", kwargs={"share_id": share_id, "image": name})


class SalesSerializer(serializers.Serializer):
    orders = serializers.IntegerField()
    gmv = serializers.IntegerField(help_text="Fen paid, minus refunds.")


class GuideDashboardApi(GuideAPIView):
    """Today and this hour: orders and GMV; commission pending / payable / settled; rank this hour."""

    class RankSerializer(serializers.Serializer):
        campaign_id = serializers.IntegerField()
        rank = serializers.IntegerField(allow_null=True)
        ranked = serializers.IntegerField(help_text="Guides ranked this hour.")

    class OutputSerializer(serializers.Serializer):
        guide = GuideSerializer()
        today = SalesSerializer()
        this_hour = SalesSerializer()
        commission = BalancesSerializer()
        bound_customers = serializers.IntegerField()
        rank = serializers.SerializerMethodField()

        def get_rank(self, data) -> dict | None:
            return data["rank"]

    @error_codes({404: ["guide_not_found"]})
    @extend_schema(responses={200: OutputSerializer}, tags=TAGS)
    def get(self, request):
        guide = selectors.guide_of(request.user)
        return Response(self.OutputSerializer(selectors.guide_dashboard(brand=request.brand, guide=guide)).data)


class GuideShareListCreateApi(GuideAPIView, generics.ListAPIView):
    """My shares, newest first; share a room, a product or a store (the same target again answers
    the same share)."""

    serializer_class = ShareSerializer

    class InputSerializer(serializers.Serializer):
        target = serializers.ChoiceField(choices=ShareCode.Target.choices)
        target_id = IdField()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ShareCode.objects.none()
        return selectors.guide_shares(selectors.guide_of(self.request.user))

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "image_url": _image_url}

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @error_codes({404: ["product_not_found"], 409: ["guide_inactive"], 502: ["wechat_error", "wechat_unavailable"]})
    @extend_schema(request=InputSerializer, responses={200: ShareSerializer, 201: ShareSerializer}, tags=TAGS)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        guide = selectors.guide_of(request.user)
        share, created = shares.share_create(brand=request.brand, guide=guide, **data.validated_data)
        return Response(ShareSerializer(share, context={"image_url": _image_url}).data, status=201 if created else 200)


class GuideShareImageApi(GuideAPIView):
    """A share's mini-program code or poster, as PNG (only the guide's own shares)."""

    @extend_schema(responses={200: PNG}, tags=TAGS)
    def get(self, request, share_id, image):
        if image not in IMAGES:
            raise NotFound("not_found", "No such image.")
        guide = selectors.guide_of(request.user)
        share = ShareCode.objects.filter(pk=share_id, guide=guide).only(f"{image}_png", "scene").first()
        if share is None:
            raise NotFound("share_not_found", "No such share.")
        return png_response(getattr(share, f"{image}_png"), f"{share.scene}-{image}.png")


class GuideCustomerListApi(GuideAPIView, generics.ListAPIView):
    """Customers bound to me, most recently bound first."""

    class OutputSerializer(serializers.Serializer):
        customer_id = serializers.IntegerField()
        nickname = serializers.CharField(source="customer.nickname")
        avatar_url = serializers.CharField(source="customer.avatar_url")
        bound_at = serializers.DateTimeField()
        protected_until = serializers.DateTimeField()

    serializer_class = OutputSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Guide.objects.none()
        return selectors.guide_customers(selectors.guide_of(self.request.user))

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class GuideOrderListApi(GuideAPIView, generics.ListAPIView):
    """Orders credited to me (paid or later), newest first."""

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        number = serializers.CharField()
        status = serializers.CharField()
        customer_nickname = serializers.CharField(source="customer.nickname")
        room_id = serializers.IntegerField(allow_null=True)
        source_kind = serializers.CharField()
        payable = serializers.IntegerField()
        refunded_total = serializers.IntegerField()
        created_at = serializers.DateTimeField()
        paid_at = serializers.DateTimeField(allow_null=True)
        completed_at = serializers.DateTimeField(allow_null=True)

    serializer_class = OutputSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Guide.objects.none()
        return selectors.guide_orders(selectors.guide_of(self.request.user)).select_related("customer")

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class GuideLedgerApi(GuideAPIView, generics.ListAPIView):
    """My commission ledger, newest first: every accrual, reversal, adjustment and payout."""

    serializer_class = LedgerEntrySerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CommissionEntry.objects.none()
        return selectors.guide_ledger(selectors.guide_of(self.request.user))

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class GuideSettlementListApi(GuideAPIView, generics.ListAPIView):
    """My payouts, newest first (a failed one shows why)."""

    serializer_class = SettlementSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Settlement.objects.none()
        return Settlement.objects.filter(guide=selectors.guide_of(self.request.user)).select_related("guide")

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class GuideLeaderboardApi(GuideAPIView):
    """The hourly ranking of the running campaign (or ``?campaign=``), this hour or ``?hour=``."""

    @extend_schema(parameters=[LeaderboardQuerySerializer], responses={200: LeaderboardSerializer}, tags=TAGS)
    def get(self, request):
        return Response(LeaderboardSerializer(leaderboard_payload(request.query_params)).data)


class GuideTeamApi(GuideAPIView, generics.ListAPIView):
    """A store manager's guides (of the stores they manage) and a team leader's team, with today's
    sales, bound customers and commission balances."""

    class OutputSerializer(GuideSerializer):
        stats = serializers.SerializerMethodField()

        class Meta(GuideSerializer.Meta):
            fields = [*GuideSerializer.Meta.fields, "stats"]

        def get_stats(self, guide) -> dict:
            return self.context["stats"][guide.pk]

    serializer_class = OutputSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Guide.objects.none()
        guide = Guide.objects.filter(user=self.request.user).first()
        return selectors.team_guides(user=self.request.user, guide=guide).select_related("leader")

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        stats = selectors.team_stats(brand=request.brand, guides=page)
        return self.get_paginated_response(self.OutputSerializer(page, many=True, context={"stats": stats}).data)


class GuideFollowUpListApi(GuideAPIView, generics.ListAPIView):
    """My to-do list after a show: customers bound to me who watched and did not buy."""

    class OutputSerializer(serializers.Serializer):
        room_id = serializers.IntegerField()
        room_title = serializers.CharField(source="room__title")
        room_started_at = serializers.DateTimeField(source="room__started_at")
        customer_id = serializers.IntegerField()
        nickname = serializers.CharField(source="customer__nickname")
        watched_seconds = serializers.IntegerField()
        contacted = serializers.BooleanField()

    serializer_class = OutputSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Guide.objects.none()
        room_id = self.request.query_params.get("room_id")
        if room_id is not None and not room_id.isdigit():
            raise InvalidInput("invalid_room_id", "room_id is a room's id.", fields={"room_id": ["An integer."]})
        guide = selectors.guide_of(self.request.user)
        return reports.guide_follow_up_list(brand=self.request.brand, guide=guide, room_id=room_id and int(room_id))

    @error_codes({400: ["invalid_room_id"]})
    @extend_schema(tags=TAGS, parameters=[OpenApiParameter("room_id", int, description="Only this show.")])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class GuideFollowUpContactedApi(GuideAPIView):
    """Mark a customer of my list contacted (one-to-one follow-up done)."""

    class OutputSerializer(serializers.Serializer):
        room_id = serializers.IntegerField()
        customer_id = serializers.IntegerField()
        contacted_at = serializers.DateTimeField()

    @error_codes({404: ["follow_up_not_found"]})
    @extend_schema(request=None, responses={200: OutputSerializer}, tags=TAGS)
    def post(self, request, room_id, customer_id):
        contact = follow_ups.audience_contact_mark(
            brand=request.brand, guide=selectors.guide_of(request.user), room_id=room_id, customer_id=customer_id
        )
        return Response(self.OutputSerializer(contact).data)
