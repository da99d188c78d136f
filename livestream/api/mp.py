"""What a viewer's mini-program shows: rooms, a room with its products, reminders, festivals."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.response import Response

from livestream import selectors
from livestream.models import Festival, LiveRoom, Venue
from livestream.realtime import live_counters
from livestream.services import live, reminders
from livestream.services.room_products import product_summary
from livestream.sources import resolve_entry_source
from tenants.api.base import CustomerAPIView
from tenants.api.fields import IdField
from tenants.errors import InvalidInput, NotFound
from tenants.schema import error_codes

TAGS = ["mp: rooms"]


def pushed_product(room: LiveRoom) -> dict | None:
    return product_summary(room.pushed_product.product) if room.pushed_product_id else None


class RoomCardSerializer(serializers.ModelSerializer):
    """A room in the list."""

    host_store = serializers.SerializerMethodField()
    pushed_product = serializers.SerializerMethodField()
    likes = serializers.SerializerMethodField()
    online = serializers.SerializerMethodField()
    subscribed = serializers.SerializerMethodField()

    class Meta:
        model = LiveRoom
        fields = [
            "id",
            "title",
            "anchor_name",
            "cover_image_url",
            "share_image_url",
            "kind",
            "status",
            "scheduled_start",
            "scheduled_end",
            "started_at",
            "ended_at",
            "replay_url",
            "host_store",
            "pushed_product",
            "likes",
            "online",
            "subscribed",
            "comments_enabled",
            "likes_enabled",
            "goods_enabled",
            "share_enabled",
        ]

    def get_host_store(self, room) -> dict | None:
        store = room.host_store
        return {"id": store.pk, "name": store.name} if store else None

    def get_pushed_product(self, room) -> dict | None:
        return pushed_product(room)

    def get_likes(self, room) -> int:
        return self.context["counters"][room.pk]["likes"]

    def get_online(self, room) -> int:
        return self.context["counters"][room.pk]["online"]

    def get_subscribed(self, room) -> bool:
        return room.pk in self.context["subscribed"]


class MpRoomListApi(CustomerAPIView, generics.ListAPIView):
    """Live rooms first, then upcoming ones (soonest first), then replays. Filter with ``status``."""

    serializer_class = RoomCardSerializer

    def get_queryset(self):
        status = self.request.query_params.get("status") or None
        if status is not None and status not in selectors.MP_LISTS:
            raise InvalidInput("invalid", "status is live, upcoming or replay.", fields={"status": ["Unknown."]})
        return selectors.mp_room_list(status)

    @extend_schema(
        tags=TAGS,
        parameters=[OpenApiParameter("status", str, enum=list(selectors.MP_LISTS), required=False)],
    )
    def get(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        context = {
            "counters": live_counters(page),
            "subscribed": selectors.subscribed_room_ids(request.customer, [room.pk for room in page]),
        }
        return self.get_paginated_response(RoomCardSerializer(page, many=True, context=context).data)


class SkuSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    spec = serializers.CharField()
    price = serializers.IntegerField(help_text="Fen.")
    in_stock = serializers.BooleanField(read_only=True)


# The schema of a product card; the cards come ready from selectors.sellable_product_cards.
class RoomProductCardSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    cover_url = serializers.CharField()
    images = serializers.ListField(child=serializers.CharField())
    price_type = serializers.CharField()
    price = serializers.IntegerField()
    price2 = serializers.IntegerField(allow_null=True)
    position = serializers.IntegerField()
    skus = SkuSerializer(many=True)


class MpRoomDetailSerializer(RoomCardSerializer):
    products = serializers.SerializerMethodField()
    costream = serializers.SerializerMethodField()
    source = serializers.SerializerMethodField()

    class Meta(RoomCardSerializer.Meta):
        fields = [*RoomCardSerializer.Meta.fields, "products", "costream", "source"]

    @extend_schema_field(RoomProductCardSerializer(many=True))
    def get_products(self, room) -> list[dict]:
        return room.sellable_products  # the cards, ready (selectors.sellable_product_cards)

    def get_costream(self, room) -> dict | None:
        costream = self.context["costream"]
        if costream is None:
            return None
        partner = costream.other_room(room)
        return {
            "id": costream.pk,
            "partner": {
                "room_id": partner.pk,
                "title": partner.title,
                "brand": partner.brand.name,
                "appid": partner.brand.appid,
                "pushed_product": pushed_product(partner),
                "source": f"costream:{costream.pk}",
            },
        }

    def get_source(self, room) -> dict:
        return self.context["source"].as_dict()


class MpRoomDetailApi(CustomerAPIView):
    """A room with its on-sale products, counters, the viewer's reminder and any co-stream.

    ``source`` says where the viewer came from (``festival:<id>``, ``costream:<id>``,
    ``reminder``, ``scene:<scene>``); it is checked against this room and echoed, and the
    mini-program passes it on with the viewer's orders.
    """

    @error_codes({400: ["invalid_source"]})
    @extend_schema(
        responses={200: MpRoomDetailSerializer},
        tags=TAGS,
        parameters=[OpenApiParameter("source", str, required=False)],
    )
    def get(self, request, room_id):
        room = selectors.mp_room_detail(room_id)
        context = {
            "counters": live_counters([room]),
            "subscribed": selectors.subscribed_room_ids(request.customer, [room.pk]),
            "costream": selectors.active_costream(room) if room.is_open and room.has_costream else None,
            "source": resolve_entry_source(room, request.query_params.get("source", "")),
        }
        return Response(MpRoomDetailSerializer(room, context=context).data)


class MpRoomReminderApi(CustomerAPIView):
    """Subscribe to (POST) or cancel (DELETE) the room's start reminder. The mini-program asks the
    user with ``wx.requestSubscribeMessage`` first; one grant is one reminder."""

    class OutputSerializer(serializers.Serializer):
        subscribed = serializers.BooleanField()

    @error_codes({409: ["room_not_upcoming"]})
    @extend_schema(request=None, responses={200: OutputSerializer}, tags=TAGS)
    def post(self, request, room_id):
        reminders.reminder_subscribe(brand=request.brand, room=selectors.get_room(room_id), customer=request.customer)
        return Response({"subscribed": True})

    @extend_schema(request=None, responses={200: OutputSerializer}, tags=TAGS)
    def delete(self, request, room_id):
        reminders.reminder_unsubscribe(brand=request.brand, room=selectors.get_room(room_id), customer=request.customer)
        return Response({"subscribed": False})


class MpProductClickApi(CustomerAPIView):
    """The viewer opened a product's card in the room (for the report's funnel). Answered at once
    with 202; the click is counted in the live store and saved with the next flush. ``404
    room_not_found``, ``404 product_not_in_room``, ``429 click_rate_limited``."""

    class InputSerializer(serializers.Serializer):
        product = IdField(help_text="The product's id.")

    @error_codes({404: ["product_not_in_room"], 429: ["click_rate_limited"]})
    @extend_schema(request=InputSerializer, responses={202: None}, tags=TAGS)
    def post(self, request, room_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        live.product_click(
            brand=request.brand, room_id=room_id, product_id=data.validated_data["product"], customer=request.customer
        )
        return Response(status=202)


class MpFestivalApi(CustomerAPIView):
    """A published festival the viewer's brand takes part in: the main venue and every joined
    room, of any brand (each with its mini-program appid, to open it with navigateToMiniProgram)."""

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        name = serializers.CharField()
        starts_at = serializers.DateTimeField()
        ends_at = serializers.DateTimeField()
        main_room_id = serializers.IntegerField(allow_null=True)
        venues = serializers.ListField(child=serializers.DictField())

    @extend_schema(responses={200: OutputSerializer}, tags=TAGS)
    def get(self, request, festival_id):
        festival = Festival.objects.filter(pk=festival_id, status=Festival.Status.PUBLISHED).first()
        venues = list(
            Venue.unscoped.filter(festival_id=festival_id, status=Venue.Status.JOINED, room__isnull=False)
            .select_related("room", "brand")
            .order_by("pk")
        )
        if festival is None or not any(venue.brand_id == request.brand.pk for venue in venues):
            raise NotFound("festival_not_found", "No such festival.")
        return Response(
            {
                "id": festival.pk,
                "name": festival.name,
                "starts_at": festival.starts_at,
                "ends_at": festival.ends_at,
                "main_room_id": festival.main_room_id,
                "venues": [
                    {
                        "room_id": v.room_id,
                        "title": v.room.title,
                        "status": v.room.status,
                        "cover_image_url": v.room.cover_image_url,
                        "brand": v.brand.name,
                        "appid": v.brand.appid,
                        "is_main_venue": v.room_id == festival.main_room_id,
                        "source": f"festival:{festival.pk}",
                    }
                    for v in venues
                ],
            }
        )
