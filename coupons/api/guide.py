"""Guides in the store: give their store's coupons to their customers, redeem coupons (核销)."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response

from coupons import selectors, services
from coupons.api.mp import CouponSerializer
from coupons.models import Redemption
from guides.models import Guide
from tenants.api.base import GuideAPIView
from tenants.api.fields import IdField
from tenants.errors import Forbidden
from tenants.schema import error_codes

TAGS = ["guide: coupons"]


def acting_guide(request) -> Guide:
    """The active guide the request's user is in the brand in scope, with a store."""
    guide = Guide.objects.filter(user=request.user, status=Guide.Status.ACTIVE).select_related("store").first()
    if guide is None:
        raise Forbidden("not_a_guide", "You are not an active guide of this brand.")
    if guide.store_id is None:
        raise Forbidden("guide_without_store", "Only a store's guides give out and redeem coupons.")
    return guide


class RedemptionSerializer(serializers.ModelSerializer):
    coupon = CouponSerializer()
    customer_id = serializers.IntegerField(source="coupon.customer_id")
    store_id = serializers.IntegerField()
    guide_id = serializers.IntegerField()

    class Meta:
        model = Redemption
        fields = ["id", "coupon", "customer_id", "store_id", "guide_id", "redeemed_at"]


class GuideCouponIssueApi(GuideAPIView):
    """Give one of your store's coupons to a customer bound to you."""

    class InputSerializer(serializers.Serializer):
        template_id = IdField()
        customer_id = IdField()

    @error_codes(
        {
            403: ["not_a_guide"],
            404: ["customer_not_found", "template_not_found"],
            409: ["coupon_sold_out", "customer_not_bound", "template_not_store_coupon", "template_retired"],
        }
    )
    @extend_schema(request=InputSerializer, responses={201: CouponSerializer}, tags=TAGS)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        coupon = services.coupon_issue_by_guide(brand=request.brand, guide=acting_guide(request), **data.validated_data)
        return Response(CouponSerializer(coupon).data, status=201)


class GuideCouponRedeemApi(GuideAPIView):
    """Redeem the coupon whose code (the QR code the customer shows) was scanned, in your store."""

    class InputSerializer(serializers.Serializer):
        code = serializers.CharField(max_length=200)

    @error_codes(
        {
            400: ["invalid_code"],
            403: ["guide_without_store"],
            404: ["coupon_not_found"],
            409: [
                "code_expired",
                "coupon_expired",
                "coupon_in_use",
                "coupon_online_only",
                "coupon_used",
                "coupon_wrong_store",
            ],
        }
    )
    @extend_schema(request=InputSerializer, responses={201: RedemptionSerializer}, tags=TAGS)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        redemption = services.coupon_redeem(
            brand=request.brand, guide=acting_guide(request), code=data.validated_data["code"]
        )
        return Response(RedemptionSerializer(redemption).data, status=201)


class GuideRedemptionListApi(GuideAPIView, generics.ListAPIView):
    """The coupons you redeemed, newest first."""

    serializer_class = RedemptionSerializer
    queryset = Redemption.objects.none()

    def get_queryset(self):
        return selectors.guide_redemptions(acting_guide(self.request))

    @error_codes({403: ["not_a_guide"]})
    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
