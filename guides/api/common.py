"""Serializers and helpers shared by the console and guide APIs."""

from datetime import datetime

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from guides.models import Campaign, CommissionEntry, Guide, LeaderboardHour, Settlement, ShareCode, Store
from guides.services import leaderboard
from tenants.errors import NotFound

PNG = OpenApiResponse(description="image/png")


class StoreSerializer(serializers.ModelSerializer):
    manager = serializers.CharField(source="manager.username", default="", read_only=True)

    class Meta:
        model = Store
        fields = ["id", "code", "name", "address", "latitude", "longitude", "manager", "status", "created_at"]


class GuideSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    store = serializers.SerializerMethodField()
    leader = serializers.SerializerMethodField()

    class Meta:
        model = Guide
        fields = ["id", "username", "name", "kind", "store", "leader", "status", "openid", "joined_at", "left_at"]

    def get_store(self, guide) -> dict | None:
        return {"id": guide.store_id, "code": guide.store.code, "name": guide.store.name} if guide.store else None

    def get_leader(self, guide) -> dict | None:
        return {"id": guide.leader_id, "name": guide.leader.name} if guide.leader else None


class ShareSerializer(serializers.ModelSerializer):
    target_id = serializers.IntegerField(read_only=True)
    guide_id = serializers.IntegerField(read_only=True, allow_null=True)
    code_url = serializers.SerializerMethodField()
    poster_url = serializers.SerializerMethodField()

    class Meta:
        model = ShareCode
        fields = [
            "id",
            "scene",
            "guide_id",
            "target",
            "target_id",
            "title",
            "page",
            "visits",
            "code_url",
            "poster_url",
            "created_at",
        ]

    def _url(self, share, name) -> str:
        return self.context["image_url"](share.pk, name)

    def get_code_url(self, share) -> str:
        return self._url(share, "code")

    def get_poster_url(self, share) -> str:
        return self._url(share, "poster")


class LedgerEntrySerializer(serializers.ModelSerializer):
    order_number = serializers.CharField(source="order.number", default="", read_only=True)
    settlement_status = serializers.CharField(source="settlement.status", default="", read_only=True)

    class Meta:
        model = CommissionEntry
        fields = [
            "id",
            "guide_id",
            "kind",
            "role",
            "amount",
            "order_id",
            "order_number",
            "order_line_id",
            "base_amount",
            "rate_bp",
            "settlement_id",
            "settlement_status",
            "note",
            "created_at",
        ]


class SettlementSerializer(serializers.ModelSerializer):
    guide_name = serializers.CharField(source="guide.name", read_only=True)

    class Meta:
        model = Settlement
        fields = [
            "id",
            "guide_id",
            "guide_name",
            "amount",
            "entry_count",
            "status",
            "out_bill_no",
            "transfer_bill_no",
            "transfer_state",
            "failure_reason",
            "created_at",
            "finished_at",
        ]


class BalancesSerializer(serializers.Serializer):
    pending = serializers.IntegerField(help_text="Fen accrued on orders not yet past the return window.")
    payable = serializers.IntegerField(help_text="Fen the next settlement pays.")
    in_settlement = serializers.IntegerField(help_text="Fen in a transfer on its way.")
    settled = serializers.IntegerField(help_text="Fen paid out.")


class CampaignSerializer(serializers.ModelSerializer):
    room_ids = serializers.PrimaryKeyRelatedField(source="rooms", many=True, read_only=True)
    rewards = serializers.ListField(child=serializers.IntegerField(), help_text="Fen per place, top N.")

    class Meta:
        model = Campaign
        fields = ["id", "name", "starts_at", "ends_at", "room_ids", "rewards", "created_at"]


class PlaceSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    guide_id = serializers.IntegerField()
    guide_name = serializers.CharField()
    gmv = serializers.IntegerField(help_text="Fen paid in the hour, minus refunds within it.")
    orders = serializers.IntegerField()
    reward = serializers.IntegerField()


class LeaderboardSerializer(serializers.Serializer):
    campaign = CampaignSerializer(allow_null=True)
    hour_start = serializers.DateTimeField(allow_null=True)
    frozen = serializers.BooleanField(help_text="True: the hour's ranking and rewards are final.")
    places = PlaceSerializer(many=True)
    frozen_hours = serializers.ListField(child=serializers.DateTimeField())


class LeaderboardQuerySerializer(serializers.Serializer):
    campaign = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    hour = serializers.DateTimeField(required=False, help_text="Any moment of the hour; default: now.")


def leaderboard_payload(query_params) -> dict:
    """The ranking of an hour of a campaign: frozen places if the hour is frozen, else live."""
    query = LeaderboardQuerySerializer(data=query_params)
    query.is_valid(raise_exception=True)
    if "campaign" in query.validated_data:
        campaign = Campaign.objects.filter(pk=query.validated_data["campaign"]).prefetch_related("rooms").first()
        if campaign is None:
            raise NotFound("campaign_not_found", "No such campaign.")
    else:
        campaign = leaderboard.current_campaign()
    if campaign is None:
        return {"campaign": None, "hour_start": None, "frozen": False, "places": [], "frozen_hours": []}
    moment: datetime = query.validated_data.get("hour") or datetime.now(tz=campaign.starts_at.tzinfo)
    hour_start = leaderboard.hour_floor(moment)
    frozen_hours = list(LeaderboardHour.objects.filter(campaign=campaign).values_list("hour_start", flat=True))
    frozen = LeaderboardHour.objects.filter(campaign=campaign, hour_start=hour_start).first()
    if frozen is not None:
        places = [
            {
                "rank": e.rank,
                "guide_id": e.guide_id,
                "guide_name": e.guide.name,
                "gmv": e.gmv,
                "orders": e.orders,
                "reward": e.reward,
            }
            for e in frozen.entries.select_related("guide")
        ]
    else:
        ranked = leaderboard.ranking(campaign=campaign, hour_start=hour_start)
        names = leaderboard.guide_names([place.guide_id for place in ranked])
        places = [{**place.__dict__, "guide_name": names.get(place.guide_id, "")} for place in ranked]
    return {
        "campaign": campaign,
        "hour_start": hour_start,
        "frozen": frozen is not None,
        "places": places,
        "frozen_hours": frozen_hours,
    }


def png_response(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(bytes(data), content_type="image/png")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, max-age=86400"
    return response
