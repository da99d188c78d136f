"""Group buys (拼团) and bargains (砍价): the mini-program's and the console's endpoints."""

from django.db.models import Count, Q
from django.db.models.functions import Now
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response

from commerce.api.mp import AddressSerializer, OrderSerializer, orders_with_lines
from commerce.models import Bargain, BargainOffer, Group, GroupBuyOffer, GroupMember, Order, Sku
from commerce.services import bargains, group_buys
from livestream.models import LiveRoom
from tenants.api.base import ConsoleAPIView, CustomerAPIView
from tenants.api.fields import IdField, StrictIntegerField
from tenants.errors import NotFound
from tenants.schema import error_codes

MP_TAGS = ["mp: group buys and bargains"]
CONSOLE_TAGS = ["console: group buys and bargains"]
IDEMPOTENCY = OpenApiParameter("Idempotency-Key", str, "header", required=False)


class OrderInputSerializer(serializers.Serializer):
    """How the order of a seat or a bargain is delivered, and where the buyer came from."""

    delivery = serializers.ChoiceField(choices=Order.Delivery.choices, default=Order.Delivery.SHIP)
    address = AddressSerializer(required=False, default=None)
    pickup_store_id = IdField(required=False, allow_null=True, default=None)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    source = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=64,
        help_text="The share link's `scene:<scene>`: the order is credited to its guide.",
    )


# What every group-buy or bargain offer created in the console names (each view adds its own terms).
class OfferInputSerializer(serializers.Serializer):
    sku_id = IdField()
    room_id = IdField(required=False, allow_null=True, default=None)
    title = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    time_limit_minutes = StrictIntegerField(min_value=5, max_value=7 * 24 * 60, default=24 * 60)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()


def _order_kwargs(request, data) -> dict:
    return {
        "delivery": data["delivery"],
        "address": data["address"],
        "pickup_store_id": data["pickup_store_id"],
        "note": data["note"],
        "source": data["source"],
        "idempotency_key": request.headers.get("Idempotency-Key", "")[:64],
    }


def _order(order) -> dict:
    return OrderSerializer(orders_with_lines().get(pk=order.pk)).data


def _room(room_id):
    if room_id is None:
        return None
    room = LiveRoom.objects.filter(pk=room_id).first()
    if room is None:
        raise NotFound("room_not_found", "No such live room.", fields={"room_id": ["No such room."]})
    return room


def _sku(sku_id):
    sku = Sku.objects.filter(pk=sku_id).select_related("product").first()
    if sku is None:
        raise NotFound("sku_not_found", "No such SKU.", fields={"sku_id": ["No such SKU."]})
    return sku


# --- group buys ----------------------------------------------------------------------------------


class GroupBuyOfferSerializer(serializers.ModelSerializer):
    product_name = serializers.CharField(source="sku.product.name", read_only=True)
    sku_price = serializers.IntegerField(source="sku.price", read_only=True, help_text="Fen, without the group.")

    class Meta:
        model = GroupBuyOffer
        fields = [
            "id",
            "title",
            "sku",
            "product_name",
            "sku_price",
            "room",
            "price",
            "group_size",
            "time_limit_minutes",
            "per_customer_limit",
            "new_customers_only",
            "fill_one_short",
            "starts_at",
            "ends_at",
            "is_active",
        ]
        read_only_fields = fields


class GroupMemberSerializer(serializers.ModelSerializer):
    nickname = serializers.CharField(source="customer.nickname", read_only=True)
    avatar_url = serializers.CharField(source="customer.avatar_url", read_only=True)

    class Meta:
        model = GroupMember
        fields = ["customer", "nickname", "avatar_url", "is_leader", "status", "joined_at"]
        read_only_fields = fields


class GroupSerializer(serializers.ModelSerializer):
    members = serializers.SerializerMethodField()

    class Meta:
        model = Group
        fields = [
            "id",
            "offer",
            "leader",
            "status",
            "size",
            "seats_taken",
            "paid_count",
            "filled_short",
            "expires_at",
            "created_at",
            "closed_at",
            "members",
        ]
        read_only_fields = fields

    def get_members(self, group) -> GroupMemberSerializer(many=True):
        seated = [m for m in group.members.all() if m.status != GroupMember.Status.RELEASED]
        return GroupMemberSerializer(seated, many=True).data


def _groups():
    return Group.objects.prefetch_related("members__customer").order_by("-created_at", "-pk")


class GroupOrderSerializer(serializers.Serializer):
    group = GroupSerializer()
    order = OrderSerializer()


class MpGroupBuyListApi(CustomerAPIView, generics.ListAPIView):
    """Group buys running now (``?room=`` for one room's)."""

    serializer_class = GroupBuyOfferSerializer
    filterset_fields = ["room", "sku"]

    def get_queryset(self):
        now = timezone.now()
        return (
            GroupBuyOffer.objects.filter(is_active=True, starts_at__lte=now, ends_at__gt=now)
            .select_related("sku__product")
            .order_by("ends_at", "pk")
        )

    @extend_schema(tags=MP_TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class MpGroupStartApi(CustomerAPIView):
    """Start a group: an order for your seat at the group price. Pay it, then share the group."""

    @error_codes(
        {
            409: [
                "coupon_not_allowed",
                "group_buy_ended",
                "group_buy_limit_reached",
                "group_buy_not_started",
                "group_buy_stopped",
                "group_new_customers_only",
            ],
            429: ["group_join_rate_limited"],
        }
    )
    @extend_schema(
        request=OrderInputSerializer, responses={201: GroupOrderSerializer}, tags=MP_TAGS, parameters=[IDEMPOTENCY]
    )
    def post(self, request, offer_id):
        data = OrderInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        group, order = group_buys.group_start(
            brand=request.brand,
            customer=request.customer,
            offer=group_buys.get_offer(offer_id),
            **_order_kwargs(request, data.validated_data),
        )
        return Response({"group": GroupSerializer(_groups().get(pk=group.pk)).data, "order": _order(order)}, 201)


class MpGroupDetailApi(CustomerAPIView):
    """A group, as its share link shows it: the offer's progress and who is in it."""

    @extend_schema(responses={200: GroupSerializer}, tags=MP_TAGS)
    def get(self, request, group_id):
        group = _groups().filter(pk=group_id).first()
        if group is None:
            raise NotFound("group_not_found", "No such group.")
        return Response(GroupSerializer(group).data)


class MpGroupJoinApi(CustomerAPIView):
    """Take a seat in a group: an order at the group price (409 ``group_full`` when none is left)."""

    class InputSerializer(OrderInputSerializer):
        sharer_id = IdField(required=False, allow_null=True, default=None, help_text="The member who shared it.")

    @error_codes(
        {
            404: ["sharer_not_found"],
            409: [
                "coupon_not_allowed",
                "group_already_joined",
                "group_buy_ended",
                "group_buy_limit_reached",
                "group_buy_not_started",
                "group_buy_stopped",
                "group_expired",
                "group_full",
                "group_new_customers_only",
                "group_not_open",
            ],
            429: ["group_join_rate_limited"],
        }
    )
    @extend_schema(
        request=InputSerializer, responses={201: GroupOrderSerializer}, tags=MP_TAGS, parameters=[IDEMPOTENCY]
    )
    def post(self, request, group_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        group = group_buys.get_group(group_id)
        order = group_buys.group_join(
            brand=request.brand,
            customer=request.customer,
            group=group,
            sharer_id=data.validated_data["sharer_id"],
            **_order_kwargs(request, data.validated_data),
        )
        return Response({"group": GroupSerializer(_groups().get(pk=group.pk)).data, "order": _order(order)}, 201)


class ConsoleGroupBuyOfferSerializer(GroupBuyOfferSerializer):
    """An offer with its live counts, for the operator."""

    groups_forming = serializers.IntegerField(read_only=True, help_text="Groups open, waiting for members.")
    groups_succeeded = serializers.IntegerField(read_only=True, help_text="Groups that filled.")
    members_paid = serializers.IntegerField(read_only=True, help_text="Seats paid for, over every group.")

    class Meta(GroupBuyOfferSerializer.Meta):
        fields = [*GroupBuyOfferSerializer.Meta.fields, "groups_forming", "groups_succeeded", "members_paid"]
        read_only_fields = fields


def _group_buy_offers():
    """Offers with their counts: one query, whatever the page size."""
    groups = Group.Status
    return (
        GroupBuyOffer.objects.select_related("sku__product")
        .annotate(
            groups_forming=Count("groups", filter=Q(groups__status=groups.FORMING), distinct=True),
            groups_succeeded=Count("groups", filter=Q(groups__status=groups.SUCCEEDED), distinct=True),
            members_paid=Count(
                "groups__members", filter=Q(groups__members__status=GroupMember.Status.PAID), distinct=True
            ),
        )
        .order_by("-starts_at", "-pk")
    )


class ConsoleGroupBuyListCreateApi(ConsoleAPIView, generics.ListAPIView):
    """Group-buy offers, newest first, with their live counts; create one for a SKU (optionally in a room)."""

    serializer_class = ConsoleGroupBuyOfferSerializer
    filterset_fields = ["sku", "room", "is_active"]

    def get_queryset(self):
        return _group_buy_offers()

    class InputSerializer(OfferInputSerializer):
        price = StrictIntegerField(min_value=1, help_text="Fen, below the SKU's price.")
        group_size = StrictIntegerField(min_value=2, max_value=50)
        per_customer_limit = StrictIntegerField(min_value=1, max_value=100, default=1)
        new_customers_only = serializers.BooleanField(default=False)
        fill_one_short = serializers.BooleanField(default=False)

    @extend_schema(tags=CONSOLE_TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @error_codes({404: ["sku_not_found"]})
    @extend_schema(request=InputSerializer, responses={201: ConsoleGroupBuyOfferSerializer}, tags=CONSOLE_TAGS)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        sku, room = _sku(values.pop("sku_id")), _room(values.pop("room_id"))
        offer = group_buys.group_buy_offer_create(brand=request.brand, sku=sku, room=room, **values)
        return Response(ConsoleGroupBuyOfferSerializer(_group_buy_offers().get(pk=offer.pk)).data, status=201)


class ConsoleGroupBuyStopApi(ConsoleAPIView):
    """Stop an offer: no new groups or members; open groups close and their paid members are refunded."""

    @extend_schema(request=None, responses={200: ConsoleGroupBuyOfferSerializer}, tags=CONSOLE_TAGS)
    def post(self, request, offer_id):
        offer = group_buys.group_buy_offer_stop(brand=request.brand, offer=group_buys.get_offer(offer_id))
        return Response(ConsoleGroupBuyOfferSerializer(_group_buy_offers().get(pk=offer.pk)).data)


class ConsoleGroupListApi(ConsoleAPIView, generics.ListAPIView):
    """The groups of an offer, newest first (``?status=``)."""

    serializer_class = GroupSerializer
    filterset_fields = ["status"]
    queryset = Group.objects.none()  # names the model for the schema

    def get_queryset(self):
        return _groups().filter(offer=group_buys.get_offer(self.kwargs["offer_id"]))

    @extend_schema(tags=CONSOLE_TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


# --- bargains ------------------------------------------------------------------------------------


class BargainOfferSerializer(serializers.ModelSerializer):
    product_name = serializers.CharField(source="sku.product.name", read_only=True)
    sku_price = serializers.IntegerField(source="sku.price", read_only=True, help_text="Fen: where bargains start.")

    class Meta:
        model = BargainOffer
        fields = [
            "id",
            "title",
            "sku",
            "product_name",
            "sku_price",
            "room",
            "floor_price",
            "helpers_needed",
            "time_limit_minutes",
            "helps_per_day",
            "new_customer_boost",
            "starts_at",
            "ends_at",
            "is_active",
        ]
        read_only_fields = fields


class BargainHelpSerializer(serializers.Serializer):
    nickname = serializers.CharField(source="helper.nickname")
    avatar_url = serializers.CharField(source="helper.avatar_url")
    amount = serializers.IntegerField(help_text="Fen cut.")
    created_at = serializers.DateTimeField()


class BargainSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    current_price = serializers.IntegerField(read_only=True, help_text="Fen: what the starter pays now.")
    helpers_needed = serializers.SerializerMethodField()
    helps = BargainHelpSerializer(many=True, read_only=True)

    class Meta:
        model = Bargain
        fields = [
            "id",
            "offer",
            "customer",
            "status",
            "start_price",
            "floor_price",
            "current_price",
            "cut_total",
            "helpers_needed",
            "slots_used",
            "order",
            "expires_at",
            "created_at",
            "helps",
        ]
        read_only_fields = fields

    def get_status(self, bargain) -> str:
        return bargains.bargain_progress(bargain)["status"]

    def get_helpers_needed(self, bargain) -> int:
        return len(bargain.plan)


def _bargains():
    return Bargain.objects.prefetch_related("helps__helper").order_by("-created_at", "-pk")


class HelpResultSerializer(serializers.Serializer):
    amount = serializers.IntegerField(help_text="Fen you cut.")
    bargain = BargainSerializer()


class MpBargainOfferListApi(CustomerAPIView, generics.ListAPIView):
    """Bargain offers running now (``?room=`` for one room's)."""

    serializer_class = BargainOfferSerializer
    filterset_fields = ["room", "sku"]

    def get_queryset(self):
        now = timezone.now()
        return (
            BargainOffer.objects.filter(is_active=True, starts_at__lte=now, ends_at__gt=now)
            .select_related("sku__product")
            .order_by("ends_at", "pk")
        )

    @extend_schema(tags=MP_TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class MpBargainStartApi(CustomerAPIView):
    """Start a bargain on an offer, then share it for friends to cut."""

    @error_codes({409: ["bargain_already_started", "bargain_offer_closed", "bargain_offer_stopped"]})
    @extend_schema(request=None, responses={201: BargainSerializer}, tags=MP_TAGS)
    def post(self, request, offer_id):
        bargain = bargains.bargain_start(
            brand=request.brand, customer=request.customer, offer=bargains.get_offer(offer_id)
        )
        return Response(BargainSerializer(_bargains().get(pk=bargain.pk)).data, status=201)


class MpBargainDetailApi(CustomerAPIView):
    """A bargain, as its share link shows it."""

    @extend_schema(responses={200: BargainSerializer}, tags=MP_TAGS)
    def get(self, request, bargain_id):
        bargain = _bargains().filter(pk=bargain_id).first()
        if bargain is None:
            raise NotFound("bargain_not_found", "No such bargain.")
        return Response(BargainSerializer(bargain).data)


class MpBargainHelpApi(CustomerAPIView):
    """Cut a friend's bargain, once."""

    @error_codes(
        {
            409: ["bargain_already_helped", "bargain_at_floor", "bargain_closed", "bargain_daily_limit", "bargain_own"],
            429: ["bargain_help_rate_limited"],
        }
    )
    @extend_schema(request=None, responses={201: HelpResultSerializer}, tags=MP_TAGS)
    def post(self, request, bargain_id):
        help_ = bargains.bargain_help(
            brand=request.brand, helper=request.customer, bargain=bargains.get_bargain(bargain_id)
        )
        bargain = BargainSerializer(_bargains().get(pk=bargain_id)).data
        return Response({"amount": help_.amount, "bargain": bargain}, status=201)


class MpBargainBuyApi(CustomerAPIView):
    """Order your bargain's product at the price reached (once)."""

    @error_codes({409: ["bargain_closed", "coupon_not_allowed"]})
    @extend_schema(
        request=OrderInputSerializer, responses={201: OrderSerializer}, tags=MP_TAGS, parameters=[IDEMPOTENCY]
    )
    def post(self, request, bargain_id):
        data = OrderInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        bargain = bargains.get_bargain(bargain_id)
        order = bargains.bargain_buy(
            brand=request.brand,
            customer=request.customer,
            bargain=bargain,
            **_order_kwargs(request, data.validated_data),
        )
        return Response(_order(order), status=201)


class ConsoleBargainOfferSerializer(BargainOfferSerializer):
    """An offer with its live counts, for the operator."""

    bargains_started = serializers.IntegerField(read_only=True, help_text="Bargains customers started.")
    bargains_active = serializers.IntegerField(read_only=True, help_text="Of them, still being cut.")
    bargains_purchased = serializers.IntegerField(read_only=True, help_text="Of them, bought and paid.")

    class Meta(BargainOfferSerializer.Meta):
        fields = [*BargainOfferSerializer.Meta.fields, "bargains_started", "bargains_active", "bargains_purchased"]
        read_only_fields = fields


def _bargain_offers():
    """Offers with their counts: one query, whatever the page size."""
    return (
        BargainOffer.objects.select_related("sku__product")
        .annotate(
            bargains_started=Count("bargains", distinct=True),
            bargains_active=Count(
                "bargains",
                filter=Q(bargains__status=Bargain.Status.ACTIVE, bargains__expires_at__gt=Now()),
                distinct=True,
            ),
            bargains_purchased=Count("bargains", filter=Q(bargains__status=Bargain.Status.PURCHASED), distinct=True),
        )
        .order_by("-starts_at", "-pk")
    )


class ConsoleBargainOfferListCreateApi(ConsoleAPIView, generics.ListAPIView):
    """Bargain offers, newest first, with their live counts; create one for a SKU."""

    serializer_class = ConsoleBargainOfferSerializer
    filterset_fields = ["sku", "room", "is_active"]

    def get_queryset(self):
        return _bargain_offers()

    class InputSerializer(OfferInputSerializer):
        floor_price = StrictIntegerField(min_value=1, help_text="Fen, below the SKU's price.")
        helpers_needed = StrictIntegerField(min_value=1, max_value=100)
        helps_per_day = StrictIntegerField(min_value=1, max_value=100, default=3)
        new_customer_boost = serializers.BooleanField(default=False)

    @extend_schema(tags=CONSOLE_TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=InputSerializer, responses={201: ConsoleBargainOfferSerializer}, tags=CONSOLE_TAGS)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        sku, room = _sku(values.pop("sku_id")), _room(values.pop("room_id"))
        offer = bargains.bargain_offer_create(brand=request.brand, sku=sku, room=room, **values)
        return Response(ConsoleBargainOfferSerializer(_bargain_offers().get(pk=offer.pk)).data, status=201)


class ConsoleBargainOfferStopApi(ConsoleAPIView):
    """Stop an offer: no new bargains; running ones finish within their time."""

    @extend_schema(request=None, responses={200: ConsoleBargainOfferSerializer}, tags=CONSOLE_TAGS)
    def post(self, request, offer_id):
        offer = bargains.bargain_offer_stop(brand=request.brand, offer=bargains.get_offer(offer_id))
        return Response(ConsoleBargainOfferSerializer(_bargain_offers().get(pk=offer.pk)).data)


class ConsoleBargainListApi(ConsoleAPIView, generics.ListAPIView):
    """The bargains of an offer, newest first."""

    serializer_class = BargainSerializer
    queryset = Bargain.objects.none()

    def get_queryset(self):
        return _bargains().filter(offer=bargains.get_offer(self.kwargs["offer_id"]))

    @extend_schema(tags=CONSOLE_TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
