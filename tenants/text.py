"""The one rule for text from clients (DESIGN §10): valid Unicode that PostgreSQL can store.

JSON can carry what UTF-8 cannot: an unpaired surrogate (``"\\ud800"``) decodes to a Python
string that no UTF-8 encoder takes (a frame with it cannot be published, a row with it cannot be
written), and ``"\\u0000"`` decodes to NUL, which PostgreSQL's text columns refuse. Both are
refused wherever text enters:

* REST bodies: the API's parsers (``tenants.api.parsers``: JSON, and the form and multipart
  parsers of the views that take uploads) check every string of a body, keys included, so no
  serializer field can forget it;
* the URL and query string of every request, and the form bodies of every page outside the API
  (the admin's forms): ``tenants.middleware.TextRuleMiddleware``;
* the room websocket: the consumer checks each frame (``find_invalid``) before acting on it;
* files: what reads an uploaded file's text checks it (the CSV imports, by line);
* services that take text from elsewhere call ``check_text``.

A refusal is ``invalid_text`` (400 on REST, an ``error`` frame on the websocket) naming where the
text was. ``clean_text`` is the other choice, for text that must be kept whatever it holds (a
nickname from WeChat): NUL dropped, each unpaired surrogate replaced by U+FFFD.
"""

import json

from tenants.errors import InvalidInput

INVALID_TEXT = "invalid_text"
MESSAGE = "Text must be valid Unicode without NUL characters."


def is_valid_text(value: str) -> bool:
    """True if PostgreSQL can store ``value`` and UTF-8 can encode it."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # an unpaired surrogate
        return False
    return True


def clean_text(value: str) -> str:
    """``value`` made storable: NUL removed, unpaired surrogates replaced by U+FFFD."""
    if is_valid_text(value):
        return value
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in value.replace("\x00", ""))


def find_invalid(data, path: str = "") -> str | None:
    """The path (``"customer.nickname"``, ``"lines.0.note"``) of the first string in parsed JSON
    that breaks the rule, ``"."`` for the document itself; None when every string keeps it."""
    if isinstance(data, str):
        return None if is_valid_text(data) else (path or ".")
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and not is_valid_text(key):
                return path or "."
            found = find_invalid(value, where)
            if found is not None:
                return found
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found = find_invalid(value, f"{path}.{index}" if path else str(index))
            if found is not None:
                return found
    return None


def find_invalid_in_form(data) -> str | None:
    """The first name of a ``QueryDict`` (a query string, a form body) whose name or a value breaks
    the rule (``"."`` when it is the name itself); None when every one keeps it."""
    for key, values in data.lists():
        if not is_valid_text(key):
            return "."
        if any(isinstance(value, str) and not is_valid_text(value) for value in values):
            return key
    return None


def might_break_rule(raw: str) -> bool:
    """A fast test on JSON text before it is parsed: only an escape (``\\u0000``, ``\\ud800``)
    can produce what the rule refuses, since a decoded websocket text frame is valid UTF-8 and
    JSON refuses raw control characters in strings."""
    return "\\u" in raw


def invalid_text_error(path: str | None = None) -> InvalidInput:
    fields = {path: [MESSAGE]} if path and path != "." else {}
    return InvalidInput(INVALID_TEXT, MESSAGE if not fields else f"{path}: {MESSAGE}", fields=fields)


def check_text(value, field: str | None = None):
    """``value`` unchanged if it is not a string or keeps the rule; raises ``invalid_text`` otherwise."""
    if isinstance(value, str) and not is_valid_text(value):
        raise invalid_text_error(field)
    return value


def loads_checked(raw: str):
    """``json.loads`` that raises ``invalid_text`` when a string of the document breaks the rule."""
    data = json.loads(raw)
    if might_break_rule(raw):
        path = find_invalid(data)
        if path is not None:
            raise invalid_text_error(path)
    return data
