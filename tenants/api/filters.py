"""The one base of every list filter: choices of a related model are built per request.

django-filter builds a foreign key's choices (``remote_queryset``) when the FilterSet class is
made, which for a ``Meta.fields`` entry is at import, with no brand in scope: the scoped manager
then fails closed on the first request that uses the filter (a 500). Here every such queryset
is a callable instead, evaluated inside the request's brand, so an id of another brand is an
invalid choice exactly like an id that does not exist.
"""

import django_filters
from django_filters.rest_framework import DjangoFilterBackend


def _per_request(model):
    return lambda request: model._default_manager.all()


class BrandFilterSet(django_filters.FilterSet):
    @classmethod
    def filter_for_field(cls, field, field_name, lookup_expr=None):
        built = super().filter_for_field(field, field_name, lookup_expr)
        related = isinstance(built, django_filters.ModelChoiceFilter | django_filters.ModelMultipleChoiceFilter)
        if related and built.queryset is not None and not callable(built.queryset):
            built.queryset = built.extra["queryset"] = _per_request(built.queryset.model)
        return built


class BrandFilterBackend(DjangoFilterBackend):
    """``filterset_fields`` of a view build a ``BrandFilterSet``, as declared FilterSets do."""

    filterset_base = BrandFilterSet
