"""Lotteries and gift boxes in a live room: the operator's console and the viewer's mini-program."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from livestream import selectors
from livestream.models import GiftBox, GiftBoxOpening, GiftBoxPrize, Lottery, LotteryEntry, LotteryWinner
from livestream.services import gift_boxes, lotteries
from tenants.api.base import ConsoleAPIView, CustomerAPIView
from tenants.api.fields import StrictIntegerField
from tenants.models import Customer
from tenants.schema import error_codes

CONSOLE_TAGS = ["console: lotteries and gift boxes"]
MP_TAGS = ["mp: lotteries and gift boxes"]


# --- serializers -----------------------------------------------------------------------------


class PrizeSerializer(serializers.Serializer):
    kind = serializers.CharField()
    name = serializers.CharField()
    coupon_template_id = serializers.IntegerField(allow_null=True)


class LotterySerializer(serializers.ModelSerializer):
    prize = serializers.SerializerMethodField()

    class Meta:
        model = Lottery
        fields = [
            "id",
            "room_id",
            "title",
            "prize",
            "winner_count",
            "rule",
            "keyword",
            "draw_at",
            "address_hours",
            "commitment",
            "status",
            "entrant_count",
            "opened_at",
            "drawn_at",
            "stopped_at",
        ]

    def get_prize(self, lottery) -> PrizeSerializer:
        return lotteries.prize_data(lottery)


class WinnerSerializer(serializers.ModelSerializer):
    nickname = serializers.CharField(source="customer.nickname")

    class Meta:
        model = LotteryWinner
        fields = [
            "customer_id",
            "nickname",
            "rank",
            "status",
            "coupon_id",
            "issue_error",
            "address_deadline",
            "recipient",
            "phone",
            "address",
            "claimed_at",
        ]


class ConsoleLotteryDetailSerializer(LotterySerializer):
    winners = WinnerSerializer(many=True, read_only=True)

    class Meta(LotterySerializer.Meta):
        fields = [*LotterySerializer.Meta.fields, "winners"]


class MpLotterySerializer(LotterySerializer):
    joined = serializers.SerializerMethodField()
    my_prize = serializers.SerializerMethodField()
    winners = serializers.SerializerMethodField()

    class Meta(LotterySerializer.Meta):
        fields = [f for f in LotterySerializer.Meta.fields if f != "address_hours"] + ["joined", "my_prize", "winners"]

    def get_joined(self, lottery) -> bool:
        return lottery.pk in self.context["joined"]

    def get_my_prize(self, lottery) -> WinnerSerializer(allow_null=True):
        winner = self.context["won"].get(lottery.pk)
        return WinnerSerializer(winner).data if winner else None

    def get_winners(self, lottery) -> list[dict]:
        customers = self.context["customers"]
        return [
            {"customer_id": pk, "nickname": customers[pk].nickname, "avatar_url": customers[pk].avatar_url}
            for pk in lottery.winner_ids
            if pk in customers
        ]


def mp_lottery_context(customer, lottery_list) -> dict:
    ids = [lottery.pk for lottery in lottery_list]
    joined = set(
        LotteryEntry.objects.filter(lottery_id__in=ids, customer=customer).values_list("lottery_id", flat=True)
    )
    won = {w.lottery_id: w for w in LotteryWinner.objects.filter(lottery_id__in=ids, customer=customer)}
    for winner in won.values():
        winner.customer = customer
    winner_ids = {pk for lottery in lottery_list for pk in lottery.winner_ids}
    customers = Customer.objects.in_bulk(winner_ids) if winner_ids else {}
    return {"joined": joined, "won": won, "customers": customers}


class GiftBoxPrizeSerializer(serializers.ModelSerializer):
    coupon_template_id = serializers.IntegerField(allow_null=True, read_only=True)

    class Meta:
        model = GiftBoxPrize
        fields = ["id", "kind", "name", "coupon_template_id", "points", "weight", "stock", "remaining"]


class GiftBoxSerializer(serializers.ModelSerializer):
    prizes = GiftBoxPrizeSerializer(many=True, read_only=True)
    opened_count = serializers.SerializerMethodField()

    class Meta:
        model = GiftBox
        fields = ["id", "room_id", "title", "watch_minutes", "status", "created_at", "stopped_at", "prizes"]
        fields += ["opened_count"]

    def get_opened_count(self, box) -> int:
        return self.context["opened"].get(box.pk, 0)


class OpeningPrizeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    name = serializers.CharField()
    points = serializers.IntegerField()


class OpeningSerializer(serializers.Serializer):
    box_id = serializers.IntegerField()
    prize = OpeningPrizeSerializer(allow_null=True, help_text="Empty: the pool had nothing left.")
    coupon_id = serializers.IntegerField(allow_null=True)
    opened_at = serializers.DateTimeField()


class MpGiftBoxSerializer(serializers.ModelSerializer):
    prizes = serializers.SerializerMethodField()
    opening = serializers.SerializerMethodField()
    watched_seconds = serializers.SerializerMethodField()

    class Meta:
        model = GiftBox
        fields = ["id", "room_id", "title", "watch_minutes", "status", "prizes", "watched_seconds", "opening"]

    def get_prizes(self, box) -> OpeningPrizeSerializer(many=True):
        return [{"id": p.pk, "kind": p.kind, "name": p.name, "points": p.points} for p in box.prizes.all()]

    def get_opening(self, box) -> OpeningSerializer(allow_null=True):
        opening = self.context["openings"].get(box.pk)
        return gift_boxes.opening_data(opening) if opening else None

    def get_watched_seconds(self, box) -> int:
        return self.context["watched"]


# --- console ---------------------------------------------------------------------------------


class ConsoleLotteryListCreateApi(ConsoleAPIView):
    """The room's lotteries, newest first (GET); open one (POST), which sends ``lottery.open``
    with the commitment. ``draw_at`` empty: the operator draws by hand."""

    class InputSerializer(serializers.Serializer):
        title = serializers.CharField(max_length=60)
        prize_kind = serializers.ChoiceField(choices=Lottery.PrizeKind.choices)
        coupon_template_id = StrictIntegerField(required=False, allow_null=True, default=None)
        prize_name = serializers.CharField(max_length=60, required=False, default="", allow_blank=True)
        winner_count = StrictIntegerField(min_value=1, max_value=lotteries.MAX_WINNERS)
        rule = serializers.ChoiceField(choices=Lottery.Rule.choices, default=Lottery.Rule.PRESENT)
        keyword = serializers.CharField(max_length=20, required=False, default="", allow_blank=True)
        draw_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
        address_hours = StrictIntegerField(required=False, min_value=1, max_value=720, default=None, allow_null=True)

    @extend_schema(responses={200: LotterySerializer(many=True)}, tags=CONSOLE_TAGS)
    def get(self, request, room_id):
        room = selectors.get_room(room_id)
        rows = Lottery.objects.filter(room=room).select_related("coupon_template").order_by("-opened_at", "-pk")
        return Response(LotterySerializer(rows, many=True).data)

    @error_codes({409: ["room_not_live"]})
    @extend_schema(request=InputSerializer, responses={201: LotterySerializer}, tags=CONSOLE_TAGS)
    def post(self, request, room_id):
        room = selectors.get_room(room_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        lottery = lotteries.lottery_open(brand=request.brand, room=room, **data.validated_data)
        return Response(LotterySerializer(lottery).data, status=201)


class ConsoleLotteryDetailApi(ConsoleAPIView):
    """A lottery with its winners and what became of each prize (addresses of physical prizes)."""

    @extend_schema(responses={200: ConsoleLotteryDetailSerializer}, tags=CONSOLE_TAGS)
    def get(self, request, room_id, lottery_id):
        lottery = lotteries.get_lottery(room=selectors.get_room(room_id), lottery_id=lottery_id)
        lottery = (
            Lottery.objects.prefetch_related("winners__customer").select_related("coupon_template").get(pk=lottery.pk)
        )
        return Response(ConsoleLotteryDetailSerializer(lottery).data)


LOTTERY_ACTIONS = {"draw": lotteries.lottery_draw, "stop": lotteries.lottery_stop}


class ConsoleLotteryActionApi(ConsoleAPIView):
    """``draw`` now (reveals the seed, sends ``lottery.result``), or ``stop`` without a draw.
    A lottery already drawn or stopped answers 409 ``lottery_not_open``."""

    @error_codes({409: ["lottery_not_open"]})
    @extend_schema(
        request=None,
        responses={200: ConsoleLotteryDetailSerializer},
        tags=CONSOLE_TAGS,
        parameters=[OpenApiParameter("action", str, "path", enum=list(LOTTERY_ACTIONS))],
        operation_id="console_lottery_action",
    )
    def post(self, request, room_id, lottery_id, action):
        lottery = lotteries.get_lottery(room=selectors.get_room(room_id), lottery_id=lottery_id)
        LOTTERY_ACTIONS[action](brand=request.brand, lottery=lottery)
        lottery = (
            Lottery.objects.prefetch_related("winners__customer").select_related("coupon_template").get(pk=lottery.pk)
        )
        return Response(ConsoleLotteryDetailSerializer(lottery).data)


class PrizeInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=GiftBoxPrize.Kind.choices)
    name = serializers.CharField(max_length=60)
    weight = StrictIntegerField(min_value=1, max_value=1_000_000)
    stock = StrictIntegerField(min_value=0, required=False, allow_null=True, default=None)
    coupon_template_id = StrictIntegerField(required=False, allow_null=True, default=None)
    points = StrictIntegerField(min_value=0, required=False, default=0)


def _opened_counts(boxes) -> dict:
    from django.db.models import Count

    rows = GiftBoxOpening.objects.filter(box__in=boxes).values("box_id").annotate(n=Count("pk"))
    return {row["box_id"]: row["n"] for row in rows}


class ConsoleGiftBoxListCreateApi(ConsoleAPIView):
    """The room's gift boxes with their prizes' stock left (GET); put one in the room (POST):
    a prize is drawn with probability weight / the weights of the prizes with stock left."""

    class InputSerializer(serializers.Serializer):
        title = serializers.CharField(max_length=60)
        watch_minutes = StrictIntegerField(min_value=0, max_value=gift_boxes.MAX_WATCH_MINUTES)
        prizes = PrizeInputSerializer(many=True)

    @extend_schema(responses={200: GiftBoxSerializer(many=True)}, tags=CONSOLE_TAGS)
    def get(self, request, room_id):
        room = selectors.get_room(room_id)
        boxes = list(GiftBox.objects.filter(room=room).prefetch_related("prizes").order_by("-created_at", "-pk"))
        return Response(GiftBoxSerializer(boxes, many=True, context={"opened": _opened_counts(boxes)}).data)

    @error_codes({409: ["room_not_live"]})
    @extend_schema(request=InputSerializer, responses={201: GiftBoxSerializer}, tags=CONSOLE_TAGS)
    def post(self, request, room_id):
        room = selectors.get_room(room_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        box = gift_boxes.gift_box_create(brand=request.brand, room=room, **data.validated_data)
        return Response(GiftBoxSerializer(box, context={"opened": {}}).data, status=201)


class ConsoleGiftBoxStopApi(ConsoleAPIView):
    """Close the box: no one opens it any more (409 ``gift_box_stopped`` if it already was)."""

    @error_codes({409: ["gift_box_stopped"]})
    @extend_schema(request=None, responses={200: GiftBoxSerializer}, tags=CONSOLE_TAGS)
    def post(self, request, room_id, box_id):
        box = gift_boxes.get_box(room=selectors.get_room(room_id), box_id=box_id)
        box = gift_boxes.gift_box_stop(brand=request.brand, box=box)
        return Response(GiftBoxSerializer(box, context={"opened": _opened_counts([box])}).data)


# --- mini-program ----------------------------------------------------------------------------


class MpLotteryListApi(CustomerAPIView):
    """The room's open and drawn lotteries, with whether the viewer joined and what they won."""

    @extend_schema(responses={200: MpLotterySerializer(many=True)}, tags=MP_TAGS)
    def get(self, request, room_id):
        room = selectors.get_room(room_id)
        rows = list(
            Lottery.objects.filter(room=room)
            .exclude(status=Lottery.Status.STOPPED)
            .select_related("coupon_template")
            .order_by("-opened_at", "-pk")[:50]
        )
        context = mp_lottery_context(request.customer, rows)
        return Response(MpLotterySerializer(rows, many=True, context=context).data)


class MpLotteryJoinApi(CustomerAPIView):
    """Join by meeting the rule (409 ``lottery_not_eligible`` says what is missing; 409
    ``lottery_already_joined``, ``lottery_not_open``; 429 ``lottery_rate_limited``)."""

    @error_codes(
        {409: ["lottery_already_joined", "lottery_not_eligible", "lottery_not_open"], 429: ["lottery_rate_limited"]}
    )
    @extend_schema(request=None, responses={200: MpLotterySerializer}, tags=MP_TAGS)
    def post(self, request, room_id, lottery_id):
        lottery = lotteries.get_lottery(room=selectors.get_room(room_id), lottery_id=lottery_id)
        lotteries.lottery_join(brand=request.brand, lottery=lottery, customer=request.customer)
        lottery.refresh_from_db()
        context = mp_lottery_context(request.customer, [lottery])
        return Response(MpLotterySerializer(lottery, context=context).data)


class LotteryProofSerializer(serializers.Serializer):
    lottery_id = serializers.IntegerField()
    status = serializers.CharField()
    commitment = serializers.CharField()
    seed = serializers.CharField(allow_null=True)
    winner_count = serializers.IntegerField()
    entrant_ids = serializers.ListField(child=serializers.IntegerField(), allow_null=True)
    winner_ids = serializers.ListField(child=serializers.IntegerField(), allow_null=True)
    algorithm = serializers.CharField()


class MpLotteryProofApi(CustomerAPIView):
    """Everything needed to check a draw; the seed and lists appear once it is drawn.

    Check: ``sha256(bytes.fromhex(seed)).hexdigest() == commitment`` (the commitment was sent
    with ``lottery.open``, before anyone joined). Then with ``key = bytes.fromhex(seed)``,
    ``ids = sorted(entrant_ids)``, a counter from 0 shared by the whole draw, and
    ``uniform(m)``: ``r = int(HMAC-SHA256(key, counter as 8 bytes big-endian))``, counter += 1,
    retry while ``r >= 2**256 - 2**256 % m``, answer ``r % m``; for ``i`` in
    ``0 … k-1`` (``k = min(winner_count, len(ids))``) swap ``ids[i]`` with
    ``ids[i + uniform(len(ids) - i)]``. ``ids[:k] == winner_ids``.
    """

    @extend_schema(responses={200: LotteryProofSerializer}, tags=MP_TAGS)
    def get(self, request, room_id, lottery_id):
        lottery = lotteries.get_lottery(room=selectors.get_room(room_id), lottery_id=lottery_id)
        return Response(lotteries.lottery_proof(lottery))


class MpPrizeAddressApi(CustomerAPIView):
    """A physical-prize winner gives the address to send it to, before the deadline
    (409 ``prize_lapsed``, ``prize_already_claimed``, ``prize_not_physical``)."""

    class InputSerializer(serializers.Serializer):
        recipient = serializers.CharField(max_length=30)
        phone = serializers.CharField(max_length=20)
        address = serializers.CharField(max_length=200)

    @error_codes({404: ["prize_not_found"], 409: ["prize_already_claimed", "prize_lapsed"]})
    @extend_schema(request=InputSerializer, responses={200: WinnerSerializer}, tags=MP_TAGS)
    def post(self, request, room_id, lottery_id):
        lottery = lotteries.get_lottery(room=selectors.get_room(room_id), lottery_id=lottery_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        winner = lotteries.prize_address_submit(
            brand=request.brand, lottery=lottery, customer=request.customer, **data.validated_data
        )
        winner.customer = request.customer
        return Response(WinnerSerializer(winner).data)


class MpGiftBoxListApi(CustomerAPIView):
    """The room's open gift boxes, the viewer's watch time (the server's) and their openings."""

    @extend_schema(responses={200: MpGiftBoxSerializer(many=True)}, tags=MP_TAGS)
    def get(self, request, room_id):
        room = selectors.get_room(room_id)
        boxes = list(
            GiftBox.objects.filter(room=room, status=GiftBox.Status.OPEN)
            .prefetch_related("prizes")
            .order_by("-created_at", "-pk")
        )
        openings = {
            o.box_id: o
            for o in GiftBoxOpening.objects.filter(box__in=boxes, customer=request.customer).select_related("prize")
        }
        watched = lotteries.watched_seconds(room_id=room.pk, customer_id=request.customer.pk)
        context = {"openings": openings, "watched": watched}
        return Response(MpGiftBoxSerializer(boxes, many=True, context=context).data)


class MpGiftBoxOpenApi(CustomerAPIView):
    """Open the box once (201); opening it again answers the same prize (200). 409
    ``gift_box_not_yet`` (watch longer: ``fields`` say how long), ``gift_box_stopped``."""

    @error_codes(
        {
            409: ["coupon_sold_out", "gift_box_not_yet", "gift_box_stopped", "template_retired"],
            429: ["gift_box_rate_limited"],
        }
    )
    @extend_schema(request=None, responses={200: OpeningSerializer, 201: OpeningSerializer}, tags=MP_TAGS)
    def post(self, request, room_id, box_id):
        box = gift_boxes.get_box(room=selectors.get_room(room_id), box_id=box_id)
        opening, created = gift_boxes.gift_box_open(brand=request.brand, box=box, customer=request.customer)
        return Response(gift_boxes.opening_data(opening), status=201 if created else 200)
