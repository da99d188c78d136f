"""``/healthz``: django-health-check's view, answering 503 (not 500) when a component is down.

The body names each component with ``OK`` or its error (``?format=json``: ``{"Redis(...)":
"unavailable: ..."}``), so a load balancer takes the process out and an operator sees which
part failed; 500 would say the health check itself broke.
"""

from health_check.views import HealthCheckView

SERVICE_UNAVAILABLE = 503


class HealthView(HealthCheckView):
    async def dispatch(self, request, *args, **kwargs):
        response = await super().dispatch(request, *args, **kwargs)
        if response.status_code == 500 and any(result.error for result in getattr(self, "results", ())):
            response.status_code = SERVICE_UNAVAILABLE
        return response
