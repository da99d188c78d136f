"""Brand operators: orders (list, detail, ship, CSV export), refunds and flash sales."""

import django_filters
from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from commerce import selectors
from commerce.api.mp import OrderLineSerializer
from commerce.models import FlashSale, Order, OrderEvent, Payment, Refund, Sku
from commerce.services import flash_sales, orders, payments
from guides.models import Guide, Store
from livestream.models import LiveRoom
from tenants.api.base import ConsoleAPIView
from tenants.api.fields import IdField, StrictIntegerField
from tenants.api.filters import BrandFilterSet
from tenants.errors import NotFound
from tenants.models import Customer
from tenants.schema import error_codes

TAGS = ["console: orders"]


class ConsoleOrderSerializer(serializers.ModelSerializer):
    customer = serializers.SerializerMethodField()
    lines = OrderLineSerializer(many=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "number",
            "status",
            "customer",
            "room_id",
            "source_kind",
            "source_scene",
            "festival_id",
            "costream_id",
            "referring_room_id",
            "guide_id",
            "store_id",
            "leader_id",
            "delivery",
            "address",
            "pickup_store_id",
            "note",
            "items_total",
            "discount_total",
            "shipping_fee",
            "payable",
            "refunded_total",
            "created_at",
            "expires_at",
            "paid_at",
            "shipped_at",
            "completed_at",
            "cancelled_at",
            "carrier",
            "tracking_number",
            "lines",
        ]

    def get_customer(self, order) -> dict:
        return {"id": order.customer_id, "nickname": order.customer.nickname}


class OrderEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderEvent
        fields = ["from_status", "to_status", "actor", "actor_id", "reason", "created_at"]


class PaymentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Payment
        fields = ["out_trade_no", "provider", "amount", "status", "transaction_id", "created_at", "paid_at"]


class RefundSerializer(serializers.ModelSerializer):
    order_number = serializers.CharField(source="order.number")

    class Meta:
        model = Refund
        fields = [
            "id",
            "order_id",
            "order_number",
            "out_refund_no",
            "amount",
            "lines",
            "reason",
            "status",
            "order_status_before",
            "decision_note",
            "created_at",
            "decided_at",
            "succeeded_at",
        ]


class OrderFilter(BrandFilterSet):
    # Callables, so that each request builds its choices inside its brand's scope (a queryset made
    # when this class is defined has no brand in scope, and fails closed).
    room = django_filters.ModelChoiceFilter(queryset=lambda request: LiveRoom.objects.all())
    guide = django_filters.ModelChoiceFilter(queryset=lambda request: Guide.objects.all())
    store = django_filters.ModelChoiceFilter(queryset=lambda request: Store.objects.all())
    customer = django_filters.ModelChoiceFilter(queryset=lambda request: Customer.objects.all())
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    number = django_filters.CharFilter()

    class Meta:
        model = Order
        fields = ["status", "room", "guide", "store", "customer"]


class ConsoleOrderListApi(ConsoleAPIView, generics.ListAPIView):
    """Orders, newest first; filter by status, room, guide, store, customer, number, date range."""

    serializer_class = ConsoleOrderSerializer
    filterset_class = OrderFilter

    def get_queryset(self):
        return selectors.console_orders()

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ConsoleOrderExportApi(ConsoleAPIView):
    """The filtered orders as CSV, one row per line, streamed (any number of orders)."""

    @error_codes({400: ["invalid"]})
    @extend_schema(tags=TAGS, responses={200: OpenApiResponse(description="text/csv")})
    def get(self, request):
        orders_filter = OrderFilter(request.query_params, queryset=selectors.console_orders())
        if not orders_filter.is_valid():
            raise ValidationError(orders_filter.errors)
        rows = selectors.orders_csv(brand=request.brand, queryset=orders_filter.qs)
        response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{request.brand.slug}-orders.csv"'
        return response


class ConsoleOrderDetailApi(ConsoleAPIView):
    class OutputSerializer(ConsoleOrderSerializer):
        events = OrderEventSerializer(many=True)
        payments = PaymentSerializer(many=True)
        refunds = RefundSerializer(many=True)

        class Meta(ConsoleOrderSerializer.Meta):
            fields = [*ConsoleOrderSerializer.Meta.fields, "events", "payments", "refunds"]

    @extend_schema(responses={200: OutputSerializer}, tags=TAGS)
    def get(self, request, order_id):
        order = selectors.console_order_detail(order_id)
        return Response(self.OutputSerializer(order).data)


class ConsoleOrderShipApi(ConsoleAPIView):
    """Ship a paid order (a tracking number is needed for delivery; pickup orders: ready in store)."""

    class InputSerializer(serializers.Serializer):
        carrier = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
        tracking_number = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")

    @error_codes({400: ["tracking_required"], 409: ["invalid_transition"]})
    @extend_schema(request=InputSerializer, responses={200: ConsoleOrderSerializer}, tags=TAGS)
    def post(self, request, order_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = orders.order_ship(
            brand=request.brand, order=orders.get_order(order_id), staff=request.user, **data.validated_data
        )
        return Response(ConsoleOrderSerializer(selectors.console_orders().get(pk=order.pk)).data)


class ConsoleRefundListApi(ConsoleAPIView, generics.ListAPIView):
    """Refund requests, newest first (``?status=requested`` for the ones to decide)."""

    serializer_class = RefundSerializer
    filterset_fields = ["status", "order"]

    def get_queryset(self):
        return Refund.objects.select_related("order").order_by("-created_at", "-pk")

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


def get_refund(refund_id) -> Refund:
    refund = Refund.objects.filter(pk=refund_id).select_related("order").first()
    if refund is None:
        raise NotFound("refund_not_found", "No such refund.")
    return refund


class ConsoleRefundDecisionApi(ConsoleAPIView):
    """Approve (the money goes back through the payment provider) or reject a refund request."""

    approve = True

    class InputSerializer(serializers.Serializer):
        note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    @error_codes({409: ["invalid_transition"], 502: ["payment_rejected", "payment_unavailable", "payment_unverified"]})
    @extend_schema(request=InputSerializer, responses={200: RefundSerializer}, tags=TAGS)
    def post(self, request, refund_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decide = payments.refund_approve if self.approve else payments.refund_reject
        refund = decide(brand=request.brand, refund=get_refund(refund_id), staff=request.user, **data.validated_data)
        return Response(RefundSerializer(get_refund(refund.pk)).data)


class ConsoleFlashSaleSerializer(serializers.ModelSerializer):
    remaining = serializers.IntegerField(read_only=True)

    class Meta:
        model = FlashSale
        fields = [
            "id",
            "title",
            "sku",
            "room",
            "price",
            "quantity",
            "sold",
            "remaining",
            "per_customer_limit",
            "audience",
            "starts_at",
            "ends_at",
            "is_active",
            "created_at",
        ]
        read_only_fields = fields


class ConsoleFlashSaleListCreateApi(ConsoleAPIView, generics.ListAPIView):
    """Flash sales, newest first; create one for a SKU (optionally in one room, for one audience)."""

    serializer_class = ConsoleFlashSaleSerializer
    filterset_fields = ["sku", "room", "is_active", "audience"]

    def get_queryset(self):
        return FlashSale.objects.order_by("-starts_at", "-pk")

    class InputSerializer(serializers.Serializer):
        sku_id = IdField()
        room_id = IdField(required=False, allow_null=True, default=None)
        title = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
        price = StrictIntegerField(min_value=1, help_text="Fen, below the SKU's price.")
        quantity = StrictIntegerField(min_value=1)
        per_customer_limit = StrictIntegerField(min_value=1, default=1)
        audience = serializers.ChoiceField(choices=FlashSale.Audience.choices, default=FlashSale.Audience.EVERYONE)
        starts_at = serializers.DateTimeField()
        ends_at = serializers.DateTimeField()

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @error_codes({404: ["room_not_found", "sku_not_found"]})
    @extend_schema(request=InputSerializer, responses={201: ConsoleFlashSaleSerializer}, tags=TAGS)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        sku = Sku.objects.filter(pk=values.pop("sku_id")).first()
        if sku is None:
            raise NotFound("sku_not_found", "No such SKU.", fields={"sku_id": ["No such SKU."]})
        room_id = values.pop("room_id")
        room = LiveRoom.objects.filter(pk=room_id).first() if room_id else None
        if room_id and room is None:
            raise NotFound("room_not_found", "No such live room.", fields={"room_id": ["No such room."]})
        flash_sale = flash_sales.flash_sale_create(brand=request.brand, sku=sku, room=room, **values)
        return Response(ConsoleFlashSaleSerializer(flash_sale).data, status=201)


class ConsoleFlashSaleWithdrawApi(ConsoleAPIView):
    """Stop a flash sale; units already in orders stay sold."""

    @extend_schema(request=None, responses={200: ConsoleFlashSaleSerializer}, tags=TAGS)
    def post(self, request, flash_sale_id):
        flash_sale = flash_sales.flash_sale_withdraw(
            brand=request.brand, flash_sale=flash_sales.get_flash_sale(flash_sale_id)
        )
        return Response(ConsoleFlashSaleSerializer(flash_sale).data)
