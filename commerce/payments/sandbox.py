"""An offline WeChat Pay that speaks the same v3 protocol (../shared/WECHAT.md §6).

It answers prepay and refund locally and builds exactly what WeChat Pay would POST to the notify
URL: signed with a sandbox platform key, the resource encrypted with a sandbox APIv3 key. Its
``parse_notification`` is the real verifying and decrypting code, configured with those keys, so
the sandbox exercises the same path a real payment takes.

The keys are made once per installation under ``settings.VAR_DIR / "sandbox"``: every web and
Celery worker must verify what any other one signed.
"""

import contextlib
import json
import os
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from commerce.payments import protocol
from commerce.payments.base import (
    Notification,
    PaymentParams,
    PrepayRequest,
    RefundRequest,
    RefundResult,
)

SANDBOX_MCHID = "1900000000"
PLATFORM_SERIAL = "SANDBOX_PLATFORM"
KEY_FILE = "wechatpay-keys.json"
REFUND_EVENTS = {"SUCCESS", "ABNORMAL", "CLOSED"}  # REFUND.<status> (WECHAT.md §6 Refunds)


@dataclass(frozen=True)
class SandboxKeys:
    merchant_private_key: RSAPrivateKey
    platform_private_key: RSAPrivateKey
    apiv3_key: bytes

    @classmethod
    def generate(cls) -> "SandboxKeys":
        return cls(
            merchant_private_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
            platform_private_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
            apiv3_key=os.urandom(16).hex().encode(),  # 32 ASCII bytes, like a real APIv3 key
        )

    @classmethod
    def load_or_create(cls, key_dir: Path) -> "SandboxKeys":
        """The installation's keys from ``key_dir``, made there first if absent.

        A new key set is written whole to a temp file, then hard-linked into place: the link fails
        if the file exists, so of processes starting at once exactly one set wins, and every process
        (the winner too) uses what is on disk. ``os.replace`` would let a later process overwrite
        keys an earlier one already uses.
        """
        path = Path(key_dir) / KEY_FILE
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{KEY_FILE}.")  # mode 0600: private keys
            try:
                with os.fdopen(fd, "w") as file:
                    file.write(cls.generate()._dumps())
                    file.flush()
                    os.fsync(file.fileno())
                with contextlib.suppress(FileExistsError):  # another process won: use its keys
                    os.link(temp, path)
            finally:
                os.unlink(temp)
        return cls._loads(path.read_text())

    def _dumps(self) -> str:
        def pem(key: RSAPrivateKey) -> str:
            return key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode()

        return json.dumps(
            {
                "merchant_private_key": pem(self.merchant_private_key),
                "platform_private_key": pem(self.platform_private_key),
                "apiv3_key": self.apiv3_key.decode(),
            }
        )

    @classmethod
    def _loads(cls, text: str) -> "SandboxKeys":
        data = json.loads(text)
        return cls(
            merchant_private_key=protocol.load_private_key(data["merchant_private_key"]),
            platform_private_key=protocol.load_private_key(data["platform_private_key"]),
            apiv3_key=data["apiv3_key"].encode(),
        )


class SandboxPayProvider:
    name = "sandbox"
    mchid = SANDBOX_MCHID

    def __init__(
        self, keys: SandboxKeys | None = None, *, key_dir: Path | None = None, clock: protocol.Clock = protocol.utc_now
    ):
        if keys is None:
            if key_dir is None:
                raise ValueError("SandboxPayProvider needs keys or a key_dir")
            keys = SandboxKeys.load_or_create(key_dir)
        self.keys = keys
        self.clock = clock
        self.verifier = protocol.Verifier(
            keys.apiv3_key, {PLATFORM_SERIAL: keys.platform_private_key.public_key()}, clock
        )
        # A convenience for demos and tests in one process: another worker has its own.
        self.trades: dict[str, PrepayRequest] = {}

    # --- the interface -----------------------------------------------------------------------------
    def prepay(self, request: PrepayRequest) -> PaymentParams:
        prepay_id = f"sbx_prepay_{request.out_trade_no}"
        self.trades[request.out_trade_no] = request
        params = protocol.pay_params(
            self.keys.merchant_private_key,
            appid=request.appid,
            prepay_id=prepay_id,
            timestamp=int(self.clock().timestamp()),
            nonce=protocol.new_nonce(),
        )
        return PaymentParams(params=params, prepay_id=prepay_id)

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        return self.verifier.parse_notification(headers, body)

    def refund(self, request: RefundRequest) -> RefundResult:
        return RefundResult(status="SUCCESS", refund_id=f"sbx_refund_{request.out_refund_no}")

    def close(self, out_trade_no: str) -> None:
        self.trades.pop(out_trade_no, None)

    # --- what WeChat Pay would POST to the notify URL ----------------------------------------------
    def payment_notification(
        self,
        out_trade_no: str,
        amount: int,
        payer_openid: str,
        appid: str,
        transaction_id: str | None = None,
        mchid: str = SANDBOX_MCHID,
    ) -> tuple[dict, bytes]:
        """The headers and body of a ``TRANSACTION.SUCCESS`` notification."""
        resource = {
            "appid": appid,
            "mchid": mchid,
            "out_trade_no": out_trade_no,
            "transaction_id": transaction_id or f"sbx_tx_{out_trade_no}",
            "trade_type": "JSAPI",
            "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功",
            "bank_type": "OTHERS",
            "attach": "",
            "success_time": protocol.rfc3339(self.clock()),
            "payer": {"openid": payer_openid},
            "amount": {"total": amount, "payer_total": amount, "currency": "CNY", "payer_currency": "CNY"},
        }
        return self._notification("TRANSACTION.SUCCESS", "transaction", "支付成功", resource)

    def refund_notification(
        self,
        out_trade_no: str,
        out_refund_no: str,
        refund_amount: int,
        total: int,
        refund_id: str | None = None,
        status: str = "SUCCESS",
        mchid: str = SANDBOX_MCHID,
    ) -> tuple[dict, bytes]:
        """The headers and body of a ``REFUND.<status>`` notification (SUCCESS, ABNORMAL or CLOSED)."""
        if status not in REFUND_EVENTS:
            raise ValueError(f"refund notifications are for {sorted(REFUND_EVENTS)}, not {status!r}")
        resource = {
            "mchid": mchid,
            "out_trade_no": out_trade_no,
            "transaction_id": f"sbx_tx_{out_trade_no}",
            "out_refund_no": out_refund_no,
            "refund_id": refund_id or f"sbx_refund_{out_refund_no}",
            "refund_status": status,
            "user_received_account": "支付用户零钱",
            "amount": {"total": total, "refund": refund_amount, "payer_total": total, "payer_refund": refund_amount},
        }
        if status == "SUCCESS":
            resource["success_time"] = protocol.rfc3339(self.clock())
        return self._notification(f"REFUND.{status}", "refund", "退款状态变更", resource)

    def probe_notification(self) -> tuple[dict, bytes]:
        """A signature probe (``WECHATPAY/SIGNTEST/…``), which the notify endpoint must refuse."""
        headers, body = self.payment_notification("sbx_probe", 1, "sbx_probe_openid", "wx_sandbox_probe")
        return {**headers, "Wechatpay-Signature": protocol.PROBE_PREFIX + headers["Wechatpay-Signature"]}, body

    def _notification(self, event_type: str, original_type: str, summary: str, resource: dict) -> tuple[dict, bytes]:
        now = self.clock()
        nonce = protocol.new_nonce()[:12]  # AES-GCM takes a 12-byte nonce
        envelope = {
            "id": str(uuid.uuid4()),
            "create_time": protocol.rfc3339(now),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": {
                "original_type": original_type,
                "algorithm": protocol.AES_ALGORITHM,
                "ciphertext": protocol.aes_gcm_encrypt(
                    self.keys.apiv3_key, nonce, original_type, json.dumps(resource, ensure_ascii=False).encode()
                ),
                "associated_data": original_type,
                "nonce": nonce,
            },
        }
        body = json.dumps(envelope, ensure_ascii=False).encode()
        timestamp, header_nonce = str(int(now.timestamp())), protocol.new_nonce()
        headers = {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": header_nonce,
            "Wechatpay-Signature": protocol.sign(
                self.keys.platform_private_key, protocol.signing_message(timestamp, header_nonce, body)
            ),
            "Wechatpay-Serial": PLATFORM_SERIAL,
            "Wechatpay-Signature-Type": protocol.SIGNATURE_TYPE,
        }
        return headers, body
