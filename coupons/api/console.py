"""Brand operators: coupon templates, live-room drops, the coupons given out, the redemption
report by store, and the referral programme."""

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response

from coupons import selectors, services
from coupons.api.mp import STATE_PARAMETER, DropSerializer, TemplateSummarySerializer, state_param
from coupons.models import Coupon, CouponDrop, CouponTemplate, ReferralProgram
from livestream.selectors import get_room
from tenants.api.base import ConsoleAPIView
from tenants.api.fields import IdField, StrictIntegerField
from tenants.errors import InvalidInput
from tenants.schema import error_codes

TAGS = ["console: coupons"]


class TemplateSerializer(TemplateSummarySerializer):
    product_ids = serializers.SerializerMethodField()
    remaining = serializers.IntegerField(allow_null=True, help_text="Empty: unlimited.")
    droppable = serializers.SerializerMethodField(
        help_text="May be dropped into a live room now (active, the brand's own, valid, coupons left)."
    )

    class Meta(TemplateSummarySerializer.Meta):
        fields = [
            *TemplateSummarySerializer.Meta.fields,
            "categories",
            "product_ids",
            "audience",
            "claimable",
            "total_quantity",
            "issued",
            "remaining",
            "per_customer_limit",
            "status",
            "droppable",
            "created_at",
            "updated_at",
        ]

    def get_product_ids(self, template) -> list[int]:
        return sorted(product.pk for product in template.products.all())

    def get_droppable(self, template) -> bool:
        return services.drop_refusal(template, now=timezone.now()) is None


def fen(**kwargs):
    return StrictIntegerField(min_value=0, max_value=2_000_000_000, **kwargs)


class TemplateInputSerializer(serializers.Serializer):
    """Shape only; the rules that tie the fields together are the service's."""

    name = serializers.CharField(max_length=60)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=CouponTemplate.Kind.choices)
    amount_off = fen(required=False, help_text="Fen off (amount off, threshold).")
    percent_off = StrictIntegerField(min_value=1, max_value=99, required=False)
    max_discount = fen(required=False, help_text="Fen: the cap of a percent-off coupon (0: none).")
    min_spend = fen(required=False, help_text="Fen the covered items must reach.")
    validity = serializers.ChoiceField(choices=CouponTemplate.Validity.choices, required=False)
    valid_from = serializers.DateTimeField(required=False, allow_null=True)
    valid_until = serializers.DateTimeField(required=False, allow_null=True)
    valid_days = StrictIntegerField(min_value=1, max_value=3650, required=False)
    total_quantity = StrictIntegerField(min_value=1, max_value=10_000_000, required=False, allow_null=True)
    per_customer_limit = StrictIntegerField(min_value=1, max_value=1000, required=False)
    scope = serializers.ChoiceField(choices=CouponTemplate.Scope.choices, required=False)
    product_ids = serializers.ListField(child=IdField(), required=False, max_length=500)
    categories = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=50)
    channel = serializers.ChoiceField(choices=CouponTemplate.Channel.choices, required=False)
    audience = serializers.ChoiceField(choices=CouponTemplate.Audience.choices, required=False)
    store_id = IdField(required=False, allow_null=True, help_text="Store-exclusive: that store's coupon.")
    claimable = serializers.BooleanField(required=False)


def templates_with_products():
    return CouponTemplate.objects.prefetch_related("products").order_by("-created_at", "-pk")


class TemplateListCreateApi(ConsoleAPIView, generics.ListAPIView):
    """The brand's coupon templates, newest first (``?status=``; ``?droppable=true``: only those a
    live room's coupon drop accepts, as the console's drop form lists them); create one."""

    serializer_class = TemplateSerializer
    queryset = CouponTemplate.objects.none()
    filterset_fields = ["status", "kind", "store"]

    def get_queryset(self):
        templates = templates_with_products()
        droppable = self.request.query_params.get("droppable")
        if droppable not in (None, "", "true", "false"):
            raise InvalidInput("invalid", "droppable is true or false.", fields={"droppable": ["true or false."]})
        if droppable == "true":
            templates = templates.filter(pk__in=selectors.droppable_templates().values("pk"))
        return templates

    @extend_schema(
        tags=TAGS,
        parameters=[OpenApiParameter("droppable", bool, required=False, description="Only templates a drop accepts.")],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @error_codes({404: ["product_not_found", "store_not_found"]})
    @extend_schema(request=TemplateInputSerializer, responses={201: TemplateSerializer}, tags=TAGS)
    def post(self, request):
        data = TemplateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        template = services.coupon_template_create(brand=request.brand, **data.validated_data)
        return Response(TemplateSerializer(templates_with_products().get(pk=template.pk)).data, status=201)


class TemplateDetailApi(ConsoleAPIView):
    @extend_schema(responses={200: TemplateSerializer}, tags=TAGS)
    def get(self, request, template_id):
        template = services.get_template(template_id)
        return Response(TemplateSerializer(template).data)

    @error_codes({409: ["template_in_use"]})
    @extend_schema(request=TemplateInputSerializer(partial=True), responses={200: TemplateSerializer}, tags=TAGS)
    def patch(self, request, template_id):
        template = services.get_template(template_id)
        data = TemplateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        template = services.coupon_template_update(brand=request.brand, template=template, **data.validated_data)
        return Response(TemplateSerializer(templates_with_products().get(pk=template.pk)).data)


class TemplateRetireApi(ConsoleAPIView):
    """Stop giving this coupon out; the coupons given out stay valid."""

    @extend_schema(request=None, responses={200: TemplateSerializer}, tags=TAGS)
    def post(self, request, template_id):
        template = services.coupon_template_retire(brand=request.brand, template=services.get_template(template_id))
        return Response(TemplateSerializer(template).data)


class RoomDropListCreateApi(ConsoleAPIView):
    """Drop coupons into a live room (its viewers get a ``coupon.drop`` event), or list its drops."""

    class InputSerializer(serializers.Serializer):
        template_id = IdField()
        quantity = StrictIntegerField(min_value=1, max_value=10_000_000)

    @extend_schema(responses={200: DropSerializer(many=True)}, tags=TAGS, operation_id="console_room_drops_list")
    def get(self, request, room_id):
        drops = CouponDrop.objects.filter(room=get_room(room_id)).select_related("template").order_by("-pk")
        return Response(DropSerializer(drops, many=True).data)

    @error_codes(
        {
            404: ["template_not_found"],
            409: ["not_enough_coupons", "room_not_live", "template_retired", "template_store_exclusive"],
        }
    )
    @extend_schema(request=InputSerializer, responses={201: DropSerializer}, tags=TAGS)
    def post(self, request, room_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        drop = services.coupon_drop(
            brand=request.brand, room=get_room(room_id), staff=request.user, **data.validated_data
        )
        return Response(DropSerializer(drop).data, status=201)


class IssuedCouponSerializer(serializers.ModelSerializer):
    template_id = serializers.IntegerField()
    template_name = serializers.CharField(source="template.name")
    customer_id = serializers.IntegerField()
    drop_id = serializers.IntegerField(allow_null=True)
    issued_by_id = serializers.IntegerField(allow_null=True, help_text="The guide who gave it.")
    state = serializers.SerializerMethodField()
    redeemed_at_store_id = serializers.SerializerMethodField()

    class Meta:
        model = Coupon
        fields = [
            "id",
            "template_id",
            "template_name",
            "customer_id",
            "state",
            "source",
            "drop_id",
            "issued_by_id",
            "valid_from",
            "valid_until",
            "created_at",
            "used_at",
            "redeemed_at_store_id",
        ]

    def get_state(self, coupon) -> str:
        return selectors.state_of(coupon)

    def get_redeemed_at_store_id(self, coupon) -> int | None:
        redemption = getattr(coupon, "redemption", None)
        return redemption.store_id if redemption else None


class IssuedCouponListApi(ConsoleAPIView, generics.ListAPIView):
    """The coupons given out, newest first; filter by template, customer, store, source and state."""

    serializer_class = IssuedCouponSerializer
    queryset = Coupon.objects.none()

    def get_queryset(self):
        params = self.request.query_params
        ids = {name: _id_param(params, name) for name in ("template_id", "customer_id", "store_id")}
        source = params.get("source") or None
        if source is not None and source not in Coupon.Source.values:
            raise_invalid("source", "Unknown source.")
        return selectors.console_coupons(**ids, source=source, state=state_param(self.request))

    @extend_schema(
        tags=TAGS,
        parameters=[
            OpenApiParameter("template_id", int, required=False),
            OpenApiParameter("customer_id", int, required=False),
            OpenApiParameter("store_id", int, required=False),
            OpenApiParameter("source", str, enum=Coupon.Source.values, required=False),
            STATE_PARAMETER,
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


def raise_invalid(name, message):
    raise InvalidInput("invalid", f"{name}: {message}", fields={name: [message]})


def _id_param(params, name) -> int | None:
    value = params.get(name)
    if not value:
        return None
    if not value.isdigit() or len(value) > 18:
        raise_invalid(name, "An id.")
    return int(value)


class RedemptionReportApi(ConsoleAPIView):
    """In-store redemptions per store (``?since=&until=``, ISO times)."""

    class RowSerializer(serializers.Serializer):
        store_id = serializers.IntegerField()
        store_code = serializers.CharField()
        store_name = serializers.CharField()
        redemptions = serializers.IntegerField()
        customers = serializers.IntegerField()
        guides = serializers.IntegerField()

    class FilterSerializer(serializers.Serializer):
        since = serializers.DateTimeField(required=False)
        until = serializers.DateTimeField(required=False)

    @extend_schema(
        parameters=[FilterSerializer],
        responses={200: RowSerializer(many=True)},
        tags=TAGS,
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return Response(self.RowSerializer(selectors.redemption_report(**filters.validated_data), many=True).data)


class ReferralProgramSerializer(serializers.ModelSerializer):
    reward_template_id = serializers.IntegerField(allow_null=True)

    class Meta:
        model = ReferralProgram
        fields = ["is_active", "reward_template_id", "updated_at"]


class ReferralProgramApi(ConsoleAPIView):
    """The referral programme: the coupon an inviter gets when an invitee's first order is paid."""

    class InputSerializer(serializers.Serializer):
        is_active = serializers.BooleanField()
        reward_template_id = IdField(allow_null=True)

    @extend_schema(responses={200: ReferralProgramSerializer}, tags=TAGS)
    def get(self, request):
        program = ReferralProgram.objects.first() or ReferralProgram(brand=request.brand)
        return Response(ReferralProgramSerializer(program).data)

    @error_codes({404: ["template_not_found"]})
    @extend_schema(request=InputSerializer, responses={200: ReferralProgramSerializer}, tags=TAGS)
    def put(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        program = services.referral_program_set(brand=request.brand, **data.validated_data)
        return Response(ReferralProgramSerializer(program).data)
