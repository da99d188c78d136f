"""gunicorn's settings for the REST process: ``gunicorn -c config/gunicorn.py config.wsgi``.

gunicorn refuses some requests before Django sees them: a request line over
``limit_request_line`` (414), too many or too large header fields (431), a malformed request
line, method, version, header or chunk (400), an unsupported transfer coding (501). It answers
those with a small HTML page; here they are answered in the API's one error shape instead
(tenants.api.errors), so a client parses every refusal the same way. gunicorn has no setting for
its error page: its ``util.write_error`` is replaced when this file is loaded (in the master,
before the workers fork). tests/tenants/test_gunicorn_refusals.py sends each refusal.
"""

import json

from gunicorn import util

# As large as gunicorn allows, and as nginx's `large_client_header_buffers 4 8k` (README): a
# request the proxy passes on is not refused again, in another shape, by gunicorn.
limit_request_line = 8190
limit_request_field_size = 8190
limit_request_fields = 200

CODES = {
    400: "bad_request",
    403: "forbidden",
    414: "request_line_too_long",
    417: "expectation_failed",
    431: "headers_too_large",
    500: "server_error",
    501: "not_implemented",
}


def write_error(sock, status_int, reason, mesg):
    code = CODES.get(status_int, "bad_request")
    body = json.dumps({"error": {"code": code, "message": f"{reason}.", "fields": {}}}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin1") + body)


util.write_error = write_error
