"""Comments and mutes: history for viewers, moderation for operators."""

import django_filters
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, pagination, serializers
from rest_framework.response import Response

from livestream import selectors
from livestream.models import Comment, LiveRoom, Mute
from livestream.services import live
from tenants.api.base import ConsoleAPIView, CustomerAPIView
from tenants.api.fields import IdField
from tenants.api.filters import BrandFilterSet
from tenants.errors import NotFound
from tenants.models import Customer
from tenants.schema import error_codes

TAGS = ["live: comments"]


class CommentCursorPagination(pagination.CursorPagination):
    """Newest first; follow ``next`` for older comments."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100


class CommentSerializer(serializers.ModelSerializer):
    customer = serializers.SerializerMethodField()

    class Meta:
        model = Comment
        fields = ["id", "room_id", "customer", "text", "is_pinned", "created_at"]

    def get_customer(self, comment) -> dict:
        return {
            "id": comment.customer_id,
            "nickname": comment.customer.nickname,
            "avatar_url": comment.customer.avatar_url,
        }


class ConsoleCommentSerializer(CommentSerializer):
    class Meta(CommentSerializer.Meta):
        fields = [*CommentSerializer.Meta.fields, "status"]


class MpRoomCommentsApi(CustomerAPIView, generics.ListAPIView):
    """A room's visible comments, newest first, by cursor (the live ones arrive on the socket;
    the last seconds' comments reach this list once they are saved)."""

    serializer_class = CommentSerializer
    pagination_class = CommentCursorPagination
    queryset = Comment.objects.none()  # names the model for the schema; get_queryset() does the work

    def get_queryset(self):
        room = selectors.get_room(self.kwargs["room_id"])
        return Comment.objects.filter(room=room, status=Comment.Status.VISIBLE).select_related("customer")

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ConsoleRoomCommentsApi(ConsoleAPIView, generics.ListAPIView):
    """Every comment of a room (``?status=hidden`` for hidden ones, ``?customer=``), newest first."""

    serializer_class = ConsoleCommentSerializer
    pagination_class = CommentCursorPagination
    queryset = Comment.objects.none()  # names the model for the schema; get_queryset() does the work
    filterset_fields = ["status", "customer", "is_pinned"]

    def get_queryset(self):
        room = selectors.get_room(self.kwargs["room_id"])
        return Comment.objects.filter(room=room).select_related("customer")

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


COMMENT_ACTIONS = {
    "hide": lambda brand, comment: live.comment_hide(brand=brand, comment=comment, hidden=True),
    "show": lambda brand, comment: live.comment_hide(brand=brand, comment=comment, hidden=False),
    "pin": lambda brand, comment: live.comment_pin(brand=brand, comment=comment, pinned=True),
    "unpin": lambda brand, comment: live.comment_pin(brand=brand, comment=comment, pinned=False),
}


class ConsoleCommentActionApi(ConsoleAPIView):
    """Hide a comment (it leaves every viewer's screen at once), show it again, pin or unpin it."""

    @error_codes({409: ["comment_hidden"]})
    @extend_schema(
        request=None,
        responses={200: ConsoleCommentSerializer},
        tags=TAGS,
        parameters=[OpenApiParameter("action", str, "path", enum=list(COMMENT_ACTIONS))],
        operation_id="console_comment_action",
    )
    def post(self, request, comment_id, action):
        comment = COMMENT_ACTIONS[action](request.brand, live.get_comment(comment_id))
        return Response(ConsoleCommentSerializer(live.get_comment(comment.pk)).data)


class MuteSerializer(serializers.ModelSerializer):
    nickname = serializers.CharField(source="customer.nickname", read_only=True)
    is_active = serializers.SerializerMethodField(help_text="Not lifted and not past ``until``.")

    class Meta:
        model = Mute
        fields = ["id", "customer", "nickname", "room", "until", "reason", "created_at", "is_active"]

    def get_is_active(self, mute) -> bool:
        return mute.until is None or mute.until > timezone.now()


class MuteFilter(BrandFilterSet):
    applies_to_room = django_filters.ModelChoiceFilter(
        queryset=lambda request: LiveRoom.objects.all(),  # per request, in its brand (tenants.api.filters)
        field_name="room",
        method="filter_applies_to_room",
        help_text="The mutes that hold in this room: its own and the brand-wide.",
    )
    active = django_filters.BooleanFilter(method="filter_active", help_text="Still in force (or no longer).")

    class Meta:
        model = Mute
        fields = ["customer", "room"]

    def filter_applies_to_room(self, queryset, name, value):
        return queryset.filter(Q(room=value) | Q(room__isnull=True))

    def filter_active(self, queryset, name, value):
        in_force = Q(until__isnull=True) | Q(until__gt=timezone.now())
        return queryset.filter(in_force) if value else queryset.exclude(in_force)


class ConsoleMuteListCreateApi(ConsoleAPIView, generics.ListAPIView):
    """Muted customers, newest first (``?applies_to_room=<id>&active=true``: who cannot comment in
    a room now); mute one in a room or in every room of the brand. Lift one with DELETE."""

    serializer_class = MuteSerializer
    filterset_class = MuteFilter

    def get_queryset(self):
        return Mute.objects.select_related("customer").order_by("-created_at", "-pk")

    class InputSerializer(serializers.Serializer):
        customer_id = IdField()
        room_id = IdField(required=False, allow_null=True, default=None, help_text="Empty: every room.")
        until = serializers.DateTimeField(required=False, allow_null=True, default=None)
        reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @error_codes({404: ["customer_not_found", "room_not_found"]})
    @extend_schema(request=InputSerializer, responses={201: MuteSerializer}, tags=TAGS)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        customer = Customer.objects.filter(pk=values.pop("customer_id")).first()
        if customer is None:
            raise NotFound("customer_not_found", "No such customer.", fields={"customer_id": ["Unknown."]})
        room_id = values.pop("room_id")
        room = selectors.get_room(room_id) if room_id else None
        mute = live.mute_create(brand=request.brand, customer=customer, room=room, **values)
        return Response(MuteSerializer(mute).data, status=201)


class ConsoleMuteDeleteApi(ConsoleAPIView):
    @extend_schema(responses={204: None}, tags=TAGS)
    def delete(self, request, mute_id):
        mute = Mute.objects.filter(pk=mute_id).first()
        if mute is None:
            raise NotFound("mute_not_found", "No such mute.")
        live.mute_lift(brand=request.brand, mute=mute)
        return Response(status=204)
