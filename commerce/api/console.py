"""The product library on the console API: brand operators manage products, SKUs and stock.

Serializers check the shape of a request (types, required keys); the services hold the rules.
"""

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response

from commerce import selectors
from commerce.models import Product, Sku
from commerce.services import products as services
from tenants.api.base import ConsoleAPIView
from tenants.api.fields import StrictIntegerField
from tenants.api.filters import BrandFilterSet
from tenants.schema import error_codes


class ConsoleSkuSerializer(serializers.ModelSerializer):
    class Meta:
        model = Sku
        fields = ["id", "product", "code", "spec", "price", "stock", "is_active", "created_at"]


class ConsoleProductSerializer(serializers.ModelSerializer):
    images = serializers.ListField(child=serializers.URLField(), read_only=True, help_text="The first is the cover.")
    cover_url = serializers.CharField(read_only=True, help_text="The first image, or empty.")
    is_sellable = serializers.BooleanField(read_only=True, help_text="On the shelf and approved.")
    skus = ConsoleSkuSerializer(many=True, read_only=True)

    class Meta:
        model = Product
        fields = [
            "id",
            "name",
            "category",
            "images",
            "cover_url",
            "description",
            "price_type",
            "price",
            "price2",
            "status",
            "audit_status",
            "audit_reason",
            "is_sellable",
            "skus",
            "created_at",
            "updated_at",
            "archived_at",
        ]
        read_only_fields = fields


def product_data(product: Product) -> dict:
    return ConsoleProductSerializer(product).data


class SkuInputSerializer(serializers.Serializer):
    code = serializers.CharField(trim_whitespace=False, help_text="1–64 of A-Z a-z 0-9 _ -, unique in the brand.")
    spec = serializers.CharField(required=False, allow_blank=True, default="", help_text="E.g. 'Red / XL'.")
    price = StrictIntegerField(help_text="Fen, at least 1.")
    stock = StrictIntegerField(required=False, default=0)


class ProductFilter(BrandFilterSet):
    q = django_filters.CharFilter(method="search", help_text="Name or SKU code contains.")

    class Meta:
        model = Product
        fields = ["status", "audit_status", "category", "price_type"]

    def search(self, queryset, name, value):
        return selectors.product_search(queryset, value)


class ConsoleProductListCreateApi(ConsoleAPIView, generics.ListAPIView):
    """The brand's product library, newest first, each product with its SKUs; add a product."""

    serializer_class = ConsoleProductSerializer
    filterset_class = ProductFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no brand
            return Product.objects.none()
        return selectors.product_list(brand=self.request.brand)

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(help_text="At most 60 characters.")
        category = serializers.CharField(required=False, allow_blank=True, default="")
        images = serializers.ListField(
            child=serializers.CharField(), required=False, default=list, help_text="Up to 9 http(s) URLs."
        )
        description = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
        price_type = serializers.ChoiceField(choices=Product.PriceType.choices)
        price = StrictIntegerField(help_text="Fen: the fixed price, the range's bottom or the original price.")
        price2 = StrictIntegerField(
            required=False, allow_null=True, default=None, help_text="Fen: the range's top or the discounted price."
        )
        skus = SkuInputSerializer(many=True, required=False, default=list)

    @extend_schema(tags=["console"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @error_codes({400: ["discount_not_lower", "price_range_inverted"], 409: ["sku_code_taken"]})
    @extend_schema(request=InputSerializer, responses={201: ConsoleProductSerializer}, tags=["console"])
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        product = services.product_create(brand=request.brand, **data.validated_data)
        return Response(product_data(product), status=201)


class ConsoleProductDetailApi(ConsoleAPIView):
    """One product: read it, change its content or price, or delete it (archived if orders mention it)."""

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(required=False)
        category = serializers.CharField(required=False, allow_blank=True)
        images = serializers.ListField(child=serializers.CharField(), required=False)
        description = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
        price_type = serializers.ChoiceField(choices=Product.PriceType.choices, required=False)
        price = StrictIntegerField(required=False)
        price2 = StrictIntegerField(required=False, allow_null=True)

    class DeleteOutputSerializer(serializers.Serializer):
        result = serializers.ChoiceField(choices=["deleted", "archived"])

    @extend_schema(responses={200: ConsoleProductSerializer}, tags=["console"])
    def get(self, request, product_id):
        return Response(product_data(selectors.product_get(brand=request.brand, product_id=product_id)))

    @error_codes({400: ["price_range_inverted"], 409: ["product_archived"]})
    @extend_schema(
        request=InputSerializer,
        responses={200: ConsoleProductSerializer},
        tags=["console"],
        description="A change of name, category, images or description sends an audited product back to audit.",
    )
    def patch(self, request, product_id):
        product = selectors.product_get(brand=request.brand, product_id=product_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        product = services.product_update(brand=request.brand, product=product, **data.validated_data)
        return Response(product_data(product))

    @extend_schema(request=None, responses={200: DeleteOutputSerializer}, tags=["console"])
    def delete(self, request, product_id):
        product = selectors.product_get(brand=request.brand, product_id=product_id)
        result = services.product_delete(brand=request.brand, product=product)
        return Response(self.DeleteOutputSerializer({"result": result}).data)


class ConsoleProductShelfApi(ConsoleAPIView):
    """Put a product on the shelf or take it off."""

    class InputSerializer(serializers.Serializer):
        on_shelf = serializers.BooleanField()

    @error_codes({409: ["product_archived"]})
    @extend_schema(request=InputSerializer, responses={200: ConsoleProductSerializer}, tags=["console"])
    def post(self, request, product_id):
        product = selectors.product_get(brand=request.brand, product_id=product_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        product = services.product_set_shelf(brand=request.brand, product=product, **data.validated_data)
        return Response(product_data(product))


class ConsoleProductAuditApi(ConsoleAPIView):
    """Approve or reject a pending product; a rejection needs a reason."""

    class InputSerializer(serializers.Serializer):
        approve = serializers.BooleanField()
        reason = serializers.CharField(required=False, allow_blank=True, default="")

    @error_codes({400: ["reason_required"], 409: ["not_pending"]})
    @extend_schema(request=InputSerializer, responses={200: ConsoleProductSerializer}, tags=["console"])
    def post(self, request, product_id):
        product = selectors.product_get(brand=request.brand, product_id=product_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        product = services.product_audit(brand=request.brand, product=product, **data.validated_data)
        return Response(product_data(product))


class ConsoleProductArchiveApi(ConsoleAPIView):
    """Archive a product: it leaves the shelf and can no longer be edited."""

    @extend_schema(request=None, responses={200: ConsoleProductSerializer}, tags=["console"])
    def post(self, request, product_id):
        product = selectors.product_get(brand=request.brand, product_id=product_id)
        product = services.product_archive(brand=request.brand, product=product)
        return Response(product_data(product))


class ConsoleProductSkuCreateApi(ConsoleAPIView):
    """Add a SKU to a product."""

    @error_codes({409: ["sku_code_taken"]})
    @extend_schema(request=SkuInputSerializer, responses={201: ConsoleSkuSerializer}, tags=["console"])
    def post(self, request, product_id):
        product = selectors.product_get(brand=request.brand, product_id=product_id)
        data = SkuInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sku = services.sku_create(brand=request.brand, product=product, **data.validated_data)
        return Response(ConsoleSkuSerializer(sku).data, status=201)


class ConsoleSkuDetailApi(ConsoleAPIView):
    """Change a SKU's spec, price or whether it is sold."""

    class InputSerializer(serializers.Serializer):
        spec = serializers.CharField(required=False, allow_blank=True)
        price = StrictIntegerField(required=False)
        is_active = serializers.BooleanField(required=False)

    @extend_schema(request=InputSerializer, responses={200: ConsoleSkuSerializer}, tags=["console"])
    def patch(self, request, sku_id):
        sku = selectors.sku_get(brand=request.brand, sku_id=sku_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sku = services.sku_update(brand=request.brand, sku=sku, **data.validated_data)
        return Response(ConsoleSkuSerializer(sku).data)


class ConsoleSkuStockApi(ConsoleAPIView):
    """Add to or take from a SKU's stock; it never goes below zero."""

    class InputSerializer(serializers.Serializer):
        delta = StrictIntegerField(help_text="Positive to add, negative to take away.")

    @error_codes({409: ["insufficient_stock", "stock_limit_exceeded"]})
    @extend_schema(request=InputSerializer, responses={200: ConsoleSkuSerializer}, tags=["console"])
    def post(self, request, sku_id):
        sku = selectors.sku_get(brand=request.brand, sku_id=sku_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sku = services.sku_adjust_stock(brand=request.brand, sku=sku, **data.validated_data)
        return Response(ConsoleSkuSerializer(sku).data)
