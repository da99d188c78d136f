"""The platform operator: festivals across brands, and taking a room down."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response

from livestream.models import Festival, LiveRoom, Venue
from livestream.selectors import get_room
from livestream.services import festivals, rooms
from tenants.api.base import PlatformAPIView
from tenants.api.platform import get_brand
from tenants.errors import NotFound
from tenants.schema import error_codes

TAGS = ["platform: festivals"]


class PlatformVenueSerializer(serializers.ModelSerializer):
    brand_id = serializers.IntegerField()
    brand = serializers.CharField(source="brand.name")
    room_id = serializers.IntegerField(allow_null=True)

    class Meta:
        model = Venue
        fields = ["brand_id", "brand", "status", "room_id", "invited_at", "joined_at", "left_at"]


class FestivalSerializer(serializers.ModelSerializer):
    venues = PlatformVenueSerializer(many=True, read_only=True)

    class Meta:
        model = Festival
        fields = ["id", "name", "starts_at", "ends_at", "main_room", "status", "venues", "created_at"]
        read_only_fields = ["main_room", "status"]


class FestivalInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()


def festivals_with_venues():
    return Festival.objects.prefetch_related("venues__brand").order_by("-starts_at", "-pk")


def get_festival(festival_id) -> Festival:
    festival = festivals_with_venues().filter(pk=festival_id).first()
    if festival is None:
        raise NotFound("festival_not_found", "No such festival.")
    return festival


class PlatformFestivalListCreateApi(PlatformAPIView, generics.ListAPIView):
    serializer_class = FestivalSerializer
    filterset_fields = ["status"]

    def get_queryset(self):
        return festivals_with_venues()

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=FestivalInputSerializer, responses={201: FestivalSerializer}, tags=TAGS)
    def post(self, request):
        data = FestivalInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        festival = festivals.festival_create(**data.validated_data)
        return Response(FestivalSerializer(get_festival(festival.pk)).data, status=201)


class PlatformFestivalDetailApi(PlatformAPIView):
    @extend_schema(responses={200: FestivalSerializer}, tags=TAGS)
    def get(self, request, festival_id):
        return Response(FestivalSerializer(get_festival(festival_id)).data)

    @extend_schema(request=FestivalInputSerializer(partial=True), responses={200: FestivalSerializer}, tags=TAGS)
    def patch(self, request, festival_id):
        data = FestivalInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        festivals.festival_update(festival=get_festival(festival_id), **data.validated_data)
        return Response(FestivalSerializer(get_festival(festival_id)).data)


class PlatformFestivalInviteApi(PlatformAPIView):
    """Invite a brand; it joins with one of its rooms from its console."""

    class InputSerializer(serializers.Serializer):
        brand_id = serializers.IntegerField()

    @error_codes({404: ["brand_not_found"], 409: ["already_invited", "brand_suspended", "festival_ended"]})
    @extend_schema(request=InputSerializer, responses={201: FestivalSerializer}, tags=TAGS)
    def post(self, request, festival_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        festivals.festival_invite(festival=get_festival(festival_id), brand=get_brand(data.validated_data["brand_id"]))
        return Response(FestivalSerializer(get_festival(festival_id)).data, status=201)


class PlatformFestivalMainRoomApi(PlatformAPIView):
    class InputSerializer(serializers.Serializer):
        room_id = serializers.IntegerField()

    @error_codes({409: ["room_not_in_festival"]})
    @extend_schema(request=InputSerializer, responses={200: FestivalSerializer}, tags=TAGS)
    def post(self, request, festival_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        festivals.festival_set_main_room(festival=get_festival(festival_id), **data.validated_data)
        return Response(FestivalSerializer(get_festival(festival_id)).data)


FESTIVAL_ACTIONS = {"publish": festivals.festival_publish, "end": festivals.festival_end}


class PlatformFestivalActionApi(PlatformAPIView):
    @error_codes({409: ["invalid_transition", "main_room_required"]})
    @extend_schema(
        request=None,
        responses={200: FestivalSerializer},
        tags=TAGS,
        parameters=[OpenApiParameter("action", str, "path", enum=list(FESTIVAL_ACTIONS))],
        operation_id="platform_festival_action",
    )
    def post(self, request, festival_id, action):
        FESTIVAL_ACTIONS[action](festival=get_festival(festival_id))
        return Response(FestivalSerializer(get_festival(festival_id)).data)


class PlatformRoomBanApi(PlatformAPIView):
    """Take any brand's room down (违规), from any state."""

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=200)

    class OutputSerializer(serializers.ModelSerializer):
        class Meta:
            model = LiveRoom
            fields = ["id", "brand", "title", "status", "status_reason", "ended_at"]

    @error_codes({409: ["invalid_transition"]})
    @extend_schema(request=InputSerializer, responses={200: OutputSerializer}, tags=["platform"])
    def post(self, request, room_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        room = rooms.room_ban(room=get_room(room_id), **data.validated_data)
        return Response(self.OutputSerializer(room).data)
