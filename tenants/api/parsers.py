"""The API's parsers: DRF's, with the one text rule (tenants.text) applied to the whole body.

``TextRuleJSONParser`` is the project's default; views that take uploads use
``TextRuleMultiPartParser`` (and a form view ``TextRuleFormParser``) instead of DRF's own, so a
form field or a file name that breaks the rule is refused the same way. The text inside an
uploaded file is checked by what reads it (the CSV imports, by line).
"""

from rest_framework.parsers import DataAndFiles, FormParser, JSONParser, MultiPartParser

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


class TextRuleFormParser(FormParser):
    """``application/x-www-form-urlencoded`` with the text rule on every name and value."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        path = text.find_invalid_in_form(data)
        if path is not None:
            raise text.invalid_text_error(path)
        return data


class TextRuleMultiPartParser(MultiPartParser):
    """``multipart/form-data`` with the text rule on every field's name and value and on the
    names of uploaded files."""

    def parse(self, stream, media_type=None, parser_context=None):
        parsed: DataAndFiles = super().parse(stream, media_type, parser_context)
        path = text.find_invalid_in_form(parsed.data)
        if path is None:
            for field, files in parsed.files.lists():
                if not text.is_valid_text(field) or any(not text.is_valid_text(f.name or "") for f in files):
                    path = field if text.is_valid_text(field) else "."
                    break
        if path is not None:
            raise text.invalid_text_error(path)
        return parsed
