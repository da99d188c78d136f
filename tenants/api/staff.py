from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt.serializers import TokenRefreshSerializer

from tenants import services
from tenants.auth import StaffAuthentication, require_authenticated, staff_tokens
from tenants.schema import error_codes


class StaffBrandSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()
    role = serializers.CharField()
    status = serializers.CharField()


class StaffProfileSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    username = serializers.CharField()
    is_platform_operator = serializers.BooleanField(source="is_superuser")


class StaffLoginApi(APIView):
    """Staff login (owners, operators, store managers, guides, the platform operator).

    Each later request names the brand it acts for in the ``X-Brand`` header (an id or slug
    from ``brands``).
    """

    throttle_scope = "login"
    throttle_classes = [ScopedRateThrottle]

    class InputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=128, trim_whitespace=False)

    class OutputSerializer(serializers.Serializer):
        access = serializers.CharField(help_text="`Authorization: Bearer <access>`.")
        refresh = serializers.CharField(help_text="Trade for a new access token at /api/v1/staff/token/refresh.")
        user = StaffProfileSerializer()
        brands = StaffBrandSerializer(many=True)

    @error_codes({401: ["invalid_credentials"]})
    @extend_schema(request=InputSerializer, responses={200: OutputSerializer}, tags=["staff"], auth=[])
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.staff_login(**data.validated_data)
        return Response(
            {
                **staff_tokens(user),
                "user": StaffProfileSerializer(user).data,
                "brands": services.staff_brands(user),
            }
        )


class StaffTokenRefreshApi(APIView):
    throttle_scope = "login"
    throttle_classes = [ScopedRateThrottle]

    @error_codes({401: ["invalid_token"]})
    @extend_schema(request=TokenRefreshSerializer, responses={200: TokenRefreshSerializer}, tags=["staff"], auth=[])
    def post(self, request):
        serializer = TokenRefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data)


class StaffMeApi(APIView):
    """The staff user and the brands they may act for."""

    authentication_classes = [StaffAuthentication]

    class OutputSerializer(serializers.Serializer):
        user = StaffProfileSerializer()
        brands = StaffBrandSerializer(many=True)

    @extend_schema(responses={200: OutputSerializer}, tags=["staff"])
    def get(self, request):
        require_authenticated(request.user)
        return Response(
            {"user": StaffProfileSerializer(request.user).data, "brands": services.staff_brands(request.user)}
        )


class StaffInvitationAcceptApi(APIView):
    """Accept an invitation to a brand, logged in as the account that joins it: the one way an
    account that works for one brand comes to work for another. Answers the new membership."""

    authentication_classes = [StaffAuthentication]
    throttle_scope = "login"
    throttle_classes = [ScopedRateThrottle]

    class InputSerializer(serializers.Serializer):
        code = serializers.CharField(max_length=64)

    @error_codes(
        {401: ["not_authenticated"], 404: ["invitation_not_found"], 409: ["already_a_member", "platform_account"]}
    )
    @extend_schema(request=InputSerializer, responses={201: StaffBrandSerializer}, tags=["staff"])
    def post(self, request):
        require_authenticated(request.user)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.staff_invitation_accept(user=request.user, code=data.validated_data["code"])
        brand = membership.brand
        body = {"id": brand.pk, "slug": brand.slug, "name": brand.name, "role": membership.role, "status": brand.status}
        return Response(StaffBrandSerializer(body).data, status=201)
