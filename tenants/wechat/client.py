"""The real WeChat mini-program server API over HTTPS.

Errors follow WeChat's errcodes (../shared/WECHAT.md §1–2): a caller's mistake becomes a 4xx
domain error, WeChat's trouble a 502, so the API never answers 500 for them.
"""

import json
import logging
from collections.abc import Callable

import httpx
from django.conf import settings
from django.core.cache import cache

from tenants.errors import DomainError, Forbidden, InvalidInput, RateLimited, UpstreamError
from tenants.wechat.base import (
    CodeSession,
    MessageRejected,
    SubscribeMessage,
    UnlimitedCode,
    build_subscribe_data,
    check_subscribe_message,
)

logger = logging.getLogger("siyu.wechat")

BUSY = -1
TOKEN_ERRORS = {40001, 40014, 42001}  # stale or invalid access_token: refetch once and retry

# errcode → (error class, code, message) for what the caller can act on.
ERRCODES: dict[int, tuple[type[DomainError], str, str]] = {
    40029: (InvalidInput, "invalid_code", "The login code is invalid or expired."),
    40163: (InvalidInput, "invalid_code", "The login code has already been used."),
    41008: (InvalidInput, "invalid_code", "The login code is missing."),
    45011: (RateLimited, "wechat_rate_limited", "Too many logins for this user; try again in a minute."),
    45009: (RateLimited, "wechat_rate_limited", "The mini-program's WeChat API quota is used up."),
    40226: (Forbidden, "wechat_high_risk_user", "WeChat blocked the login of this high-risk user."),
    40013: (UpstreamError, "wechat_misconfigured", "The brand's mini-program appid is not valid."),
    40125: (UpstreamError, "wechat_misconfigured", "The brand's mini-program AppSecret is not valid."),
    41002: (UpstreamError, "wechat_misconfigured", "The brand's mini-program appid is missing."),
    41004: (UpstreamError, "wechat_misconfigured", "The brand's mini-program AppSecret is missing."),
    BUSY: (UpstreamError, "wechat_busy", "WeChat is busy; try again."),
}


class WeChatAPIError(UpstreamError):
    """An errcode that no caller can act on; kept with its number for the logs."""

    def __init__(self, errcode: int, errmsg: str):
        self.errcode = errcode
        super().__init__("wechat_error", f"WeChat answered {errcode}: {errmsg}", fields={"errcode": errcode})


def raise_for_errcode(payload: dict) -> None:
    errcode = payload.get("errcode") or 0
    if errcode == 0:
        return
    errmsg = str(payload.get("errmsg", ""))
    logger.warning("WeChat errcode %s: %s", errcode, errmsg)
    if errcode in ERRCODES:
        error_class, code, message = ERRCODES[errcode]
        raise error_class(code, message, fields={"errcode": errcode})
    raise WeChatAPIError(errcode, errmsg)


# Subscribe-send errcodes that doom this one message (WECHAT.md §3): retrying cannot help.
SUBSCRIBE_REJECTIONS = {
    43101: "refused",
    40003: "invalid_recipient",
    40037: "invalid_template",
    47003: "invalid_data",
    41030: "invalid_page",
}


def raise_for_subscribe_errcode(payload: dict) -> None:
    errcode = payload.get("errcode") or 0
    if errcode in SUBSCRIBE_REJECTIONS:
        errmsg = str(payload.get("errmsg", ""))
        # A refusal is an everyday outcome, not trouble: keep it out of the warnings.
        logger.info("WeChat rejected a subscribe message: %s %s", errcode, errmsg)
        raise MessageRejected(SUBSCRIBE_REJECTIONS[errcode], errcode, errmsg)
    raise_for_errcode(payload)


# getwxacodeunlimit errcodes that name a mistake in the request (WECHAT.md §4).
CODE_ERRCODES: dict[int, tuple[type[DomainError], str, str]] = {
    41030: (InvalidInput, "invalid_page", "The page does not exist in the published mini-program."),
    40129: (InvalidInput, "invalid_scene", "WeChat refused the scene."),
    40169: (InvalidInput, "invalid_scene", "WeChat refused the scene's length."),
}


def raise_for_code_errcode(payload: dict) -> None:
    errcode = payload.get("errcode") or 0
    if errcode in CODE_ERRCODES:
        error_class, code, message = CODE_ERRCODES[errcode]
        logger.warning("WeChat refused a mini-program code: %s %s", errcode, payload.get("errmsg", ""))
        raise error_class(code, message, fields={"errcode": errcode})
    raise_for_errcode(payload)


def _is_json(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").startswith(("application/json", "text/plain"))


def _payload(response: httpx.Response) -> dict:
    """The JSON object WeChat answered; anything else means WeChat is not itself (502)."""
    try:
        payload = response.json()
    except ValueError as exc:
        raise UpstreamError("wechat_unavailable", "WeChat answered something that is not JSON.") from exc
    if not isinstance(payload, dict):
        raise UpstreamError("wechat_unavailable", "WeChat answered JSON that is not an object.")
    return payload


class WeChatMiniProgramClient:
    def __init__(self, appid: str, secret: str, *, http: httpx.Client | None = None):
        self.appid = appid
        self.secret = secret
        self.http = http or httpx.Client(base_url=settings.WECHAT_API_BASE, timeout=settings.WECHAT_HTTP_TIMEOUT)

    # --- transport ---------------------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            logger.warning("WeChat %s %s failed: %s", method, path, exc)
            raise UpstreamError("wechat_unavailable", "WeChat could not be reached; try again.") from exc
        if response.status_code >= 500:
            raise UpstreamError("wechat_unavailable", f"WeChat answered HTTP {response.status_code}.")
        return response

    def _json(self, method: str, path: str, **kwargs) -> dict:
        """One call, retried once when WeChat says it is busy (errcode -1)."""
        for attempt in range(2):
            payload = _payload(self._request(method, path, **kwargs))
            if payload.get("errcode") == BUSY and attempt == 0:
                continue
            raise_for_errcode(payload)
            return payload
        raise AssertionError("unreachable")

    # --- access token ------------------------------------------------------------------------
    @property
    def _token_cache_key(self) -> str:
        return f"wechat:access_token:{self.appid}"

    def access_token(self, *, force_refresh: bool = False) -> str:
        """The stable access token, cached centrally for all processes (WECHAT.md §2).

        ``stable_token`` returns the same token while it is valid, so processes that miss the
        cache at once do not invalidate each other's tokens.
        """
        if not force_refresh:
            token = cache.get(self._token_cache_key)
            if token:
                return token
        payload = self._json(
            "POST",
            "/cgi-bin/stable_token",
            json={
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self.secret,
                "force_refresh": force_refresh,
            },
        )
        token = payload.get("access_token")
        if not token:
            raise UpstreamError("wechat_error", "WeChat answered no access_token.")
        # Expire our copy a minute early so no request carries a token WeChat just dropped.
        cache.set(self._token_cache_key, token, timeout=max(int(payload.get("expires_in", 7200)) - 60, 30))
        return token

    def call_with_token(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        check: Callable[[dict], None] = raise_for_errcode,
        **kwargs,
    ) -> httpx.Response:
        """A call that needs ``access_token``; on a stale-token errcode, refetch once and retry.

        Answers the raw response: some APIs (mini-program codes) answer image bytes on success.
        ``check`` raises for any other errcode; an API with errcodes of its own passes its own.
        """
        for attempt in range(2):
            token = self.access_token(force_refresh=attempt > 0)
            response = self._request(method, path, params={**(params or {}), "access_token": token}, **kwargs)
            if _is_json(response):
                payload = _payload(response)
                if payload.get("errcode") in TOKEN_ERRORS and attempt == 0:
                    continue
                check(payload)
            return response
        raise AssertionError("unreachable")

    # --- login -------------------------------------------------------------------------------
    def code_to_session(self, code: str) -> CodeSession:
        payload = self._json(
            "GET",
            "/sns/jscode2session",
            params={"appid": self.appid, "secret": self.secret, "js_code": code, "grant_type": "authorization_code"},
        )
        if not payload.get("openid"):
            raise UpstreamError("wechat_error", "WeChat answered no openid.")
        return CodeSession(
            openid=payload["openid"], session_key=payload.get("session_key", ""), unionid=payload.get("unionid", "")
        )

    # --- subscribe messages ------------------------------------------------------------------
    def send_subscribe_message(self, message: SubscribeMessage) -> None:
        """Send one subscribe message (WECHAT.md §3).

        ``MessageRejected`` when WeChat will never deliver it; ``UpstreamError`` / ``RateLimited``
        when it might later. Busy (-1) is not retried here: the caller retries transient errors later.
        """
        check_subscribe_message(message)
        body = {
            "touser": message.openid,
            "template_id": message.template_id,
            "data": build_subscribe_data(message.data),
            "miniprogram_state": message.miniprogram_state,
            "lang": message.lang,
        }
        if message.page:
            body["page"] = message.page
        response = self.call_with_token(
            "POST",
            "/cgi-bin/message/subscribe/send",
            # UTF-8 Chinese as is: WeChat expects it, not \u escapes.
            content=json.dumps(body, ensure_ascii=False).encode(),
            headers={"content-type": "application/json"},
            check=raise_for_subscribe_errcode,
        )
        if not _is_json(response):  # only an errcode-0 JSON answer means the message was sent
            raise UpstreamError(
                "wechat_unavailable", "WeChat answered the subscribe message with something unexpected."
            )

    # --- mini-program codes ------------------------------------------------------------------
    def get_unlimited_code(self, code: UnlimitedCode) -> bytes:
        """``wxa/getwxacodeunlimit`` (WECHAT.md §4): image bytes on success, a JSON errcode otherwise."""
        response = self.call_with_token(
            "POST",
            "/wxa/getwxacodeunlimit",
            content=json.dumps(code.as_body()).encode(),
            headers={"content-type": "application/json"},
            check=raise_for_code_errcode,
        )
        if _is_json(response) or not response.headers.get("content-type", "").startswith("image/"):
            # An errcode of 0 with no image, or something that is neither: not a code.
            raise UpstreamError("wechat_unavailable", "WeChat answered the code request without an image.")
        return response.content
