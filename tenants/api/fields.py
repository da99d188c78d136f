"""Serializer fields shared by every API."""

from rest_framework import serializers

MAX_ID = 2**63 - 1  # a bigint primary key: larger ids are not found, never a database error


class StrictIntegerField(serializers.IntegerField):
    """An integer as JSON writes it: no floats, numeric strings or booleans (money is integer fen)."""

    default_error_messages = {"invalid": "Must be an integer."}

    def to_internal_value(self, data):
        if not isinstance(data, int) or isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class IdField(StrictIntegerField):
    """An object id in a request body."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)
