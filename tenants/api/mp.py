from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from tenants import services
from tenants.api.base import CustomerAPIView
from tenants.auth import CustomerAccessToken
from tenants.models import Customer
from tenants.schema import error_codes


class CustomerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "openid", "nickname", "avatar_url", "phone", "is_member", "is_new", "first_seen_at"]
        read_only_fields = ["id", "openid", "is_member", "is_new", "first_seen_at"]

    is_new = serializers.BooleanField(read_only=True)


class MpLoginApi(APIView):
    """Mini-program login: exchange a ``wx.login`` code for a customer token."""

    throttle_scope = "login"
    throttle_classes = [ScopedRateThrottle]

    class InputSerializer(serializers.Serializer):
        appid = serializers.CharField(max_length=32, help_text="The brand's mini-program appid.")
        code = serializers.CharField(max_length=128, help_text="The code from wx.login().")
        nickname = serializers.CharField(max_length=64, required=False, default="")
        avatar_url = serializers.URLField(max_length=500, required=False, default="")

    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField(help_text="Send as `Authorization: Bearer <token>`; also for websockets.")
        expires_in = serializers.IntegerField(help_text="Seconds until the token expires; log in again then.")
        brand = serializers.DictField()
        customer = CustomerSerializer()

    @error_codes(
        {400: ["invalid_code", "unknown_appid"], 403: ["brand_suspended"], 502: ["wechat_error", "wechat_unavailable"]}
    )
    @extend_schema(request=InputSerializer, responses={200: OutputSerializer}, tags=["mp"], auth=[])
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        brand = services.brand_for_appid(data.validated_data.pop("appid"))
        customer = services.customer_login(brand=brand, **data.validated_data)
        token = CustomerAccessToken.for_customer(customer)
        return Response(
            {
                "token": str(token),
                "expires_in": int(token.lifetime.total_seconds()),
                "brand": {"id": brand.pk, "slug": brand.slug, "name": brand.name, "timezone": brand.timezone},
                "customer": CustomerSerializer(customer).data,
            }
        )


class MpMeApi(CustomerAPIView):
    """The logged-in customer's profile."""

    @extend_schema(responses={200: CustomerSerializer}, tags=["mp"])
    def get(self, request):
        return Response(CustomerSerializer(request.customer).data)

    @extend_schema(request=CustomerSerializer, responses={200: CustomerSerializer}, tags=["mp"])
    def patch(self, request):
        serializer = CustomerSerializer(request.customer, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        customer = services.customer_update_profile(
            brand=request.brand, customer=request.customer, **serializer.validated_data
        )
        return Response(CustomerSerializer(customer).data)
