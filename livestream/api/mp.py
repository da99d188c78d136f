"""What a viewer's mini-program shows: rooms, a room with its products, reminders, festivals."""

import contextlib
import json
import re
from collections.abc import Callable

from django.http import HttpResponse, HttpResponseNotModified
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from livestream import room_state, sales, selectors
from livestream.models import Festival, LiveRoom, Venue
from livestream.realtime import live_counters
from livestream.services import live, reminders
from livestream.services.room_products import product_summary
from livestream.sources import DIRECT, resolve_entry_source_from
from tenants import brand_state
from tenants.api.base import CustomerAPIView
from tenants.api.fields import IdField
from tenants.auth import customer_claims
from tenants.errors import DomainError, InvalidInput, NotFound
from tenants.models import Brand
from tenants.schema import error_codes
from tenants.scoping import brand_scope, current_scope

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


class FestivalStateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    main_room_id = serializers.IntegerField(allow_null=True)
    is_main_venue = serializers.BooleanField()


class GameSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["lottery", "gift_box"])
    id = serializers.IntegerField()
    title = serializers.CharField()


class SellingSerializer(serializers.Serializer):
    """What the room sells now (livestream.sales): its products at their regular price, and its
    live-only offers (flash sales of the room); a refusal is the code an order would get."""

    products = serializers.BooleanField()
    products_refusal = serializers.CharField(allow_null=True, help_text=f"Null, or one of {', '.join(sales.REFUSALS)}.")
    live_offers = serializers.BooleanField()
    live_offers_refusal = serializers.CharField(allow_null=True, help_text="Likewise, for the room's flash sales.")


class MpRoomDetailSerializer(RoomCardSerializer):
    """The shared part of a room: the same bytes for every viewer of the room, under one version
    (livestream.room_state). ``likes``/``online`` are spliced in at most a second old; ``source``
    echoes the request's ``?source=``."""

    products = serializers.SerializerMethodField()
    costream = serializers.SerializerMethodField()
    festivals = serializers.SerializerMethodField()
    games = serializers.SerializerMethodField()
    source = serializers.SerializerMethodField()
    selling = serializers.SerializerMethodField()

    class Meta(RoomCardSerializer.Meta):
        fields = [
            *(name for name in RoomCardSerializer.Meta.fields if name != "subscribed"),
            "selling",
            "products",
            "costream",
            "festivals",
            "games",
            "source",
        ]

    @extend_schema_field(SellingSerializer)
    def get_selling(self, room) -> dict:
        return sales.selling(room)

    @extend_schema_field(RoomProductCardSerializer(many=True))
    def get_products(self, room) -> list[dict]:
        return room.sellable_products  # the cards, ready (selectors.sellable_product_cards)

    def get_costream(self, room) -> dict | None:
        costream = self.context["costream"]
        if costream is None or not room.is_open:
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

    @extend_schema_field(FestivalStateSerializer(many=True))
    def get_festivals(self, room) -> list[dict]:
        return self.context["festivals"]

    @extend_schema_field(GameSerializer(many=True))
    def get_games(self, room) -> list[dict]:
        return self.context["games"]

    def get_source(self, room) -> dict:
        return DIRECT.as_dict()


# The fields each answer splices in after the shared head (they are not in the cached bytes).
TAIL_FIELDS = ("likes", "online", "source")


def build_room_head(room_id, brand_id: int) -> tuple[bytes, dict]:
    """The shared part of a room, encoded: the JSON object without the tail fields and without its
    closing brace, and what the tail needs (``room_state.Entry.meta``). Runs in the brand's scope
    (entered here when the hot path has none); raises ``room_not_found``. Three queries, one more
    for each of a co-stream, festivals and each kind of open game the room has."""
    if current_scope() is None:
        with brand_scope(Brand(pk=brand_id)):
            return build_room_head(room_id, brand_id)
    room = selectors.mp_room_detail(room_id)
    costream = selectors.active_costream(room) if room.has_costream else None
    try:
        counters = live_counters([room])[room.pk]
    except room_state.CACHE_ERRORS:
        counters = {"likes": room.like_total, "online": 0}
    context = {
        "counters": {room.pk: counters},
        "costream": costream,
        "festivals": selectors.room_festivals(room) if room.in_festival else [],
        "games": selectors.open_games(room),
    }
    data = MpRoomDetailSerializer(room, context=context).data
    for name in TAIL_FIELDS:
        data.pop(name)
    meta = {
        "like_total": room.like_total,
        "likes": counters["likes"],
        "online": counters["online"],
        "festivals": {festival["id"]: festival["main_room_id"] for festival in context["festivals"]},
        "costream": (costream.pk, costream.other_room(room).pk) if costream else None,
    }
    return JSONRenderer().render(data)[:-1], meta


def room_detail_response(request, *, brand_id: int, room_id: int, check: Callable | None = None) -> HttpResponse:
    """The room detail from the shared part (``room_state``) plus this request's tail: the counters
    and the ``source``. ``304`` when ``If-None-Match`` names the current version. Raises
    ``room_not_found`` and ``invalid_source``; ``check`` sees the cached values first."""
    entry, values = room_state.shared_entry(
        brand_id=brand_id,
        room_id=room_id,
        build=lambda: build_room_head(room_id, brand_id),
        extra_keys=[brand_state.key(brand_id)] if check else [],
        check=check,
    )
    meta = entry.meta
    source = resolve_entry_source_from(
        request.GET.get("source", ""), festivals=meta["festivals"], costream=meta["costream"]
    )
    tag = room_state.etag(room_id, entry.version)
    if tag in request.META.get("HTTP_IF_NONE_MATCH", ""):
        response = HttpResponseNotModified()
    else:
        likes, online = room_state.live_counters(
            brand_id=brand_id, room_id=room_id, entry=entry, cached=values.get(room_state.live_key(brand_id, room_id))
        )
        source_json = _DIRECT_JSON if source is DIRECT else json.dumps(source.as_dict(), separators=(",", ":")).encode()
        tail = b',"likes":%d,"online":%d,"source":%s}' % (likes, online, source_json)
        if ACCEPTS_GZIP.search(request.META.get("HTTP_ACCEPT_ENCODING", "")):
            response = HttpResponse(entry.gzipped(tail), content_type="application/json")
            response["Content-Encoding"] = "gzip"
        else:
            response = HttpResponse(entry.head + tail, content_type="application/json")
    response["ETag"] = tag
    response["Cache-Control"] = "private, no-cache"
    response["Vary"] = "Accept-Encoding"
    return response


ACCEPTS_GZIP = re.compile(r"\bgzip\b")  # as django.middleware.gzip reads Accept-Encoding


_DIRECT_JSON = json.dumps(DIRECT.as_dict(), separators=(",", ":")).encode()


class MpRoomDetailApi(CustomerAPIView):
    """A room as every viewer sees it: its status, on-sale products with prices and stock state,
    the pushed product, counters, any co-stream, the festivals it is a venue of and its open games.

    The answer is the same bytes for every viewer of the room (built once per change of the room,
    served from the cache), with an ``ETag`` naming the room's version: send it back in
    ``If-None-Match`` and an unchanged room answers ``304 Not Modified`` with no body. The ETag is
    weak: ``likes`` and ``online`` may lag the live ones by a second (the room's websocket
    snapshot brings them live). What is the viewer's own (reminder, coupons, limits, groups,
    bargains) is ``GET /api/v1/mp/rooms/{id}/me``.

    ``source`` says where the viewer came from (``festival:<id>``, ``costream:<id>``,
    ``reminder``, ``scene:<scene>``); it is checked against this room and echoed, and the
    mini-program passes it on with the viewer's orders.
    """

    @classmethod
    def as_view(cls, **initkwargs):
        """The view, with the hot path in front: a valid customer token of an active brand is
        answered from the cache without loading the customer or entering DRF (the token is still
        verified, and the brand still comes from it). Anything else — no or a bad token, a brand
        not known to be active, any error — goes the whole way through the API view."""
        view = super().as_view(**initkwargs)

        def room_detail(request, room_id):
            if request.method == "GET":
                answer = _fast_room_detail(request, room_id)
                if answer is not None:
                    return answer
            return view(request, room_id=room_id)

        room_detail.cls, room_detail.initkwargs = view.cls, view.initkwargs
        return csrf_exempt(room_detail)

    @extend_schema(
        responses={200: MpRoomDetailSerializer, 304: None},
        tags=TAGS,
        parameters=[
            OpenApiParameter("source", str, required=False),
            OpenApiParameter(
                "If-None-Match", str, OpenApiParameter.HEADER, required=False, description="The ETag of a copy held."
            ),
        ],
    )
    @error_codes({400: ["invalid_source"]})
    def get(self, request, room_id):
        return room_detail_response(request, brand_id=request.brand.pk, room_id=room_id)


def _fast_room_detail(request, room_id) -> HttpResponse | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header.startswith("Bearer "):
        return None
    claims = customer_claims(header[7:].strip())
    if claims is None:
        return None  # the API view answers 401
    brand_id = claims[1]

    def require_active(values):
        active = values.get(brand_state.key(brand_id))
        if active is None:
            brand = Brand.objects.filter(pk=brand_id).first()
            active = int(brand is not None and brand.is_active)
            with contextlib.suppress(room_state.CACHE_ERRORS):
                brand_state.remember(brand_id, bool(active))
        if not active:
            raise _Decline

    try:
        return room_detail_response(request, brand_id=brand_id, room_id=room_id, check=require_active)
    except (_Decline, DomainError):
        return None


class _Decline(Exception):
    """The hot path leaves this request to the API view."""


class MpRoomViewerApi(CustomerAPIView):
    """What is the viewer's own in a room, apart from the shared room detail (which is the same for
    every viewer and cached): ``subscribed`` (their start reminder), ``coupons`` (claimed from the
    room's drops), ``limits`` (units each running flash sale of the room still allows them),
    ``groups`` (group buys they hold a seat in, still forming) and ``bargains`` (still running).
    The mini-program asks for it beside the room detail on entering, and again after the viewer
    acts (a claim, an order). Five queries; never cached."""

    class OutputSerializer(serializers.Serializer):
        room_id = serializers.IntegerField()
        subscribed = serializers.BooleanField()
        coupons = serializers.ListField(child=serializers.DictField(), help_text="drop_id, coupon_id, status")
        limits = serializers.ListField(child=serializers.DictField(), help_text="flash_sale_id, sku_id, left")
        groups = serializers.ListField(
            child=serializers.DictField(),
            help_text="group_id, offer_id, status, seats_taken, size, expires_at, is_leader, paid",
        )
        bargains = serializers.ListField(
            child=serializers.DictField(),
            help_text="bargain_id, offer_id, status, start_price, floor_price, cut_total, price, expires_at",
        )

    @extend_schema(responses={200: OutputSerializer}, tags=TAGS)
    def get(self, request, room_id):
        room = selectors.get_room(room_id)
        if room.status not in selectors.VIEWER_STATUSES:
            raise NotFound("room_not_found", "No such live room.")
        return Response(selectors.viewer_room_state(room=room, customer=request.customer))


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
