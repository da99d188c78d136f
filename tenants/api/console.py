import django_filters
from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response

from tenants import services
from tenants.api.base import ConsoleAPIView
from tenants.models import Brand, Customer


class ConsoleBrandSerializer(serializers.ModelSerializer):
    class Meta:
        model = Brand
        fields = ["id", "slug", "name", "appid", "status", "timezone"]
        read_only_fields = ["id", "slug", "appid", "status"]


class ConsoleBrandApi(ConsoleAPIView):
    """The brand the request acts for, and its settings."""

    @extend_schema(responses={200: ConsoleBrandSerializer}, tags=["console"])
    def get(self, request):
        return Response(ConsoleBrandSerializer(request.brand).data)

    @extend_schema(request=ConsoleBrandSerializer, responses={200: ConsoleBrandSerializer}, tags=["console"])
    def patch(self, request):
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


class CustomerFilter(django_filters.FilterSet):
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
