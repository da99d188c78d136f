"""Brand operators (``/api/v1/console/``): stores, guides (with CSV import), shares, commission
rules, the ledger and settlements, and leaderboard campaigns."""

import django_filters
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response

from commerce.models import Product
from guides import selectors
from guides.api.common import (
    PNG,
    BalancesSerializer,
    CampaignSerializer,
    GuideSerializer,
    LeaderboardQuerySerializer,
    LeaderboardSerializer,
    LedgerEntrySerializer,
    SettlementSerializer,
    ShareSerializer,
    StoreSerializer,
    leaderboard_payload,
    png_response,
)
from guides.models import Campaign, CommissionEntry, CommissionRule, Guide, Settlement, ShareCode, Store
from guides.services import commission, leaderboard, settlement, shares, stores
from tenants.api.base import ConsoleAPIView
from tenants.api.fields import IdField, StrictIntegerField
from tenants.api.filters import BrandFilterSet
from tenants.api.parsers import TextRuleMultiPartParser
from tenants.errors import NotFound
from tenants.schema import error_codes

TAGS = ["console: guides"]
IMAGES = ("code", "poster")


def _image_url(share_id, name):
    return reverse("console-share-image", kwargs={"share_id": share_id, "image": name})


def _schema_only(view) -> bool:
    """The schema generator asks for a queryset with no brand in scope."""
    return getattr(view, "swagger_fake_view", False)


# --- stores --------------------------------------------------------------------------------------


class StoreInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=32)
    name = serializers.CharField(max_length=100)
    address = serializers.CharField(max_length=200, required=False, allow_blank=True)
    latitude = serializers.DecimalField(max_digits=9, decimal_places=6, required=False, allow_null=True)
    longitude = serializers.DecimalField(max_digits=9, decimal_places=6, required=False, allow_null=True)
    manager_username = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="The username of one of the brand's own staff accounts (another account joins by invitation).",
    )
    status = serializers.ChoiceField(choices=Store.Status.choices, required=False)


class ConsoleStoreListCreateApi(ConsoleAPIView, generics.ListAPIView):
    """The brand's stores; add one."""

    serializer_class = StoreSerializer
    filterset_fields = ["status"]

    def get_queryset(self):
        return Store.objects.none() if _schema_only(self) else Store.objects.select_related("manager")

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=StoreInputSerializer, responses={201: StoreSerializer}, tags=TAGS)
    def post(self, request):
        data = StoreInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        store = stores.store_create(brand=request.brand, **data.validated_data)
        return Response(StoreSerializer(store).data, status=201)


class ConsoleStoreDetailApi(ConsoleAPIView):
    class InputSerializer(StoreInputSerializer):
        code = serializers.CharField(max_length=32, required=False)
        name = serializers.CharField(max_length=100, required=False)

    @extend_schema(responses={200: StoreSerializer}, tags=TAGS)
    def get(self, request, store_id):
        return Response(StoreSerializer(stores.get_store(store_id)).data)

    @extend_schema(request=InputSerializer, responses={200: StoreSerializer}, tags=TAGS)
    def patch(self, request, store_id):
        store = stores.get_store(store_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        store = stores.store_update(brand=request.brand, store=store, **data.validated_data)
        return Response(StoreSerializer(store).data)


class ImportInputSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="UTF-8 CSV with a header line.")


class ImportOutputSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()


class ConsoleStoreImportApi(ConsoleAPIView):
    """Import stores from CSV: ``code,name[,address,latitude,longitude,manager,status]``. A known code
    updates its store. Any error (reported by line in ``fields.lines``) imports nothing."""

    parser_classes = [TextRuleMultiPartParser]

    @error_codes({400: ["file_too_large", "import_invalid", "invalid_csv"]})
    @extend_schema(request=ImportInputSerializer, responses={200: ImportOutputSerializer}, tags=TAGS)
    def post(self, request):
        data = ImportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = stores.stores_import(brand=request.brand, data=data.validated_data["file"].read())
        return Response(ImportOutputSerializer(report).data)


# --- guides --------------------------------------------------------------------------------------


def _store(store_id):
    return stores.get_store(store_id) if store_id else None


def _leader(leader_id):
    if not leader_id:
        return None
    leader = Guide.objects.filter(pk=leader_id).first()
    if leader is None:
        raise NotFound("guide_not_found", "No such leader.", fields={"leader_id": ["No such guide."]})
    return leader


class ConsoleGuideListCreateApi(ConsoleAPIView, generics.ListAPIView):
    """The brand's guides; add one. A new username needs a password and makes a new account; one of
    the brand's own accounts keeps its password; an account of another brand joins by invitation
    (``/api/v1/console/staff/invitations``), never by its username here."""

    serializer_class = GuideSerializer
    filterset_fields = ["status", "kind", "store", "leader"]

    class InputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, write_only=True)
        name = serializers.CharField(max_length=64)
        store_id = IdField(required=False, allow_null=True)
        kind = serializers.ChoiceField(choices=Guide.Kind.choices, required=False)
        leader_id = IdField(required=False, allow_null=True)
        openid = serializers.CharField(max_length=64, required=False, allow_blank=True)

    def get_queryset(self):
        return (
            Guide.objects.none()
            if _schema_only(self)
            else Guide.objects.select_related("user", "store", "leader").order_by("pk")
        )

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @error_codes({400: ["invalid_leader"], 409: ["guide_exists", "username_taken"]})
    @extend_schema(request=InputSerializer, responses={201: GuideSerializer}, tags=TAGS)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        values["store"], values["leader"] = _store(values.pop("store_id", None)), _leader(values.pop("leader_id", None))
        guide = stores.guide_create(brand=request.brand, **values)
        return Response(GuideSerializer(guide).data, status=201)


class ConsoleGuideDetailApi(ConsoleAPIView):
    """One guide with their commission balances; change their store, kind, leader, name or openid."""

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=64, required=False)
        store_id = IdField(required=False, allow_null=True)
        kind = serializers.ChoiceField(choices=Guide.Kind.choices, required=False)
        leader_id = IdField(required=False, allow_null=True)
        openid = serializers.CharField(max_length=64, required=False, allow_blank=True)

    class OutputSerializer(GuideSerializer):
        balances = BalancesSerializer(read_only=True)

        class Meta(GuideSerializer.Meta):
            fields = [*GuideSerializer.Meta.fields, "balances"]

    def _data(self, request, guide):
        guide.balances = selectors.commission_balances(brand=request.brand, guide_ids=[guide.pk])[guide.pk]
        return self.OutputSerializer(guide).data

    @extend_schema(responses={200: OutputSerializer}, tags=TAGS)
    def get(self, request, guide_id):
        return Response(self._data(request, stores.get_guide(guide_id)))

    @error_codes({400: ["invalid_leader"], 409: ["guide_inactive"]})
    @extend_schema(request=InputSerializer, responses={200: OutputSerializer}, tags=TAGS)
    def patch(self, request, guide_id):
        guide = stores.get_guide(guide_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if "store_id" in values:
            values["store"] = _store(values.pop("store_id"))
        if "leader_id" in values:
            values["leader"] = _leader(values.pop("leader_id"))
        guide = stores.guide_update(brand=request.brand, guide=guide, **values)
        return Response(self._data(request, stores.get_guide(guide.pk)))


class ConsoleGuideLeaveApi(ConsoleAPIView):
    """The guide leaves: they stop binding; their customers fall back to their store."""

    @error_codes({409: ["guide_inactive"]})
    @extend_schema(request=None, responses={200: GuideSerializer}, tags=TAGS)
    def post(self, request, guide_id):
        guide = stores.guide_leave(brand=request.brand, guide=stores.get_guide(guide_id))
        return Response(GuideSerializer(stores.get_guide(guide.pk)).data)


class ConsoleGuideImportApi(ConsoleAPIView):
    """Import guides from CSV: ``username,name[,password,store,kind,leader,openid]`` (store: a store
    code; leader: a guide's username, in the file or already there). Any error imports nothing."""

    parser_classes = [TextRuleMultiPartParser]

    @error_codes({400: ["file_too_large", "import_invalid"]})
    @extend_schema(request=ImportInputSerializer, responses={200: ImportOutputSerializer}, tags=TAGS)
    def post(self, request):
        data = ImportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = stores.guides_import(brand=request.brand, data=data.validated_data["file"].read())
        return Response(ImportOutputSerializer(report).data)


# --- shares --------------------------------------------------------------------------------------


class ConsoleShareListCreateApi(ConsoleAPIView, generics.ListAPIView):
    """Every share of the brand (``?guide=``; ``?brand_only=true`` for the brand's own); make a brand share."""

    serializer_class = ShareSerializer

    class ShareFilter(BrandFilterSet):
        guide = django_filters.ModelChoiceFilter(queryset=lambda request: Guide.objects.all())
        brand_only = django_filters.BooleanFilter(field_name="guide", lookup_expr="isnull")

        class Meta:
            model = ShareCode
            fields = ["target", "guide"]

    filterset_class = ShareFilter

    class InputSerializer(serializers.Serializer):
        target = serializers.ChoiceField(choices=ShareCode.Target.choices)
        target_id = IdField()

    def get_queryset(self):
        return ShareCode.objects.none() if _schema_only(self) else ShareCode.objects.defer("code_png", "poster_png")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "image_url": _image_url}

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @error_codes({404: ["room_not_found"], 409: ["guide_inactive"], 502: ["wechat_error", "wechat_unavailable"]})
    @extend_schema(request=InputSerializer, responses={200: ShareSerializer, 201: ShareSerializer}, tags=TAGS)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        share, created = shares.share_create(brand=request.brand, guide=None, **data.validated_data)
        return Response(ShareSerializer(share, context={"image_url": _image_url}).data, status=201 if created else 200)


class ConsoleShareImageApi(ConsoleAPIView):
    @extend_schema(responses={200: PNG}, tags=TAGS)
    def get(self, request, share_id, image):
        share = ShareCode.objects.filter(pk=share_id).first() if image in IMAGES else None
        if share is None:
            raise NotFound("share_not_found", "No such share.")
        return png_response(getattr(share, f"{image}_png"), f"{share.scene}-{image}.png")


# --- commission ----------------------------------------------------------------------------------


class PolicySerializer(serializers.Serializer):
    default_rate_bp = StrictIntegerField(min_value=0, max_value=10_000, help_text="Basis points: 500 = 5 %.")
    leader_rate_bp = StrictIntegerField(min_value=0, max_value=10_000, help_text="A leader's override, bp.")


class ConsoleCommissionPolicyApi(ConsoleAPIView):
    """The brand's default commission rate and the team leader's override rate."""

    @extend_schema(responses={200: PolicySerializer}, tags=TAGS)
    def get(self, request):
        return Response(PolicySerializer(commission.policy_get(brand=request.brand)).data)

    @extend_schema(request=PolicySerializer, responses={200: PolicySerializer}, tags=TAGS)
    def put(self, request):
        data = PolicySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(PolicySerializer(commission.policy_set(brand=request.brand, **data.validated_data)).data)


class RuleSerializer(serializers.ModelSerializer):
    product_id = serializers.IntegerField(allow_null=True, read_only=True)

    class Meta:
        model = CommissionRule
        fields = ["id", "product_id", "category", "guide_kind", "rate_bp", "created_at"]


class ConsoleCommissionRuleListCreateApi(ConsoleAPIView, generics.ListAPIView):
    """Overrides of the default rate, per product or category and optionally per promoter kind."""

    serializer_class = RuleSerializer

    class InputSerializer(serializers.Serializer):
        product_id = IdField(required=False, allow_null=True)
        category = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
        guide_kind = serializers.ChoiceField(choices=Guide.Kind.choices, required=False, allow_blank=True, default="")
        rate_bp = StrictIntegerField(min_value=0, max_value=10_000)

    def get_queryset(self):
        return CommissionRule.objects.none() if _schema_only(self) else CommissionRule.objects.all()

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @error_codes({409: ["rule_exists"]})
    @extend_schema(request=InputSerializer, responses={201: RuleSerializer}, tags=TAGS)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        product_id = values.pop("product_id", None)
        product = Product.objects.filter(pk=product_id).first() if product_id else None
        if product_id and product is None:
            raise NotFound("product_not_found", "No such product.", fields={"product_id": ["No such product."]})
        rule = commission.rule_create(brand=request.brand, product=product, **values)
        return Response(RuleSerializer(rule).data, status=201)


class ConsoleCommissionRuleDeleteApi(ConsoleAPIView):
    @extend_schema(request=None, responses={204: None}, tags=TAGS)
    def delete(self, request, rule_id):
        commission.rule_delete(brand=request.brand, rule_id=rule_id)
        return Response(status=204)


class ConsoleLedgerApi(ConsoleAPIView, generics.ListAPIView):
    """The commission ledger, newest first; filter by guide, kind, order or settlement."""

    serializer_class = LedgerEntrySerializer
    filterset_fields = ["guide", "kind", "role", "order", "settlement"]

    def get_queryset(self):
        return (
            CommissionEntry.objects.none()
            if _schema_only(self)
            else CommissionEntry.objects.select_related("order", "settlement")
        )

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ConsoleSettlementListApi(ConsoleAPIView, generics.ListAPIView):
    """Payouts, newest first; a failed one keeps its reason (``?status=failed``)."""

    serializer_class = SettlementSerializer
    filterset_fields = ["status", "guide"]

    def get_queryset(self):
        return Settlement.objects.none() if _schema_only(self) else Settlement.objects.select_related("guide")

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ConsoleSettlementRunApi(ConsoleAPIView):
    """Settle one guide now (what the periodic job does for every guide)."""

    class InputSerializer(serializers.Serializer):
        guide_id = IdField()

    class OutputSerializer(serializers.Serializer):
        settlement = SettlementSerializer(allow_null=True, help_text="Null: nothing payable.")

    @error_codes({404: ["guide_not_found"], 409: ["settlement_raced"]})
    @extend_schema(request=InputSerializer, responses={200: OutputSerializer}, tags=TAGS)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        guide = stores.get_guide(data.validated_data["guide_id"])
        result = settlement.settle_guide(brand=request.brand, guide_id=guide.pk)
        return Response(self.OutputSerializer({"settlement": result}).data)


# --- campaigns -----------------------------------------------------------------------------------


class ConsoleCampaignListCreateApi(ConsoleAPIView, generics.ListAPIView):
    """Leaderboard campaigns: a window, optional rooms, and the reward of each place per hour."""

    serializer_class = CampaignSerializer

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100)
        starts_at = serializers.DateTimeField()
        ends_at = serializers.DateTimeField()
        room_ids = serializers.ListField(child=IdField(), required=False, default=list)
        rewards = serializers.ListField(child=StrictIntegerField(min_value=0), min_length=1, max_length=100)

    def get_queryset(self):
        return Campaign.objects.none() if _schema_only(self) else Campaign.objects.prefetch_related("rooms")

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @error_codes({404: ["room_not_found"]})
    @extend_schema(request=InputSerializer, responses={201: CampaignSerializer}, tags=TAGS)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        campaign = leaderboard.campaign_create(brand=request.brand, **data.validated_data)
        return Response(CampaignSerializer(campaign).data, status=201)


class ConsoleLeaderboardApi(ConsoleAPIView):
    """A campaign's ranking for an hour (``?campaign=&hour=``): frozen if the hour is, else live."""

    @error_codes({404: ["campaign_not_found"]})
    @extend_schema(parameters=[LeaderboardQuerySerializer], responses={200: LeaderboardSerializer}, tags=TAGS)
    def get(self, request):
        return Response(LeaderboardSerializer(leaderboard_payload(request.query_params)).data)
