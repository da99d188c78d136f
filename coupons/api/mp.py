"""Coupons in the mini-program: my coupons, claiming (offers and live-room drops), the in-store
code, and invites."""

import base64
import io

import qrcode
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response

from commerce.models import Sku
from coupons import selectors, services
from coupons.models import Coupon, CouponDrop, CouponTemplate, Referral
from livestream.selectors import get_room
from tenants.api.base import CustomerAPIView
from tenants.api.fields import IdField
from tenants.errors import InvalidInput, NotFound
from tenants.schema import error_codes

TAGS = ["mp: coupons"]


class TemplateSummarySerializer(serializers.ModelSerializer):
    """What a coupon is worth and where it works, as a customer sees it."""

    store_id = serializers.IntegerField(allow_null=True)

    class Meta:
        model = CouponTemplate
        fields = [
            "id",
            "name",
            "description",
            "kind",
            "amount_off",
            "percent_off",
            "max_discount",
            "min_spend",
            "scope",
            "channel",
            "store_id",
            "validity",
            "valid_from",
            "valid_until",
            "valid_days",
        ]


class CouponSerializer(serializers.ModelSerializer):
    template = TemplateSummarySerializer()
    state = serializers.SerializerMethodField(help_text="available, locked, used or expired.")

    class Meta:
        model = Coupon
        fields = ["id", "template", "state", "source", "valid_from", "valid_until", "created_at", "used_at"]

    def get_state(self, coupon) -> str:
        return selectors.state_of(coupon)


class DropSerializer(serializers.Serializer):
    """The ``coupon.drop`` event's data."""

    id = serializers.IntegerField()
    room_id = serializers.IntegerField()
    template_id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    quantity = serializers.IntegerField()
    remaining = serializers.IntegerField()

    def to_representation(self, drop: CouponDrop):
        return services.drop_event_data(drop)


def state_param(request) -> str | None:
    state = request.query_params.get("state") or None
    if state is not None and state not in selectors.STATES:
        raise InvalidInput(
            "invalid", f"state is one of {', '.join(selectors.STATES)}.", fields={"state": ["Unknown state."]}
        )
    return state


STATE_PARAMETER = OpenApiParameter("state", str, enum=list(selectors.STATES), required=False)


class MpCouponListApi(CustomerAPIView, generics.ListAPIView):
    """My coupons (``?state=available|locked|used|expired``), those that end soonest first."""

    serializer_class = CouponSerializer
    queryset = Coupon.objects.none()

    def get_queryset(self):
        return selectors.customer_coupons(self.request.customer, state_param(self.request))

    @extend_schema(tags=TAGS, parameters=[STATE_PARAMETER])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class MpCouponOptionsApi(CustomerAPIView):
    """My available coupons for buying ``quantity`` of ``sku`` online (the checkout's coupon
    choice): each as the order would judge it — whether it ``applies``, its ``discount`` in fen,
    or the ``refusal`` the order would answer. Those that apply first, the largest discount first."""

    class FilterSerializer(serializers.Serializer):
        sku = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
        quantity = serializers.IntegerField(min_value=1, max_value=99, default=1)

    class OutputSerializer(serializers.Serializer):
        coupon = CouponSerializer()
        applies = serializers.BooleanField()
        discount = serializers.IntegerField(help_text="Fen off this purchase.")
        refusal = serializers.CharField(allow_null=True, help_text="coupon_not_applicable, coupon_min_spend_not_met.")

    @error_codes({404: ["sku_not_found"]})
    @extend_schema(
        parameters=[
            OpenApiParameter("sku", int, required=True),
            OpenApiParameter("quantity", int, required=False),
        ],
        responses={200: OutputSerializer(many=True)},
        tags=TAGS,
    )
    def get(self, request):
        query = self.FilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        sku = Sku.objects.filter(pk=query.validated_data["sku"], is_active=True).select_related("product").first()
        if sku is None:
            raise NotFound("sku_not_found", "No such SKU.", fields={"sku": ["No such SKU."]})
        options = services.coupon_options_for_purchase(
            customer=request.customer, sku=sku, quantity=query.validated_data["quantity"]
        )
        return Response(self.OutputSerializer(options, many=True).data)


class MpClaimableTemplateListApi(CustomerAPIView, generics.ListAPIView):
    """Coupons the brand offers to claim now."""

    serializer_class = TemplateSummarySerializer
    queryset = CouponTemplate.objects.none()

    def get_queryset(self):
        return selectors.claimable_templates()

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class MpCouponClaimApi(CustomerAPIView):
    """Claim a coupon the brand offers (one that allows claiming)."""

    class InputSerializer(serializers.Serializer):
        template_id = IdField()

    @error_codes(
        {
            404: ["template_not_found"],
            409: [
                "coupon_limit_reached",
                "coupon_members_only",
                "coupon_new_customers_only",
                "coupon_sold_out",
                "template_expired",
                "template_not_claimable",
                "template_retired",
            ],
        }
    )
    @extend_schema(request=InputSerializer, responses={201: CouponSerializer}, tags=TAGS)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        coupon = services.coupon_claim(
            brand=request.brand, customer=request.customer, template_id=data.validated_data["template_id"]
        )
        return Response(CouponSerializer(coupon).data, status=201)


class MpRoomDropListApi(CustomerAPIView):
    """The room's drops that still have coupons (for a viewer who joins after the event)."""

    @extend_schema(responses={200: DropSerializer(many=True)}, tags=TAGS)
    def get(self, request, room_id):
        drops = selectors.room_open_drops(get_room(room_id))
        return Response(DropSerializer(drops, many=True).data)


class MpDropClaimApi(CustomerAPIView):
    """Claim one coupon of a live-room drop: first come, first served, one per viewer."""

    @error_codes(
        {
            409: [
                "coupon_limit_reached",
                "coupon_sold_out",
                "drop_already_claimed",
                "drop_closed",
                "drop_sold_out",
                "template_retired",
            ]
        }
    )
    @extend_schema(request=None, responses={201: CouponSerializer}, tags=TAGS)
    def post(self, request, drop_id):
        coupon = services.coupon_drop_claim(brand=request.brand, customer=request.customer, drop_id=drop_id)
        return Response(CouponSerializer(coupon).data, status=201)


class MpCouponCodeApi(CustomerAPIView):
    """The code to show in store: a short signed payload that expires in minutes, and the same as
    a QR code (a PNG data URI) for the guide to scan."""

    class OutputSerializer(serializers.Serializer):
        code = serializers.CharField()
        expires_at = serializers.DateTimeField()
        qr_png = serializers.CharField(help_text="data:image/png;base64,…")

    @error_codes({409: ["coupon_online_only", "coupon_used"]})
    @extend_schema(responses={200: OutputSerializer}, tags=TAGS)
    def get(self, request, coupon_id):
        coupon = Coupon.objects.filter(pk=coupon_id, customer=request.customer).select_related("template").first()
        if coupon is None:
            raise NotFound("coupon_not_found", "No such coupon.")
        code, expires_at = services.coupon_code(brand=request.brand, coupon=coupon)
        return Response(
            self.OutputSerializer({"code": code, "expires_at": expires_at, "qr_png": qr_data_uri(code)}).data
        )


def qr_data_uri(text: str) -> str:
    buffer = io.BytesIO()
    qrcode.make(text, box_size=6, border=2).save(buffer)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


class MpInvitationApi(CustomerAPIView):
    """My invite code and link, and how my invites went."""

    class OutputSerializer(serializers.Serializer):
        code = serializers.CharField()
        path = serializers.CharField(help_text="The mini-program page an invite opens.")
        invited = serializers.IntegerField()
        rewarded = serializers.IntegerField()

    @extend_schema(responses={200: OutputSerializer}, tags=TAGS)
    def get(self, request):
        invite = services.invite_code_for(brand=request.brand, customer=request.customer)
        referrals = Referral.objects.filter(inviter=request.customer)
        return Response(
            {
                "code": invite.code,
                "path": f"pages/invite/index?code={invite.code}",
                "invited": referrals.count(),
                "rewarded": referrals.filter(reward_coupon__isnull=False).count(),
            }
        )


class MpInvitationAcceptApi(CustomerAPIView):
    """A new customer accepts an invite; the inviter is rewarded when their first order is paid."""

    class InputSerializer(serializers.Serializer):
        code = serializers.CharField(max_length=16)

    class OutputSerializer(serializers.Serializer):
        accepted_at = serializers.DateTimeField()

    @error_codes(
        {404: ["invite_not_found"], 409: ["invite_already_accepted", "invite_not_new_customer", "invite_own_code"]}
    )
    @extend_schema(request=InputSerializer, responses={201: OutputSerializer}, tags=TAGS)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        referral = services.invitation_accept(
            brand=request.brand, customer=request.customer, code=data.validated_data["code"]
        )
        return Response(self.OutputSerializer(referral).data, status=201)
