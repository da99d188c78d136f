"""Every error the test suite provokes must be one its operation's schema lists (tenants.schema).

Loaded by conftest.py for every test: an API view that answers a status or code its OpenAPI
operation does not document raises ``UndocumentedError`` in the test that provoked it, naming the
view, the method and what to declare. So the schema's error codes cannot fall behind the code.
"""

import functools
from collections import defaultdict

# Not a contract: content negotiation and method routing, answered the same by every operation;
# 500 is a bug and fails its own test.
UNCHECKED_STATUSES = frozenset({405, 406, 500})


class UndocumentedError(AssertionError):
    pass


@functools.cache
def documented_errors() -> dict[tuple[type, str], dict[int, set[str]]]:
    """(view class, method) → status → codes, read from the generated schema."""
    from drf_spectacular.generators import SchemaGenerator

    generator = SchemaGenerator()
    schema = generator.get_schema(request=None, public=True)
    documented = defaultdict(lambda: defaultdict(set))
    for path, _regex, method, view in generator._get_paths_and_endpoints():
        operation = schema["paths"].get(path, {}).get(method.lower())
        if operation is None:  # excluded from the schema
            continue
        for status, response in operation["responses"].items():
            examples = response.get("content", {}).get("application/json", {}).get("examples", {})
            documented[type(view), method.upper()][int(status)].update(examples)
    return documented


def check_error_answer(view, request, response) -> None:
    status = response.status_code
    if status < 400 or status in UNCHECKED_STATUSES:
        return
    data = getattr(response, "data", None)
    code = data.get("error", {}).get("code") if isinstance(data, dict) else None
    key = (type(view), request.method.upper())
    operations = documented_errors()
    if key not in operations:  # not part of the schema (excluded, or a view outside the API)
        return
    if code not in operations[key].get(status, ()):
        name = f"{type(view).__module__}.{type(view).__qualname__}.{request.method.lower()}"
        raise UndocumentedError(
            f"{name} answered {status} {code!r}, which its OpenAPI operation does not list "
            f"(it lists {dict(operations[key]) or 'no errors'}). Declare it with "
            f"@error_codes({{{status}: [{code!r}]}}) from tenants.schema on the handler."
        )


def install():
    from rest_framework.views import APIView

    if getattr(APIView.finalize_response, "checks_errors", False):
        return
    original = APIView.finalize_response

    def finalize_response(self, request, response, *args, **kwargs):
        response = original(self, request, response, *args, **kwargs)
        check_error_answer(self, request, response)
        return response

    finalize_response.checks_errors = True
    APIView.finalize_response = finalize_response
