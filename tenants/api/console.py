import django_filters
from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response

from tenants import services
from tenants.api.base import ConsoleAPIView
from tenants.api.filters import BrandFilterSet
from tenants.errors import Forbidden, NotFound
from tenants.models import Brand, Customer, Membership, StaffInvitation
from tenants.schema import error_codes
from tenants.services import BRAND_SETTINGS


class ConsoleBrandSerializer(serializers.ModelSerializer):
    reminder_template_data = serializers.DictField(
        child=serializers.CharField(max_length=200),
        required=False,
        help_text=(
            "The start reminder's text: each WeChat template key and what fills it, naming {title}, "
            '{start}, {anchor} and {status}; e.g. {"thing1": "{title} 开播啦", "time2": "{start}"}. '
            "Empty: the default layout."
        ),
    )

    class Meta:
        model = Brand
        fields = ["id", "slug", "name", "appid", "status", *BRAND_SETTINGS[1:]]
        read_only_fields = ["id", "slug", "appid", "status"]


class ConsoleBrandApi(ConsoleAPIView):
    """The brand the request acts for, and its settings. Its owners (and the platform operator)
    change its name, time zone, comment moderation (blocked words and what happens to them,
    comments per customer per minute, anonymous viewers) and start reminders (lead time, WeChat
    template and its text); operators read them. The rest of a brand (slug, appid, status) is the
    platform operator's."""

    @extend_schema(responses={200: ConsoleBrandSerializer}, tags=["console"])
    def get(self, request):
        return Response(ConsoleBrandSerializer(request.brand).data)

    @extend_schema(request=ConsoleBrandSerializer, responses={200: ConsoleBrandSerializer}, tags=["console"])
    def patch(self, request):
        if request.membership.role != Membership.Role.OWNER:
            raise Forbidden("role_not_allowed", "Only the brand's owners change its settings.")
        serializer = ConsoleBrandSerializer(request.brand, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        brand = services.brand_update_settings(brand=request.brand, **serializer.validated_data)
        return Response(ConsoleBrandSerializer(brand).data)


class ConsoleCustomerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = [
            "id",
            "openid",
            "unionid",
            "nickname",
            "avatar_url",
            "phone",
            "is_member",
            "first_seen_at",
            "first_paid_at",
            "last_login_at",
        ]


class CustomerFilter(BrandFilterSet):
    q = django_filters.CharFilter(method="search", help_text="Nickname, phone or openid contains.")
    first_seen_after = django_filters.IsoDateTimeFilter(field_name="first_seen_at", lookup_expr="gte")
    first_seen_before = django_filters.IsoDateTimeFilter(field_name="first_seen_at", lookup_expr="lt")

    class Meta:
        model = Customer
        fields = ["is_member"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(nickname__icontains=value) | Q(phone__icontains=value) | Q(openid__icontains=value))


class ConsoleCustomerListApi(ConsoleAPIView, generics.ListAPIView):
    """The brand's customers, newest first."""

    serializer_class = ConsoleCustomerSerializer
    filterset_class = CustomerFilter

    def get_queryset(self):
        return Customer.objects.order_by("-first_seen_at", "-id")

    @extend_schema(tags=["console"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ConsoleCustomerDetailApi(ConsoleAPIView, generics.RetrieveAPIView):
    serializer_class = ConsoleCustomerSerializer
    lookup_url_kwarg = "customer_id"

    def get_queryset(self):
        return Customer.objects.all()

    @extend_schema(tags=["console"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


# --- staff invitations ---------------------------------------------------------------------------


class StaffInvitationSerializer(serializers.ModelSerializer):
    invited_by = serializers.CharField(source="invited_by.username", default="", read_only=True)
    accepted_by = serializers.CharField(
        source="accepted_by.username", default="", read_only=True, help_text="The account that joined (the brand's)."
    )

    class Meta:
        model = StaffInvitation
        fields = [
            *("id", "role", "note", "status", "invited_by", "accepted_by"),
            *("created_at", "expires_at", "accepted_at"),
        ]


class ConsoleStaffInvitationListCreateApi(ConsoleAPIView, generics.ListAPIView):
    """Invitations to join the brand as staff, newest first; create one.

    An account that works for another brand (or any account not the brand's own) joins only this
    way: the brand hands over the one-time ``code`` (answered once, at creation), and the person
    accepts it logged in as themselves (``POST /api/v1/staff/invitations/accept``). Owners invite
    operators, store managers and guides; operators invite store managers and guides.
    """

    serializer_class = StaffInvitationSerializer
    filterset_fields = ["status", "role"]

    class InputSerializer(serializers.Serializer):
        role = serializers.ChoiceField(choices=StaffInvitation.Role.choices)
        note = serializers.CharField(max_length=100, required=False, allow_blank=True)

    class CreatedSerializer(StaffInvitationSerializer):
        code = serializers.CharField(read_only=True, help_text="The one-time code: shown now and never again.")

        class Meta(StaffInvitationSerializer.Meta):
            fields = [*StaffInvitationSerializer.Meta.fields, "code"]

    def get_queryset(self):
        return StaffInvitation.objects.select_related("invited_by", "accepted_by").order_by("-created_at", "-id")

    @extend_schema(tags=["console"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=InputSerializer, responses={201: CreatedSerializer}, tags=["console"])
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation, code = services.staff_invitation_create(
            brand=request.brand, invited_by=request.user, inviter_role=request.membership.role, **data.validated_data
        )
        invitation.code = code
        return Response(self.CreatedSerializer(invitation).data, status=201)


class ConsoleStaffInvitationRevokeApi(ConsoleAPIView):
    """Withdraw a pending invitation: its code stops working."""

    @error_codes({409: ["invitation_closed"]})
    @extend_schema(request=None, responses={200: StaffInvitationSerializer}, tags=["console"])
    def post(self, request, invitation_id):
        invitation = StaffInvitation.objects.filter(pk=invitation_id).first()
        if invitation is None:
            raise NotFound("invitation_not_found", "No such invitation.")
        invitation = services.staff_invitation_revoke(brand=request.brand, invitation=invitation)
        return Response(StaffInvitationSerializer(invitation).data)
