"""The real WeChat Pay API v3 over HTTPS (../shared/WECHAT.md §6).

Every request is signed with the merchant API key; every JSON answer is verified with WeChat
Pay's key before it is believed. Failures become domain errors, so the API never answers 500:
WeChat Pay's trouble (5xx, transport) is ``payment_unavailable``, a refused request (4xx)
``payment_rejected`` with WeChat Pay's code, an answer that fails verification ``payment_unverified``.
"""

import json
import logging
from collections.abc import Mapping
from urllib.parse import quote

import httpx
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from commerce.payments import protocol
from commerce.payments.base import (
    InvalidNotification,
    Notification,
    PaymentParams,
    PrepayRequest,
    RefundRequest,
    RefundResult,
)
from tenants.errors import UpstreamError

logger = logging.getLogger("siyu.wechatpay")

API_BASE = "https://api.mch.weixin.qq.com"


class WeChatPayProvider:
    name = "wechatpay"

    def __init__(
        self,
        mchid: str,
        merchant_serial_no: str,
        merchant_private_key: RSAPrivateKey | bytes | str,
        apiv3_key: bytes | str,
        verifying_keys: Mapping[str, RSAPublicKey | bytes | str],
        notify_url: str,
        api_base: str = API_BASE,
        *,
        http: httpx.Client | None = None,
        clock: protocol.Clock = protocol.utc_now,
        timeout: float = 5.0,
    ):
        """``verifying_keys`` maps platform certificate serials and/or a ``PUB_KEY_ID_…`` to keys."""
        if not notify_url or "?" in notify_url:
            raise ValueError("notify_url is required and may not carry a query (WECHAT.md §6)")
        self.mchid = mchid
        self.merchant_serial_no = merchant_serial_no
        self.merchant_private_key = protocol.load_private_key(merchant_private_key)
        self.verifier = protocol.Verifier(apiv3_key, verifying_keys, clock)
        self.notify_url = notify_url
        self.clock = clock
        self._http = http
        self._api_base = api_base
        self._timeout = timeout
        # WeChat Pay signs an answer with the key whose ID the request names in Wechatpay-Serial;
        # naming the public key lets a public-key-mode merchant verify every answer (WECHAT.md §6).
        self.answer_serial = next(
            (serial for serial in verifying_keys if serial.startswith(protocol.PUBLIC_KEY_ID_PREFIX)), ""
        )

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(base_url=self._api_base, timeout=self._timeout)
        return self._http

    # --- the interface -----------------------------------------------------------------------------
    def prepay(self, request: PrepayRequest) -> PaymentParams:
        """JSAPI prepay; the params are signed for the brand's mini-program appid."""
        answer = self._call(
            "POST",
            "/v3/pay/transactions/jsapi",
            {
                "appid": request.appid,
                "mchid": self.mchid,
                "description": request.description,
                "out_trade_no": request.out_trade_no,
                "time_expire": protocol.rfc3339(request.expires_at),
                "notify_url": self.notify_url,
                "amount": {"total": request.amount, "currency": "CNY"},
                "payer": {"openid": request.payer_openid},
            },
        )
        prepay_id = answer.get("prepay_id")
        if not prepay_id:
            raise UpstreamError("payment_unavailable", "WeChat Pay answered no prepay_id.")
        params = protocol.pay_params(
            self.merchant_private_key,
            appid=request.appid,
            prepay_id=prepay_id,
            timestamp=int(self.clock().timestamp()),
            nonce=protocol.new_nonce(),
        )
        return PaymentParams(params=params, prepay_id=prepay_id)

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        return self.verifier.parse_notification(headers, body)

    def refund(self, request: RefundRequest) -> RefundResult:
        payload = {
            "out_trade_no": request.out_trade_no,
            "out_refund_no": request.out_refund_no,
            "notify_url": self.notify_url,
            "amount": {"refund": request.amount, "total": request.total, "currency": "CNY"},
        }
        if request.reason:
            payload["reason"] = request.reason
        answer = self._call("POST", "/v3/refund/domestic/refunds", payload)
        if not answer.get("status") or not answer.get("refund_id"):
            raise UpstreamError("payment_unavailable", "WeChat Pay answered the refund without status or refund_id.")
        return RefundResult(status=answer["status"], refund_id=answer["refund_id"])

    def close(self, out_trade_no: str) -> None:
        path = f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}/close"
        self._call("POST", path, {"mchid": self.mchid})

    # --- transport ---------------------------------------------------------------------------------
    def _call(self, method: str, path: str, payload: dict | None = None) -> dict:
        """One signed request; the verified JSON answer, or ``{}`` for an empty one (204)."""
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        if self.answer_serial:
            headers["Wechatpay-Serial"] = self.answer_serial
        request = self.http.build_request(method, path, content=body, headers=headers)
        # Sign the URL exactly as it goes on the wire (path + query, percent-encoding included).
        request.headers["Authorization"] = protocol.authorization(
            mchid=self.mchid,
            serial_no=self.merchant_serial_no,
            private_key=self.merchant_private_key,
            method=method,
            url=request.url.raw_path.decode("ascii"),
            body=body,
            timestamp=int(self.clock().timestamp()),
            nonce=protocol.new_nonce(),
        )
        try:
            response = self.http.send(request)
        except httpx.HTTPError as exc:
            logger.warning("WeChat Pay %s %s failed: %s", method, path, exc)
            raise UpstreamError("payment_unavailable", "WeChat Pay could not be reached; try again.") from exc
        if 400 <= response.status_code < 500:
            code, message = _error(response)
            logger.warning("WeChat Pay rejected %s %s: %s %s %s", method, path, response.status_code, code, message)
            raise UpstreamError(
                "payment_rejected", f"WeChat Pay rejected the request: {code}: {message}", fields={"code": code}
            )
        if not response.is_success:
            logger.warning("WeChat Pay %s %s answered HTTP %s", method, path, response.status_code)
            raise UpstreamError("payment_unavailable", f"WeChat Pay answered HTTP {response.status_code}.")
        if not response.content:
            return {}
        try:
            self.verifier.verify(response.headers, response.content)
        except InvalidNotification as exc:
            logger.error("WeChat Pay answer to %s %s failed verification: %s", method, path, exc)
            raise UpstreamError("payment_unverified", "WeChat Pay's answer failed signature verification.") from exc
        try:
            answer = response.json()
        except ValueError as exc:
            raise UpstreamError("payment_unavailable", "WeChat Pay answered something that is not JSON.") from exc
        if not isinstance(answer, dict):
            raise UpstreamError("payment_unavailable", "WeChat Pay answered JSON that is not an object.")
        return answer


def _error(response: httpx.Response) -> tuple[str, str]:
    """WeChat Pay's ``{"code": …, "message": …}``; the HTTP status when the body is not that."""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return f"HTTP_{response.status_code}", response.reason_phrase
    return str(payload.get("code") or f"HTTP_{response.status_code}"), str(payload.get("message", ""))
