from django.conf import settings

from tenants import scoping
from tenants.admin_site import admin_scope_for


class BrandScopeMiddleware:
    """Every request starts with no brand in scope and leaves none behind.

    API views enter their brand after authentication (tenants.api.base); the web admin enters
    the brand the staff user has chosen (or the platform scope for the platform operator).
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.admin_prefix = "/" + settings.ADMIN_URL_PATH

    def __call__(self, request):
        scope = admin_scope_for(request) if request.path.startswith(self.admin_prefix) else None
        token = scoping.activate(scope)
        try:
            return self.get_response(request)
        finally:
            scoping.deactivate(token)
