"""Brand operators run their rooms: schedule, fill, run the show, co-stream, join festivals."""

import django_filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response

from commerce.selectors import room_sales
from guides.models import Store
from livestream import selectors
from livestream.models import CoStream, LiveRoom, ReminderSubscription, RoomProduct, Venue
from livestream.realtime import live_counters, store
from livestream.services import costreams, festivals, room_products, rooms
from livestream.services.costreams import costream_event_data
from tenants.api.base import ConsoleAPIView
from tenants.api.filters import BrandFilterSet
from tenants.errors import NotFound
from tenants.schema import error_codes

TAGS = ["console: rooms"]


class RoomSerializer(serializers.ModelSerializer):
    host_store_id = serializers.IntegerField(read_only=True, allow_null=True)
    pushed_product_id = serializers.SerializerMethodField()
    push_url = serializers.SerializerMethodField(help_text="The whole push URL, stream key included.")
    push_server = serializers.SerializerMethodField(help_text="The push URL's server part (OBS: 服务器).")
    stream_key = serializers.SerializerMethodField(help_text="The rest of the push URL (OBS: 串流密钥).")

    class Meta:
        model = LiveRoom
        fields = [
            "id",
            "title",
            "anchor_name",
            "anchor_wechat",
            "cover_image_url",
            "share_image_url",
            "kind",
            "host_store_id",
            "scheduled_start",
            "scheduled_end",
            "started_at",
            "ended_at",
            "status",
            "status_reason",
            "comments_enabled",
            "likes_enabled",
            "goods_enabled",
            "replay_enabled",
            "share_enabled",
            "fanout_mode",
            "pushed_product_id",
            "replay_url",
            "push_url",
            "push_server",
            "stream_key",
            "costream_code",
            "like_total",
            "peak_online",
            "created_at",
        ]

    def get_pushed_product_id(self, room) -> int | None:
        return room.pushed_product.product_id if room.pushed_product_id else None

    def get_push_url(self, room) -> str:
        return rooms.push_url(room)

    def get_push_server(self, room) -> str:
        return rooms.push_settings(room)[0]

    def get_stream_key(self, room) -> str:
        return rooms.push_settings(room)[1]


class RoomInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=34)
    anchor_name = serializers.CharField(max_length=30)
    anchor_wechat = serializers.CharField(max_length=64, required=False, allow_blank=True)
    cover_image_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    share_image_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=LiveRoom.Kind.choices, required=False)
    host_store_id = serializers.IntegerField(required=False, allow_null=True, help_text="A store's own show.")
    scheduled_start = serializers.DateTimeField()
    scheduled_end = serializers.DateTimeField()
    comments_enabled = serializers.BooleanField(required=False)
    likes_enabled = serializers.BooleanField(required=False)
    goods_enabled = serializers.BooleanField(required=False)
    replay_enabled = serializers.BooleanField(required=False)
    share_enabled = serializers.BooleanField(required=False)
    fanout_mode = serializers.ChoiceField(
        choices=LiveRoom.FanoutMode.choices,
        required=False,
        help_text="ticks: one coalesced frame per 150 ms per viewer (very large rooms); sockets that join after.",
    )


def room_fields(validated: dict) -> dict:
    """Serializer data → service arguments: the store id becomes the brand's store, or 404."""
    fields = dict(validated)
    if "host_store_id" in fields:
        store_id = fields.pop("host_store_id")
        store = Store.objects.filter(pk=store_id).first() if store_id is not None else None
        if store_id is not None and store is None:
            raise NotFound("store_not_found", "No such store.", fields={"host_store_id": ["No such store."]})
        fields["host_store"] = store
    return fields


class RoomFilter(BrandFilterSet):
    starts_after = django_filters.IsoDateTimeFilter(field_name="scheduled_start", lookup_expr="gte")
    starts_before = django_filters.IsoDateTimeFilter(field_name="scheduled_start", lookup_expr="lt")

    class Meta:
        model = LiveRoom
        fields = ["status", "host_store"]


class RoomListCreateApi(ConsoleAPIView, generics.ListAPIView):
    """The brand's rooms, newest schedule first; create a room."""

    serializer_class = RoomSerializer
    filterset_class = RoomFilter

    def get_queryset(self):
        return LiveRoom.objects.select_related("brand", "pushed_product").order_by("-scheduled_start", "-pk")

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @error_codes({404: ["store_not_found"]})
    @extend_schema(request=RoomInputSerializer, responses={201: RoomSerializer}, tags=TAGS)
    def post(self, request):
        data = RoomInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        room = rooms.room_create(brand=request.brand, **room_fields(data.validated_data))
        return Response(RoomSerializer(room).data, status=201)


class RoomDetailApi(ConsoleAPIView):
    class OutputSerializer(RoomSerializer):
        reminders = serializers.SerializerMethodField()

        class Meta(RoomSerializer.Meta):
            fields = [*RoomSerializer.Meta.fields, "reminders"]

        def get_reminders(self, room) -> dict[str, int]:
            counts = dict.fromkeys(ReminderSubscription.Status.values, 0)
            for status in room.reminders.values_list("status", flat=True):
                counts[status] += 1
            return counts

    @extend_schema(responses={200: OutputSerializer}, tags=TAGS)
    def get(self, request, room_id):
        return Response(self.OutputSerializer(selectors.get_room(room_id)).data)

    @error_codes({409: ["room_already_started", "room_closed"]})
    @extend_schema(request=RoomInputSerializer(partial=True), responses={200: RoomSerializer}, tags=TAGS)
    def patch(self, request, room_id):
        room = selectors.get_room(room_id)
        data = RoomInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        room = rooms.room_update(brand=request.brand, room=room, **room_fields(data.validated_data))
        return Response(RoomSerializer(room).data)


class RoomStatsApi(ConsoleAPIView):
    """The show's live counters: online now and peak, likes, and what the room sold. The live
    console polls it for orders and GMV (viewers are never sent those on the room's socket)."""

    class OutputSerializer(serializers.Serializer):
        room_id = serializers.IntegerField()
        status = serializers.CharField()
        online = serializers.IntegerField()
        peak_online = serializers.IntegerField()
        likes = serializers.IntegerField()
        orders = serializers.IntegerField(help_text="Orders placed in the room, whatever became of them.")
        paid_orders = serializers.IntegerField()
        paid_gmv = serializers.IntegerField(help_text="Fen paid for the room's orders, before refunds.")
        refunded = serializers.IntegerField(help_text="Fen refunded on the room's orders.")

    @extend_schema(responses={200: OutputSerializer}, tags=TAGS)
    def get(self, request, room_id):
        room = selectors.get_room(room_id)
        counters = live_counters([room])[room.pk]
        peak = max(store().peaks([room.pk]).get(room.pk, 0), room.peak_online)
        return Response(
            {
                "room_id": room.pk,
                "status": room.status,
                "online": counters["online"],
                "peak_online": max(peak, counters["online"]),
                "likes": counters["likes"],
                **room_sales(room_id=room.pk),
            }
        )


ROOM_ACTIONS = {
    "start": rooms.room_start,
    "pause": rooms.room_pause,
    "resume": rooms.room_resume,
    "end": rooms.room_end,
    "cancel": rooms.room_cancel,
}


class RoomActionApi(ConsoleAPIView):
    """Run the show: start, pause, resume, end, or cancel before it starts. A transition that the
    room's state does not allow answers 409 ``invalid_transition`` with the current status."""

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=200, required=False, default="", help_text="For cancel.")

    @error_codes({409: ["invalid_transition", "too_many_live_rooms"]})
    @extend_schema(
        request=InputSerializer,
        responses={200: RoomSerializer},
        tags=TAGS,
        parameters=[OpenApiParameter("action", str, "path", enum=list(ROOM_ACTIONS))],
        operation_id="console_room_action",
    )
    def post(self, request, room_id, action):
        room = selectors.get_room(room_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        kwargs = {"reason": data.validated_data["reason"]} if action == "cancel" else {}
        room = ROOM_ACTIONS[action](brand=request.brand, room=room, **kwargs)
        return Response(RoomSerializer(room).data)


class RoomReplayApi(ConsoleAPIView):
    class InputSerializer(serializers.Serializer):
        replay_url = serializers.URLField(max_length=500)

    @error_codes({409: ["room_not_ended"]})
    @extend_schema(request=InputSerializer, responses={200: RoomSerializer}, tags=TAGS)
    def post(self, request, room_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        room = rooms.room_set_replay(brand=request.brand, room=selectors.get_room(room_id), **data.validated_data)
        return Response(RoomSerializer(room).data)


class RoomStreamKeyApi(ConsoleAPIView):
    """Reset the room's stream key (重置推流密钥): the old push URL stops working for the room; the
    answer carries the new ``push_url``, ``push_server`` and ``stream_key``."""

    @error_codes({409: ["room_closed"]})
    @extend_schema(request=None, responses={200: RoomSerializer}, tags=TAGS)
    def post(self, request, room_id):
        room = rooms.room_reset_stream_key(brand=request.brand, room=selectors.get_room(room_id))
        return Response(RoomSerializer(room).data)


class RoomSkuSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    spec = serializers.CharField()
    price = serializers.IntegerField(help_text="Fen: what a buyer pays (change it with PATCH /skus/{id}).")
    stock = serializers.IntegerField(help_text="Units left (change it with POST /skus/{id}/stock).")
    is_active = serializers.BooleanField()


class RoomProductSerializer(serializers.ModelSerializer):
    product_id = serializers.IntegerField()
    name = serializers.CharField(source="product.name")
    cover_url = serializers.CharField(source="product.cover_url")
    audit_status = serializers.CharField(source="product.audit_status")
    product_status = serializers.CharField(source="product.status")
    price_type = serializers.CharField(source="product.price_type")
    price = serializers.IntegerField(source="product.price", help_text="Fen: the price shown (PATCH /products/{id}).")
    price2 = serializers.IntegerField(source="product.price2", allow_null=True, help_text="Fen: range top or discount.")
    stock = serializers.SerializerMethodField(help_text="Units left over the product's SKUs on sale.")
    skus = serializers.SerializerMethodField()

    class Meta:
        model = RoomProduct
        fields = [
            *("product_id", "name", "cover_url", "position", "on_sale", "audit_status", "product_status"),
            *("price_type", "price", "price2", "stock", "skus"),
        ]

    def get_stock(self, listing) -> int:
        return sum(sku.stock for sku in listing.product.skus.all() if sku.is_active)

    def get_skus(self, listing) -> RoomSkuSerializer(many=True):
        return RoomSkuSerializer(sorted(listing.product.skus.all(), key=lambda sku: sku.pk), many=True).data


def room_listings(room):
    """The room's products in order, each with its SKUs (a constant number of queries)."""
    return RoomProduct.objects.filter(room=room).select_related("product").prefetch_related("product__skus")


class RoomProductsApi(ConsoleAPIView):
    """The room's products in order; add approved products (at most 500 per room)."""

    class InputSerializer(serializers.Serializer):
        product_ids = serializers.ListField(child=serializers.IntegerField(), min_length=1, max_length=500)

    @extend_schema(responses={200: RoomProductSerializer(many=True)}, tags=TAGS)
    def get(self, request, room_id):
        return Response(RoomProductSerializer(room_listings(selectors.get_room(room_id)), many=True).data)

    @error_codes(
        {
            404: ["product_not_found"],
            409: ["product_archived", "product_not_approved", "room_closed", "room_products_full"],
        }
    )
    @extend_schema(request=InputSerializer, responses={200: RoomProductSerializer(many=True)}, tags=TAGS)
    def post(self, request, room_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        room = selectors.get_room(room_id)
        room_products.room_products_add(brand=request.brand, room=room, **data.validated_data)
        return Response(RoomProductSerializer(room_listings(room), many=True).data)


class RoomProductRemoveApi(ConsoleAPIView):
    @error_codes({404: ["product_not_in_room"], 409: ["room_closed"]})
    @extend_schema(responses={204: None}, tags=TAGS)
    def delete(self, request, room_id, product_id):
        room_products.room_product_remove(brand=request.brand, room=selectors.get_room(room_id), product_id=product_id)
        return Response(status=204)


class RoomProductsOrderApi(ConsoleAPIView):
    class InputSerializer(serializers.Serializer):
        product_ids = serializers.ListField(child=serializers.IntegerField(), max_length=500)

    @error_codes({400: ["order_mismatch"], 409: ["room_closed"]})
    @extend_schema(request=InputSerializer, responses={204: None}, tags=TAGS)
    def post(self, request, room_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        room_products.room_products_reorder(
            brand=request.brand, room=selectors.get_room(room_id), **data.validated_data
        )
        return Response(status=204)


class RoomProductSaleApi(ConsoleAPIView):
    class InputSerializer(serializers.Serializer):
        on_sale = serializers.BooleanField()

    @error_codes({404: ["product_not_in_room"], 409: ["room_closed"]})
    @extend_schema(request=InputSerializer, responses={200: RoomProductSerializer}, tags=TAGS)
    def post(self, request, room_id, product_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        room = selectors.get_room(room_id)
        listing = room_products.room_product_set_sale(
            brand=request.brand, room=room, product_id=product_id, **data.validated_data
        )
        return Response(RoomProductSerializer(room_listings(room).get(pk=listing.pk)).data)


class RoomPushApi(ConsoleAPIView):
    """Present a product now (讲解); ``null`` stops presenting."""

    class InputSerializer(serializers.Serializer):
        product_id = serializers.IntegerField(allow_null=True)

    @error_codes(
        {
            404: ["product_not_in_room"],
            409: ["product_not_on_sale", "product_not_sellable", "room_closed", "room_not_live"],
        }
    )
    @extend_schema(request=InputSerializer, responses={200: RoomSerializer}, tags=TAGS)
    def post(self, request, room_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        room = room_products.room_product_push(
            brand=request.brand, room=selectors.get_room(room_id), **data.validated_data
        )
        return Response(RoomSerializer(room).data)


class CoStreamSerializer(serializers.ModelSerializer):
    inviter_room_id = serializers.IntegerField()
    invitee_room_id = serializers.IntegerField()
    side = serializers.SerializerMethodField()
    partner = serializers.SerializerMethodField()

    class Meta:
        model = CoStream
        fields = [
            "id",
            "status",
            "inviter_room_id",
            "invitee_room_id",
            "side",
            "partner",
            "created_at",
            "accepted_at",
            "ended_at",
        ]

    def _own_room(self, costream):
        brand = self.context["brand"]
        return costream.inviter_room if costream.brand_id == brand.pk else costream.invitee_room

    def get_side(self, costream) -> str:
        return "inviter" if costream.brand_id == self.context["brand"].pk else "invitee"

    def get_partner(self, costream) -> dict:
        return costream_event_data(costream, self._own_room(costream))["partner"]


class CoStreamInviteApi(ConsoleAPIView):
    """Invite another live room, named by the co-stream code its operator gave you."""

    class InputSerializer(serializers.Serializer):
        room_code = serializers.CharField(max_length=16)

    @error_codes({400: ["same_room"], 409: ["already_linked", "room_not_live"]})
    @extend_schema(request=InputSerializer, responses={201: CoStreamSerializer}, tags=TAGS)
    def post(self, request, room_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        costream = costreams.costream_invite(
            brand=request.brand, room=selectors.get_room(room_id), **data.validated_data
        )
        return Response(CoStreamSerializer(costream, context={"brand": request.brand}).data, status=201)


class CoStreamListApi(ConsoleAPIView, generics.ListAPIView):
    """Co-streams the brand takes part in, on either side (filter by ``status``)."""

    serializer_class = CoStreamSerializer
    filterset_fields = ["status"]

    def get_queryset(self):
        return CoStream.objects.select_related("inviter_room__brand", "invitee_room__brand").order_by("-pk")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "brand": self.request.brand}

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


COSTREAM_ACTIONS = {
    "accept": costreams.costream_accept,
    "decline": costreams.costream_decline,
    "end": costreams.costream_end,
}


class CoStreamActionApi(ConsoleAPIView):
    """The invited brand accepts or declines; either side ends."""

    @error_codes({409: ["invalid_transition", "room_not_live"]})
    @extend_schema(
        request=None,
        responses={200: CoStreamSerializer},
        tags=TAGS,
        parameters=[OpenApiParameter("action", str, "path", enum=list(COSTREAM_ACTIONS))],
        operation_id="console_costream_action",
    )
    def post(self, request, costream_id, action):
        costream = COSTREAM_ACTIONS[action](brand=request.brand, costream=costreams.get_costream(costream_id))
        return Response(CoStreamSerializer(costream, context={"brand": request.brand}).data)


class VenueSerializer(serializers.ModelSerializer):
    festival_id = serializers.IntegerField()
    festival_name = serializers.CharField(source="festival.name")
    festival_status = serializers.CharField(source="festival.status")
    starts_at = serializers.DateTimeField(source="festival.starts_at")
    ends_at = serializers.DateTimeField(source="festival.ends_at")
    room_id = serializers.IntegerField(allow_null=True)
    is_main_venue = serializers.SerializerMethodField()

    class Meta:
        model = Venue
        fields = [
            "festival_id",
            "festival_name",
            "festival_status",
            "starts_at",
            "ends_at",
            "status",
            "room_id",
            "is_main_venue",
            "joined_at",
            "left_at",
        ]

    def get_is_main_venue(self, venue) -> bool:
        return venue.room_id is not None and venue.room_id == venue.festival.main_room_id


class ConsoleFestivalListApi(ConsoleAPIView, generics.ListAPIView):
    """Festivals the platform invited the brand to."""

    serializer_class = VenueSerializer

    def get_queryset(self):
        return Venue.objects.select_related("festival").order_by("-festival__starts_at")

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class VenueJoinApi(ConsoleAPIView):
    """Accept a festival invitation with one of the brand's rooms (or change the room)."""

    class InputSerializer(serializers.Serializer):
        room_id = serializers.IntegerField()

    @error_codes({404: ["room_not_found"], 409: ["festival_ended", "room_closed", "room_is_main_venue"]})
    @extend_schema(request=InputSerializer, responses={200: VenueSerializer}, tags=TAGS)
    def post(self, request, festival_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        venue = festivals.venue_join(
            brand=request.brand,
            venue=festivals.get_venue(request.brand, festival_id),
            room=selectors.get_room(data.validated_data["room_id"]),
        )
        return Response(VenueSerializer(venue).data)


class VenueLeaveApi(ConsoleAPIView):
    @error_codes({409: ["invalid_transition"]})
    @extend_schema(request=None, responses={200: VenueSerializer}, tags=TAGS)
    def post(self, request, festival_id):
        venue = festivals.venue_leave(brand=request.brand, venue=festivals.get_venue(request.brand, festival_id))
        return Response(VenueSerializer(venue).data)
