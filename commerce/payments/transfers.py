"""Paying money out to a WeChat user's balance: WeChat Pay's 商家转账 (../shared/WECHAT.md §6 Transfers).

``transfer_client()`` answers the client ``settings.TRANSFER_BACKEND`` names: ``sandbox`` (offline,
records every transfer) or ``wechat`` (``POST /v3/fund-app/mch-transfer/transfer-bills``, signed
and verified by the same code as payments, through ``WeChatPayProvider``).

A transfer is idempotent by ``out_bill_no``: asking again with the same number answers the same
bill, so a caller that lost the answer asks again rather than paying twice. Only a bill that is
confirmed ``FAIL`` may be retried under a new number.
"""

import re
from dataclasses import dataclass, field
from typing import ClassVar, Protocol
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from commerce.payments.wechatpay import WeChatPayProvider
from tenants.errors import UpstreamError

OUT_BILL_NO = re.compile(r"^[0-9A-Za-z]{1,32}$")
REMARK_MAX = 32
# What a transfer answers while it is still on its way; SUCCESS and FAIL (and CANCELLED) are final.
IN_FLIGHT = {"ACCEPTED", "PROCESSING", "WAIT_USER_CONFIRM", "TRANSFERING", "CANCELING"}
FAILED = {"FAIL", "CANCELLED"}


@dataclass(frozen=True)
class TransferRequest:
    """One transfer. Invalid values are the caller's bug, so they raise ``ValueError``."""

    appid: str
    out_bill_no: str
    openid: str
    amount: int
    remark: str
    scene_id: str = "1000"  # 现金营销 (cash marketing): commission and rewards
    # Scene 1000 requires "活动名称" and "奖励说明" (WECHAT.md §6).
    report_infos: tuple[tuple[str, str], ...] = (("活动名称", "导购佣金"), ("奖励说明", "导购佣金结算"))

    def __post_init__(self):
        if not OUT_BILL_NO.match(self.out_bill_no):
            raise ValueError(f"out_bill_no is 1–32 letters and digits: {self.out_bill_no!r}")
        if self.amount <= 0:
            raise ValueError(f"amount must be > 0 fen: {self.amount}")
        if not (self.appid and self.openid):
            raise ValueError("appid and openid are required")
        object.__setattr__(self, "remark", self.remark[:REMARK_MAX])

    def as_body(self) -> dict:
        return {
            "appid": self.appid,
            "out_bill_no": self.out_bill_no,
            "transfer_scene_id": self.scene_id,
            "openid": self.openid,
            "transfer_amount": self.amount,
            "transfer_remark": self.remark,
            "transfer_scene_report_infos": [
                {"info_type": info_type, "info_content": content} for info_type, content in self.report_infos
            ],
        }


@dataclass(frozen=True)
class TransferResult:
    state: str
    transfer_bill_no: str = ""
    fail_reason: str = ""
    package_info: str = field(default="", repr=False)

    @property
    def succeeded(self) -> bool:
        return self.state == "SUCCESS"

    @property
    def failed(self) -> bool:
        return self.state in FAILED


class TransferClient(Protocol):
    name: str

    def transfer(self, request: TransferRequest) -> TransferResult:
        """Start (or, with the same ``out_bill_no``, look up) a transfer. A refusal answers ``FAIL``;
        trouble that may have left the bill unknown raises ``UpstreamError``."""
        ...

    def query(self, out_bill_no: str) -> TransferResult: ...


class SandboxTransferClient:
    """Pays at once, or fails for the openids listed in ``failing_openids``; keeps every bill."""

    name = "sandbox"
    bills: ClassVar[dict[str, tuple[TransferRequest, TransferResult]]] = {}
    failing_openids: ClassVar[set[str]] = set()

    @classmethod
    def reset(cls) -> None:
        cls.bills.clear()
        cls.failing_openids.clear()

    def transfer(self, request: TransferRequest) -> TransferResult:
        if request.out_bill_no in self.bills:  # idempotent by number, like WeChat Pay
            return self.bills[request.out_bill_no][1]
        if request.openid in self.failing_openids:
            result = TransferResult("FAIL", f"sbx_{request.out_bill_no}", fail_reason="PAYEE_ACCOUNT_ABNORMAL")
        else:
            result = TransferResult("SUCCESS", f"sbx_{request.out_bill_no}")
        self.bills[request.out_bill_no] = (request, result)
        return result

    def query(self, out_bill_no: str) -> TransferResult:
        if out_bill_no not in self.bills:  # as WeChat Pay answers a number it never saw
            raise UpstreamError("payment_rejected", "No such transfer bill.", fields={"code": "NOT_FOUND"})
        return self.bills[out_bill_no][1]


class WeChatPayTransferClient:
    """商家转账 over WeChat Pay API v3, through the payment provider's signed, verified transport."""

    name = "wechatpay"
    PATH = "/v3/fund-app/mch-transfer/transfer-bills"

    def __init__(self, provider: WeChatPayProvider, notify_url: str = ""):
        self.provider = provider
        self.notify_url = notify_url

    def transfer(self, request: TransferRequest) -> TransferResult:
        body = request.as_body()
        if self.notify_url:
            body["notify_url"] = self.notify_url
        try:
            answer = self.provider._call("POST", self.PATH, body)
        except UpstreamError as exc:
            if exc.code == "payment_rejected":  # WeChat Pay refused it (4xx): nothing was paid
                return TransferResult("FAIL", fail_reason=str(exc.fields.get("code") or exc.message)[:200])
            raise
        return _result(answer)

    def query(self, out_bill_no: str) -> TransferResult:
        path = f"{self.PATH}/out-bill-no/{quote(out_bill_no, safe='')}"
        return _result(self.provider._call("GET", path))


def _result(answer: dict) -> TransferResult:
    state = answer.get("state")
    if not state:
        raise UpstreamError("payment_unavailable", "WeChat Pay answered the transfer without a state.")
    return TransferResult(
        state=state,
        transfer_bill_no=answer.get("transfer_bill_no", ""),
        fail_reason=answer.get("fail_reason", ""),
        package_info=answer.get("package_info", ""),
    )


def transfer_client() -> TransferClient:
    backend = settings.TRANSFER_BACKEND
    if backend == "sandbox":
        return SandboxTransferClient()
    if backend == "wechat":
        from commerce.payments import payment_provider  # the configured WeChat Pay, built once

        provider = payment_provider()
        if not isinstance(provider, WeChatPayProvider):
            raise ImproperlyConfigured("TRANSFER_BACKEND 'wechat' needs WECHAT_BACKEND 'wechat' (WeChat Pay).")
        return WeChatPayTransferClient(provider, notify_url=settings.WECHATPAY_TRANSFER_NOTIFY_URL)
    raise ImproperlyConfigured(f"Unknown TRANSFER_BACKEND {backend!r}: use 'sandbox' or 'wechat'")
