"""Base views, one per audience. Each authenticates, resolves the brand the request acts for,
checks the role, and runs the handler with that brand in scope (tenants.scoping).

A view only declares what it does; it never filters by brand itself.
"""

from rest_framework.views import APIView

from tenants import scoping
from tenants.auth import (
    CustomerAuthentication,
    StaffAuthentication,
    brand_from_header,
    ensure_brand_active,
    platform_membership,
    require_authenticated,
    staff_membership,
)
from tenants.errors import Forbidden
from tenants.models import Membership


class ScopedAPIView(APIView):
    """Enters the scope that ``resolve_scope`` returns right after authentication."""

    _scope_token = None

    def resolve_scope(self, request):
        raise NotImplementedError

    def perform_authentication(self, request):
        require_authenticated(request.user)
        self._scope_token = scoping.activate(self.resolve_scope(request))

    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            if self._scope_token is not None:
                scoping.deactivate(self._scope_token)
                self._scope_token = None


class CustomerAPIView(ScopedAPIView):
    """Mini-program endpoints (``/api/v1/mp/``): the customer token names the brand."""

    authentication_classes = [CustomerAuthentication]

    def resolve_scope(self, request):
        brand = request.user.brand
        ensure_brand_active(brand)
        request.brand = brand
        request.customer = request.user
        return brand


class StaffAPIView(ScopedAPIView):
    """Staff endpoints: the ``X-Brand`` header names the brand; membership and role are checked."""

    authentication_classes = [StaffAuthentication]
    allowed_roles: frozenset = frozenset()

    def resolve_scope(self, request):
        brand = brand_from_header(request)
        request.membership = staff_membership(request.user, brand, self.allowed_roles)
        ensure_brand_active(brand)
        request.brand = brand
        return brand


class ConsoleAPIView(StaffAPIView):
    """``/api/v1/console/``: the brand's owners and operators, and the platform operator (a
    superuser) acting for the brand ``X-Brand`` names, as its owner would."""

    allowed_roles = Membership.CONSOLE_ROLES

    def resolve_scope(self, request):
        if not request.user.is_superuser:
            return super().resolve_scope(request)
        brand = brand_from_header(request)
        request.membership = platform_membership(request.user, brand)
        ensure_brand_active(brand)
        request.brand = brand
        return brand


class GuideAPIView(StaffAPIView):
    """``/api/v1/guide/``: guides and store managers."""

    allowed_roles = frozenset({Membership.Role.GUIDE, Membership.Role.STORE_MANAGER})


class PlatformAPIView(ScopedAPIView):
    """``/api/v1/platform/``: the platform operator (a superuser), reading across brands."""

    authentication_classes = [StaffAuthentication]

    def resolve_scope(self, request):
        if not request.user.is_superuser:
            raise Forbidden("platform_only", "Only the platform operator can use this endpoint.")
        return scoping.PLATFORM
