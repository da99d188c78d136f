"""What a payment provider takes and answers, whichever provider it is (../shared/WECHAT.md §6).

Money is integer fen throughout, as WeChat Pay counts it.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

# WECHAT.md §6 JSAPI prepay: out_trade_no is 6–32 of [0-9A-Za-z_-|*], description ≤127.
OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_\-|*]{6,32}$")
DESCRIPTION_MAX = 127
OUT_REFUND_NO_MAX = 64


@dataclass(frozen=True)
class PrepayRequest:
    """One JSAPI prepay. Invalid values are the caller's bug, so they raise ``ValueError``."""

    appid: str
    out_trade_no: str
    description: str
    amount: int
    payer_openid: str
    expires_at: datetime

    def __post_init__(self):
        if not OUT_TRADE_NO.match(self.out_trade_no):
            raise ValueError(f"out_trade_no must be 6–32 of [0-9A-Za-z_-|*]: {self.out_trade_no!r}")
        if self.amount <= 0:
            raise ValueError(f"amount must be > 0 fen: {self.amount}")
        if not (self.appid and self.payer_openid):
            raise ValueError("appid and payer_openid are required")
        if self.expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware")
        # A product name may be longer than WeChat takes; a shortened description still pays.
        object.__setattr__(self, "description", self.description[:DESCRIPTION_MAX])


@dataclass(frozen=True)
class PaymentParams:
    """``params`` is what ``wx.requestPayment`` takes: timeStamp, nonceStr, package, signType, paySign."""

    params: dict
    prepay_id: str


@dataclass(frozen=True)
class Notification:
    """A verified, decrypted notification: a payment (``TRANSACTION.*``) or a refund (``REFUND.*``)."""

    event_type: str
    out_trade_no: str
    transaction_id: str = ""
    trade_state: str = ""
    amount_total: int = 0
    payer_openid: str = ""
    success_time: datetime | None = None
    out_refund_no: str = ""
    refund_id: str = ""
    refund_status: str = ""
    refund_amount: int = 0
    appid: str = ""
    mchid: str = ""


@dataclass(frozen=True)
class RefundRequest:
    out_trade_no: str
    out_refund_no: str
    amount: int
    total: int
    reason: str = ""

    def __post_init__(self):
        if not 0 < len(self.out_refund_no) <= OUT_REFUND_NO_MAX:
            raise ValueError(f"out_refund_no must be 1–64 characters: {self.out_refund_no!r}")
        if not 0 < self.amount <= self.total:
            raise ValueError(f"refund amount must be in 1..total ({self.total}) fen: {self.amount}")


@dataclass(frozen=True)
class RefundResult:
    status: str  # SUCCESS, PROCESSING, CLOSED, ABNORMAL
    refund_id: str


class InvalidNotification(Exception):
    """Not a notification we can trust: answer 401 and change nothing.

    Missing or bad signature headers, a timestamp 5 minutes or more away, an unknown serial, a
    probe (``WECHATPAY/SIGNTEST/``), or a resource that does not decrypt.
    """


class PaymentProvider(Protocol):
    name: str  # "wechatpay" or "sandbox"
    mchid: str  # the merchant whose notifications we accept

    def prepay(self, request: PrepayRequest) -> PaymentParams: ...

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification: ...

    def refund(self, request: RefundRequest) -> RefundResult: ...

    def close(self, out_trade_no: str) -> None: ...
