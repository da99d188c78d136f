import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response

from tenants import services
from tenants.api.base import PlatformAPIView
from tenants.api.filters import BrandFilterSet
from tenants.errors import NotFound
from tenants.models import Brand
from tenants.schema import error_codes


class BrandSerializer(serializers.ModelSerializer):
    class Meta:
        model = Brand
        fields = ["id", "slug", "name", "appid", "status", "suspended_reason", "timezone", "created_at"]


def get_brand(brand_id) -> Brand:
    brand = Brand.objects.filter(pk=brand_id).first()
    if brand is None:
        raise NotFound("brand_not_found", "No such brand.")
    return brand


class BrandFilter(BrandFilterSet):
    q = django_filters.CharFilter(method="search", help_text="Name, slug or appid contains (any case).")

    class Meta:
        model = Brand
        fields = ["status"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(slug__icontains=value) | Q(appid__icontains=value))


class PlatformBrandListCreateApi(PlatformAPIView, generics.ListAPIView):
    """All brands, oldest first and paged (``page``, ``page_size`` up to 100); filter by ``status``,
    search with ``q`` (name, slug or appid); create a brand with its first owner."""

    serializer_class = BrandSerializer
    filterset_class = BrandFilter

    def get_queryset(self):
        return Brand.objects.order_by("id")

    class InputSerializer(serializers.Serializer):
        slug = serializers.SlugField(max_length=50)
        name = serializers.CharField(max_length=100)
        appid = serializers.CharField(max_length=32)
        app_secret = serializers.CharField(max_length=64, required=False, default="", write_only=True)
        timezone = serializers.CharField(max_length=64, required=False, default="Asia/Shanghai")
        owner_username = serializers.CharField(max_length=150, required=False, help_text="An existing staff user.")

    @error_codes({404: ["user_not_found"], 409: ["brand_exists"]})
    @extend_schema(request=InputSerializer, responses={201: BrandSerializer}, tags=["platform"])
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        owner = None
        if username := values.pop("owner_username", None):
            owner = get_user_model().objects.filter(username=username).first()
            if owner is None:
                raise NotFound(
                    "user_not_found", "No staff user with this username.", fields={"owner_username": ["Unknown."]}
                )
        brand = services.brand_create(timezone_name=values.pop("timezone"), owner=owner, **values)
        return Response(BrandSerializer(brand).data, status=201)


class PlatformBrandDetailApi(PlatformAPIView):
    @extend_schema(responses={200: BrandSerializer}, tags=["platform"])
    def get(self, request, brand_id):
        return Response(BrandSerializer(get_brand(brand_id)).data)


class PlatformBrandSuspendApi(PlatformAPIView):
    """Suspend a brand: its customers and staff are refused with ``brand_suspended`` until reactivated."""

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=200, required=False, default="")

    @error_codes({409: ["already_suspended"]})
    @extend_schema(request=InputSerializer, responses={200: BrandSerializer}, tags=["platform"])
    def post(self, request, brand_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        brand = services.brand_suspend(brand=get_brand(brand_id), **data.validated_data)
        return Response(BrandSerializer(brand).data)


class PlatformBrandReactivateApi(PlatformAPIView):
    @error_codes({409: ["already_active"]})
    @extend_schema(request=None, responses={200: BrandSerializer}, tags=["platform"])
    def post(self, request, brand_id):
        return Response(BrandSerializer(services.brand_reactivate(brand=get_brand(brand_id))).data)
