"""Reads about stores and guides that other apps rely on."""

from guides.models import Binding, Guide
from tenants.models import Customer


def bound_guide(customer: Customer) -> Guide | None:
    """The active guide the customer is bound to, if any (in the customer's brand scope)."""
    binding = Binding.objects.filter(customer=customer).select_related("guide").first()
    if binding is None or binding.guide is None or binding.guide.status != Guide.Status.ACTIVE:
        return None
    return binding.guide
