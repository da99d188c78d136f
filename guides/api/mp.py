"""The mini-program's side of shares: a customer entering through a share code."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from guides.services import shares
from livestream.sources import SCENE
from tenants.api.base import CustomerAPIView
from tenants.schema import error_codes


class MpVisitApi(CustomerAPIView):
    """Record a visit through a share (the ``scene`` of its code) and apply the brand's binding
    rule. Answers where the share leads, and who the customer is bound to now."""

    class InputSerializer(serializers.Serializer):
        scene = serializers.RegexField(SCENE, help_text="The scene the mini-program was opened with.")
        source = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")

    class BindingSerializer(serializers.Serializer):
        guide_id = serializers.IntegerField(allow_null=True)
        store_id = serializers.IntegerField(allow_null=True)
        bound_at = serializers.DateTimeField()
        protected_until = serializers.DateTimeField()

    class OutputSerializer(serializers.Serializer):
        target = serializers.CharField(source="share.target")
        target_id = serializers.IntegerField(source="share.target_id")
        page = serializers.CharField(source="share.page")
        source = serializers.SerializerMethodField(help_text="Pass as ?source= into the room and to orders.")
        bound = serializers.BooleanField(help_text="This visit bound the customer.")
        binding = serializers.SerializerMethodField()

        def get_source(self, outcome) -> str:
            return f"scene:{outcome.share.scene}"

        def get_binding(self, outcome) -> dict | None:
            if outcome.binding is None:
                return None
            return MpVisitApi.BindingSerializer(outcome.binding).data

    @error_codes({404: ["share_not_found"]})
    @extend_schema(request=InputSerializer, responses={201: OutputSerializer}, tags=["mp"])
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = shares.visit_record(brand=request.brand, customer=request.customer, **data.validated_data)
        return Response(self.OutputSerializer(outcome).data, status=201)
