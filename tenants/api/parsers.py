"""The API's JSON parser: DRF's, with the one text rule (tenants.text) applied to the whole body."""

from rest_framework.parsers import JSONParser

from tenants import text


class TextRuleJSONParser(JSONParser):
    """Every string of a request body, keys included, is valid Unicode that PostgreSQL can store;
    a body that breaks the rule is answered 400 ``invalid_text`` naming the field, before any
    serializer sees it."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        path = text.find_invalid(data)
        if path is not None:
            raise text.invalid_text_error(path)
        return data
