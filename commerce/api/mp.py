"""Buying in the mini-program: place, pay, cancel, confirm, ask for a refund; flash sales."""

import json

from django.core.exceptions import ObjectDoesNotExist
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.response import Response

from commerce.models import FlashSale, Order
from commerce.services import orders, payments
from tenants import text
from tenants.api.base import CustomerAPIView
from tenants.api.errors import error_body, exception_handler
from tenants.api.fields import MAX_ID, IdField, StrictIntegerField
from tenants.auth import remembered_brand, token_customer
from tenants.errors import DomainError, InvalidInput
from tenants.schema import error_codes
from tenants.scoping import brand_scope

TAGS = ["mp: orders"]


def _time(value):
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


# An order is rendered on the hot path of a flash sale. These serializers declare their fields
# (for the schema and the docs) but render by hand: DRF would deep-copy every declared field for
# each order. tests/commerce/test_order_api_shape.py keeps the two in step.
class OrderLineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    product_id = serializers.IntegerField()
    sku_id = serializers.IntegerField()
    flash_sale_id = serializers.IntegerField(allow_null=True)
    product_name = serializers.CharField()
    sku_spec = serializers.CharField()
    unit_price = serializers.IntegerField(help_text="Fen.")
    quantity = serializers.IntegerField()
    discount = serializers.IntegerField(help_text="Fen off the whole line.")
    amount = serializers.IntegerField(help_text="Fen: unit_price × quantity − discount.")
    refunded_quantity = serializers.IntegerField()
    refunded_amount = serializers.IntegerField()

    def to_representation(self, line):
        return {
            "id": line.pk,
            "product_id": line.product_id,
            "sku_id": line.sku_id,
            "flash_sale_id": line.flash_sale_id,
            "product_name": line.product_name,
            "sku_spec": line.sku_spec,
            "unit_price": line.unit_price,
            "quantity": line.quantity,
            "discount": line.discount,
            "amount": line.amount,
            "refunded_quantity": line.refunded_quantity,
            "refunded_amount": line.refunded_amount,
        }


class OrderCouponSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    discount = serializers.IntegerField(help_text="Fen, included in the covered lines' discount.")


def _coupon_of(order):
    """The coupon applied to the order (kept on a just-placed order; joined in otherwise)."""
    if hasattr(order, "placed_lines"):
        use = getattr(order, "placed_coupon_use", None)
    else:
        try:
            use = order.coupon_use
        except ObjectDoesNotExist:
            use = None
    if use is None:
        return None
    return {"id": use.coupon_id, "name": use.coupon.template.name, "discount": use.discount}


class OrderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    status = serializers.ChoiceField(choices=Order.Status.choices)
    room_id = serializers.IntegerField(allow_null=True)
    source_kind = serializers.CharField()
    delivery = serializers.ChoiceField(choices=Order.Delivery.choices)
    address = serializers.JSONField()
    pickup_store_id = serializers.IntegerField(allow_null=True)
    note = serializers.CharField()
    items_total = serializers.IntegerField(help_text="Fen, before discounts.")
    discount_total = serializers.IntegerField(help_text="Fen.")
    shipping_fee = serializers.IntegerField(help_text="Fen.")
    payable = serializers.IntegerField(help_text="Fen: items_total − discount_total + shipping_fee.")
    refunded_total = serializers.IntegerField(help_text="Fen.")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(help_text="Unpaid by then: cancelled, stock returned.")
    paid_at = serializers.DateTimeField(allow_null=True)
    shipped_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    carrier = serializers.CharField()
    tracking_number = serializers.CharField()
    coupon = OrderCouponSerializer(allow_null=True, help_text="The coupon applied, if any.")
    lines = serializers.SerializerMethodField()

    @extend_schema_field(OrderLineSerializer(many=True))
    def get_lines(self, order) -> list:
        """A just-placed order carries its lines; others come with them prefetched."""
        lines = getattr(order, "placed_lines", None)
        render = OrderLineSerializer().to_representation
        return [render(line) for line in (order.lines.all() if lines is None else lines)]

    def to_representation(self, order):
        return {
            "id": order.pk,
            "number": order.number,
            "status": order.status,
            "room_id": order.room_id,
            "source_kind": order.source_kind,
            "delivery": order.delivery,
            "address": order.address,
            "pickup_store_id": order.pickup_store_id,
            "note": order.note,
            "items_total": order.items_total,
            "discount_total": order.discount_total,
            "shipping_fee": order.shipping_fee,
            "payable": order.payable,
            "refunded_total": order.refunded_total,
            "created_at": _time(order.created_at),
            "expires_at": _time(order.expires_at),
            "paid_at": _time(order.paid_at),
            "shipped_at": _time(order.shipped_at),
            "completed_at": _time(order.completed_at),
            "cancelled_at": _time(order.cancelled_at),
            "carrier": order.carrier,
            "tracking_number": order.tracking_number,
            "coupon": _coupon_of(order),
            "lines": self.get_lines(order),
        }


def orders_with_lines():
    return (
        Order.objects.prefetch_related("lines")
        .select_related("coupon_use__coupon__template")
        .order_by("-created_at", "-pk")
    )


class LineInputSerializer(serializers.Serializer):
    sku = IdField()
    quantity = StrictIntegerField(help_text=f"1 to {orders.MAX_QUANTITY}.")
    flash_sale = IdField(required=False, allow_null=True, default=None, help_text="Buy at this flash sale's price.")


class AddressSerializer(serializers.Serializer):
    name = serializers.CharField()
    phone = serializers.CharField()
    province = serializers.CharField()
    city = serializers.CharField()
    district = serializers.CharField()
    detail = serializers.CharField()


class MpOrderListCreateApi(CustomerAPIView, generics.ListAPIView):
    """Your orders, newest first (``?status=``); place an order.

    Send an ``Idempotency-Key`` header (any unique string ≤ 64 characters per attempt): a retry
    with the same key and body answers the same order instead of a second one.
    """

    serializer_class = OrderSerializer
    queryset = Order.objects.none()  # names the model for the schema; get_queryset() does the work
    filterset_fields = ["status"]

    def get_queryset(self):
        return orders_with_lines().filter(customer=self.request.customer)

    class InputSerializer(serializers.Serializer):
        lines = LineInputSerializer(many=True, allow_empty=True)
        room_id = IdField(required=False, allow_null=True, default=None, help_text="Bought in this live room.")
        source = serializers.CharField(
            required=False,
            allow_blank=True,
            default="",
            max_length=64,
            help_text="Where the viewer came from: the room detail's `source`.",
        )
        delivery = serializers.ChoiceField(choices=Order.Delivery.choices, default=Order.Delivery.SHIP)
        address = serializers.JSONField(required=False, default=None, help_text="For delivery: AddressSerializer.")
        pickup_store_id = IdField(required=False, allow_null=True, default=None, help_text="For pickup.")
        note = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
        coupon_id = IdField(required=False, allow_null=True, default=None, help_text="Use this coupon of yours.")

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @error_codes(
        {
            400: ["empty_cart", "invalid_address", "invalid_quantity", "invalid_source"],
            404: ["coupon_not_found", "flash_sale_not_found", "room_not_found", "sku_not_found", "store_not_found"],
            409: [
                "coupon_expired",
                "coupon_in_store_only",
                "coupon_in_use",
                "coupon_min_spend_not_met",
                "coupon_not_applicable",
                "coupon_not_yet_valid",
                "coupon_used",
                "flash_sale_ended",
                "flash_sale_limit_reached",
                "flash_sale_members_only",
                "flash_sale_new_customers_only",
                "flash_sale_not_started",
                "flash_sale_room_only",
                "flash_sale_sold_out",
                "flash_sale_withdrawn",
                "idempotency_key_reused",
                "out_of_stock",
                "product_not_in_room",
                "product_unavailable",
                "room_not_selling",
                # when the room sells what (livestream.sales)
                "room_not_started",
                "room_paused",
                "room_ended",
                "live_offer_ended",
            ],
        }
    )
    @extend_schema(
        request=InputSerializer,
        responses={201: OrderSerializer, 200: OrderSerializer},
        tags=TAGS,
        parameters=[OpenApiParameter("Idempotency-Key", str, "header", required=False)],
    )
    def post(self, request):
        values = usual_order_input(request.data)
        if values is None:
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            values = data.validated_data
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > MAX_IDEMPOTENCY_KEY:
            raise InvalidInput(
                "invalid",
                f"Idempotency-Key is at most {MAX_IDEMPOTENCY_KEY} characters.",
                fields={"Idempotency-Key": [f"At most {MAX_IDEMPOTENCY_KEY} characters."]},
            )
        return placed_order_response(request.brand, request.customer, values, key)

    @classmethod
    def as_view(cls, **initkwargs):
        """The view, with the flash sale's hot path in front (``fast_order_place``)."""
        view = super().as_view(**initkwargs)

        def orders_view(request):
            if request.method == "POST":
                answer = fast_order_place(request)
                if answer is not None:
                    return answer
            return view(request)

        orders_view.cls, orders_view.initkwargs = view.cls, view.initkwargs
        return csrf_exempt(orders_view)


MAX_IDEMPOTENCY_KEY = 64


def placed_order_response(brand, customer, values: dict, idempotency_key: str) -> HttpResponse:
    """Place the order of ``values`` (validated as ``MpOrderListCreateApi.InputSerializer`` does)
    and answer it: 201, or 200 with ``Idempotent-Replayed`` for a retry of an earlier order."""
    order, created = orders.order_place(
        brand=brand,
        customer=customer,
        lines=[orders.LineRequest(line["sku"], line["quantity"], line["flash_sale"]) for line in values["lines"]],
        room_id=values["room_id"],
        source=values["source"],
        delivery=values["delivery"],
        address=values["address"],
        pickup_store_id=values["pickup_store_id"],
        note=values["note"],
        idempotency_key=idempotency_key,
        coupon_id=values["coupon_id"],
    )
    body = json.dumps(OrderSerializer().to_representation(order), ensure_ascii=False, separators=(",", ":"))
    response = HttpResponse(body.encode(), status=201 if created else 200, content_type="application/json")
    if not created:
        response["Idempotent-Replayed"] = "true"
    return response


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity, as DRF's strict JSON parser


def fast_order_place(request) -> HttpResponse | None:
    """``POST /api/v1/mp/orders`` as the mini-program sends it in a flash sale, without DRF: its
    request and response wrapping, authentication classes, content negotiation and parser were a
    fifth of an order's CPU. The rules are the API view's, from the same functions: the customer
    token (``token_customer``: a buyer whom the stock gate turns away costs no query), the text
    rule, the input as the serializer takes it (``usual_order_input``), the order service, the
    error shape (``exception_handler``).
    Anything unusual (no or a bad token, a suspended brand, another content type, a body the
    serializer must judge) answers None, and the API view answers it in full."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header.startswith("Bearer ") or request.content_type != "application/json":
        return None
    customer = token_customer(header[7:].strip())  # their row is read once the stock gate admits the order
    if customer is None:
        return None
    try:
        data = json.loads(request.body.decode(), parse_constant=_refuse_constant)
    except ValueError:
        return None
    key = request.META.get("HTTP_IDEMPOTENCY_KEY", "").strip()
    values = usual_order_input(data)
    if values is None or len(key) > MAX_IDEMPOTENCY_KEY or text.find_invalid(data):
        return None
    brand = remembered_brand(customer.brand_id)
    if brand is None or not brand.is_active:
        return None
    try:
        with brand_scope(brand):
            return placed_order_response(brand, customer, values, key)
    except DomainError as refusal:  # a sold-out sale's buyers are answered here, so without DRF's Response
        return JsonResponse(error_body(refusal.code, refusal.message, refusal.fields), status=refusal.status_code)
    except Exception as error:
        answer = exception_handler(error, {})
        response = JsonResponse(answer.data, status=answer.status_code)
        for name in ("Retry-After", "WWW-Authenticate"):
            if name in answer:
                response[name] = answer[name]
        return response


_ID_KEYS = ("room_id", "pickup_store_id", "coupon_id")
_TEXT_LIMITS = {
    name: MpOrderListCreateApi.InputSerializer._declared_fields[name].max_length for name in ("source", "note")
}
_DELIVERIES = frozenset(Order.Delivery.values)


def _is_id(value) -> bool:
    return type(value) is int and 1 <= value <= MAX_ID


def _is_plain_text(value, limit: int) -> bool:
    """Text the serializer would take as it is: ASCII (so no surrogates), no NUL, nothing to trim."""
    return (
        type(value) is str
        and len(value) <= limit
        and value.isascii()
        and "\x00" not in value
        and value == value.strip()
    )


def usual_order_input(data) -> dict | None:
    """An order body as the mini-program sends it, validated and defaulted exactly as
    ``MpOrderListCreateApi.InputSerializer`` would, without DRF copying each declared field for
    each request (a fifth of a flash-sale order's CPU). Anything unusual answers None, and the
    serializer then checks it and answers with its precise errors. tests/commerce/test_order_input.py
    keeps the two in step."""
    if type(data) is not dict or type(data.get("lines")) is not list:
        return None
    values = {"lines": []}
    for line in data["lines"]:
        if type(line) is not dict or not _is_id(line.get("sku")) or type(line.get("quantity")) is not int:
            return None
        flash_sale = line.get("flash_sale")
        if flash_sale is not None and not _is_id(flash_sale):
            return None
        values["lines"].append({"sku": line["sku"], "quantity": line["quantity"], "flash_sale": flash_sale})
    for key in _ID_KEYS:
        if (value := data.get(key)) is not None and not _is_id(value):
            return None
        values[key] = value
    for key, limit in _TEXT_LIMITS.items():
        if not _is_plain_text(value := data.get(key, ""), limit):
            return None
        values[key] = value
    delivery = data.get("delivery", Order.Delivery.SHIP.value)
    if type(delivery) is not str or delivery not in _DELIVERIES or data.get("address", ...) is None:
        return None  # an explicit "address": null is refused by the serializer
    values["delivery"], values["address"] = delivery, data.get("address")
    return values


class MpOrderDetailApi(CustomerAPIView):
    @extend_schema(responses={200: OrderSerializer}, tags=TAGS)
    def get(self, request, order_id):
        order = orders.get_order(order_id, customer=request.customer)
        return Response(OrderSerializer(orders_with_lines().get(pk=order.pk)).data)


class MpOrderCancelApi(CustomerAPIView):
    """Cancel an unpaid order; its stock comes back."""

    @error_codes({409: ["invalid_transition"]})
    @extend_schema(request=None, responses={200: OrderSerializer}, tags=TAGS)
    def post(self, request, order_id):
        order = orders.get_order(order_id, customer=request.customer)
        orders.order_cancel(brand=request.brand, order=order, customer=request.customer, reason="cancelled by customer")
        return Response(OrderSerializer(orders_with_lines().get(pk=order.pk)).data)


class MpOrderConfirmApi(CustomerAPIView):
    """Confirm receipt of a shipped order."""

    @error_codes({409: ["invalid_transition"]})
    @extend_schema(request=None, responses={200: OrderSerializer}, tags=TAGS)
    def post(self, request, order_id):
        order = orders.get_order(order_id, customer=request.customer)
        orders.order_complete(brand=request.brand, order=order, customer=request.customer)
        return Response(OrderSerializer(orders_with_lines().get(pk=order.pk)).data)


class MpOrderPayApi(CustomerAPIView):
    """Start paying: pass ``params`` to ``wx.requestPayment``. The order is paid when the payment
    provider's notification arrives; poll the order (or watch its status) after the call returns."""

    class OutputSerializer(serializers.Serializer):
        provider = serializers.CharField()
        out_trade_no = serializers.CharField()
        params = serializers.DictField(help_text="timeStamp, nonceStr, package, signType, paySign")

    @error_codes(
        {
            409: ["invalid_transition", "order_expired"],
            502: ["payment_rejected", "payment_unavailable", "payment_unverified"],
        }
    )
    @extend_schema(request=None, responses={200: OutputSerializer}, tags=TAGS)
    def post(self, request, order_id):
        order = orders.get_order(order_id, customer=request.customer)
        return Response(payments.order_pay(brand=request.brand, order=order, customer=request.customer))


class MpOrderSandboxPayApi(CustomerAPIView):
    """Sandbox only: act as if the customer paid in WeChat. A signed payment notification is
    delivered to the same notification code as WeChat Pay's. 404 with the real provider."""

    @error_codes({409: ["no_payment_started"]})
    @extend_schema(request=None, responses={200: OrderSerializer}, tags=TAGS)
    def post(self, request, order_id):
        order = orders.get_order(order_id, customer=request.customer)
        payments.sandbox_pay(brand=request.brand, order=order, customer=request.customer)
        return Response(OrderSerializer(orders_with_lines().get(pk=order.pk)).data)


class MpOrderRefundApi(CustomerAPIView):
    """Ask for a refund of some lines (``lines``: [{line_id, quantity}]) or of everything left."""

    class RefundLineSerializer(serializers.Serializer):
        line_id = IdField()
        quantity = StrictIntegerField(min_value=1)

    class InputSerializer(serializers.Serializer):
        lines = serializers.ListField(child=serializers.DictField(), required=False, allow_null=True, default=None)
        reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        status = serializers.CharField()
        amount = serializers.IntegerField()
        lines = serializers.ListField(child=serializers.DictField())

    @error_codes(
        {
            400: ["invalid_quantity"],
            404: ["line_not_found"],
            409: ["group_not_complete", "invalid_transition", "not_paid", "nothing_to_refund", "refund_in_progress"],
        }
    )
    @extend_schema(request=InputSerializer, responses={201: OutputSerializer}, tags=TAGS)
    def post(self, request, order_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        lines = data.validated_data["lines"]
        if lines is not None:
            checked = self.RefundLineSerializer(data=lines, many=True, allow_empty=False)  # omit it for everything
            checked.is_valid(raise_exception=True)
            lines = [dict(line) for line in checked.validated_data]
        order = orders.get_order(order_id, customer=request.customer)
        refund = payments.refund_request(
            brand=request.brand,
            order=order,
            customer=request.customer,
            lines=lines,
            reason=data.validated_data["reason"],
        )
        return Response(self.OutputSerializer(refund).data, status=201)


class FlashSaleSerializer(serializers.ModelSerializer):
    sku_id = serializers.IntegerField()
    product_id = serializers.IntegerField(source="sku.product_id")
    original_price = serializers.IntegerField(source="sku.price")
    remaining = serializers.IntegerField()

    class Meta:
        model = FlashSale
        fields = [
            "id",
            "title",
            "sku_id",
            "product_id",
            "room_id",
            "price",
            "original_price",
            "quantity",
            "remaining",
            "per_customer_limit",
            "audience",
            "starts_at",
            "ends_at",
        ]


class MpFlashSaleListApi(CustomerAPIView, generics.ListAPIView):
    """Flash sales running now or about to (``?room_id=`` for one room's)."""

    serializer_class = FlashSaleSerializer
    filterset_fields = ["room_id"]

    def get_queryset(self):
        return (
            FlashSale.objects.filter(is_active=True, ends_at__gt=timezone.now())
            .select_related("sku")
            .order_by("starts_at", "pk")
        )

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
