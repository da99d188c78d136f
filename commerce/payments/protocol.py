"""The WeChat Pay API v3 protocol without I/O (../shared/WECHAT.md §6).

Signatures, AES-256-GCM and notification parsing. The real provider and the sandbox both use
this module, so a sandbox notification goes through exactly the code a real one does.
"""

import base64
import binascii
import json
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from commerce.payments.base import InvalidNotification, Notification

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
PROBE_PREFIX = "WECHATPAY/SIGNTEST/"
PUBLIC_KEY_ID_PREFIX = "PUB_KEY_ID_"
MAX_CLOCK_SKEW = timedelta(minutes=5)
AES_ALGORITHM = "AEAD_AES_256_GCM"
# WeChat Pay's own times are China Standard Time; any RFC 3339 offset names the same instant.
CHINA_TIME = timezone(timedelta(hours=8))

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


# --- keys ----------------------------------------------------------------------------------------
def load_private_key(key: RSAPrivateKey | bytes | str) -> RSAPrivateKey:
    if isinstance(key, str):
        key = key.encode()
    if isinstance(key, bytes):
        key = serialization.load_pem_private_key(key, password=None)
    if not isinstance(key, RSAPrivateKey):
        raise ValueError("the merchant API key must be an RSA private key")
    return key


def load_public_key(key: RSAPublicKey | bytes | str) -> RSAPublicKey:
    """A verifying key: an RSA public key, a PEM public key (微信支付公钥) or a platform certificate."""
    if isinstance(key, str):
        key = key.encode()
    if isinstance(key, bytes):
        if b"-----BEGIN CERTIFICATE-----" in key:
            key = x509.load_pem_x509_certificate(key).public_key()
        else:
            key = serialization.load_pem_public_key(key)
    if not isinstance(key, RSAPublicKey):
        raise ValueError("a WeChat Pay verifying key must be an RSA public key")
    return key


def certificate_serial(pem: bytes) -> str:
    """The platform certificate's serial as WeChat Pay writes it in ``Wechatpay-Serial``: hex."""
    return format(x509.load_pem_x509_certificate(pem).serial_number, "X")


def serial_key(serial: str) -> str:
    """One spelling per serial: certificate serials are hex, whatever their case or leading zeros."""
    serial = serial.strip()
    if serial.startswith(PUBLIC_KEY_ID_PREFIX):
        return serial
    try:
        return format(int(serial, 16), "X")
    except ValueError:
        return serial


# --- signatures ----------------------------------------------------------------------------------
def signing_message(*lines: str | bytes) -> bytes:
    """Each part on its own line, the last one ending in ``\\n`` too (WECHAT.md §6 Signing)."""
    return b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n" for line in lines)


def sign(private_key: RSAPrivateKey, message: bytes) -> str:
    """SHA256withRSA (PKCS#1 v1.5), Base64."""
    return base64.b64encode(private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def signature_valid(public_key: RSAPublicKey, message: bytes, signature: str) -> bool:
    try:
        public_key.verify(base64.b64decode(signature, validate=True), message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def new_nonce() -> str:
    return secrets.token_hex(16).upper()


def authorization(
    *,
    mchid: str,
    serial_no: str,
    private_key: RSAPrivateKey,
    method: str,
    url: str,
    body: bytes,
    timestamp: int,
    nonce: str,
) -> str:
    """The ``Authorization`` header of one request; ``url`` is path + query, ``body`` the bytes sent."""
    signature = sign(private_key, signing_message(method, url, str(timestamp), nonce, body))
    return (
        f'{SIGNATURE_TYPE} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial_no}"'
    )


def pay_params(private_key: RSAPrivateKey, *, appid: str, prepay_id: str, timestamp: int, nonce: str) -> dict:
    """What ``wx.requestPayment`` takes; ``paySign`` signs ``appId\\ntimeStamp\\nnonceStr\\npackage\\n``."""
    package = f"prepay_id={prepay_id}"
    return {
        "timeStamp": str(timestamp),
        "nonceStr": nonce,
        "package": package,
        "signType": "RSA",
        "paySign": sign(private_key, signing_message(appid, str(timestamp), nonce, package)),
    }


# --- AEAD_AES_256_GCM ----------------------------------------------------------------------------
def apiv3_key_bytes(key: bytes | str) -> bytes:
    key = key.encode() if isinstance(key, str) else key
    if len(key) != 32:
        raise ValueError("the APIv3 key must be 32 bytes (WECHAT.md §6)")
    return key


def aes_gcm_encrypt(key: bytes, nonce: str, associated_data: str, plaintext: bytes) -> str:
    return base64.b64encode(AESGCM(key).encrypt(nonce.encode(), plaintext, associated_data.encode())).decode()


def aes_gcm_decrypt(key: bytes, nonce: str, associated_data: str, ciphertext: str) -> bytes:
    """The ciphertext is Base64 with the 16-byte tag appended, as AESGCM expects (WECHAT.md §6)."""
    return AESGCM(key).decrypt(nonce.encode(), base64.b64decode(ciphertext), associated_data.encode())


# --- verifying what WeChat Pay sends -------------------------------------------------------------
class Verifier:
    """Checks WeChat Pay's signature on a notification or on an API answer, and decrypts notifications.

    ``verifying_keys`` maps ``Wechatpay-Serial`` values to keys: platform certificate serials
    (hex) and/or a WeChat Pay public key ID (``PUB_KEY_ID_…``). Merchants migrating between the
    two modes get callbacks signed either way, so both are accepted side by side (WECHAT.md §6).
    """

    def __init__(self, apiv3_key: bytes | str, verifying_keys: Mapping[str, RSAPublicKey | bytes | str], clock: Clock):
        if not verifying_keys:
            raise ValueError("at least one WeChat Pay verifying key (platform certificate or public key) is needed")
        self.apiv3_key = apiv3_key_bytes(apiv3_key)
        self.keys = {serial_key(serial): load_public_key(key) for serial, key in verifying_keys.items()}
        self.clock = clock

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """Raises ``InvalidNotification`` unless ``body`` carries a fresh, valid WeChat Pay signature."""
        headers = {name.lower(): value for name, value in headers.items()}
        try:
            timestamp, nonce, signature, serial = (
                headers[f"wechatpay-{name}"] for name in ("timestamp", "nonce", "signature", "serial")
            )
        except KeyError as exc:
            raise InvalidNotification(f"missing header {exc.args[0]}")
        if headers.get("wechatpay-signature-type", SIGNATURE_TYPE) != SIGNATURE_TYPE:
            raise InvalidNotification(f"unsupported signature type {headers['wechatpay-signature-type']!r}")
        # WeChat Pay probes that we really verify: such a request must fail (WECHAT.md §6).
        if signature.startswith(PROBE_PREFIX):
            raise InvalidNotification("signature probe")
        try:
            sent_at = datetime.fromtimestamp(int(timestamp), UTC)
        except (ValueError, OverflowError, OSError):
            raise InvalidNotification(f"bad timestamp {timestamp!r}")
        if abs(self.clock() - sent_at) >= MAX_CLOCK_SKEW:
            raise InvalidNotification(f"timestamp {timestamp} is 5 minutes or more away")
        key = self.keys.get(serial_key(serial))
        if key is None:
            raise InvalidNotification(f"unknown Wechatpay-Serial {serial!r}")
        if not signature_valid(key, signing_message(timestamp, nonce, body), signature):
            raise InvalidNotification("bad signature")

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """Verify, then decrypt the resource with the APIv3 key (WECHAT.md §6 Notifications)."""
        self.verify(headers, body)
        try:
            envelope = json.loads(body)
            resource = envelope["resource"]
            if resource.get("algorithm") != AES_ALGORITHM:
                raise InvalidNotification(f"unsupported algorithm {resource.get('algorithm')!r}")
            plaintext = aes_gcm_decrypt(
                self.apiv3_key, resource["nonce"], resource.get("associated_data") or "", resource["ciphertext"]
            )
            return notification_from(envelope["event_type"], json.loads(plaintext))
        except InvalidTag:
            raise InvalidNotification("the resource does not decrypt with our APIv3 key")
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
            raise InvalidNotification(f"malformed notification: {exc!r}")


def notification_from(event_type: str, resource: dict) -> Notification:
    """A decrypted transaction or refund resource as a ``Notification``; absent fields stay empty."""
    amount = resource.get("amount") or {}
    return Notification(
        event_type=event_type,
        out_trade_no=resource.get("out_trade_no", ""),
        transaction_id=resource.get("transaction_id", ""),
        trade_state=resource.get("trade_state", ""),
        amount_total=int(amount.get("total", 0)),
        payer_openid=(resource.get("payer") or {}).get("openid", ""),
        success_time=_rfc3339(resource.get("success_time")),
        out_refund_no=resource.get("out_refund_no", ""),
        refund_id=resource.get("refund_id", ""),
        refund_status=resource.get("refund_status", ""),
        refund_amount=int(amount.get("refund", 0)),
        appid=resource.get("appid", ""),
        mchid=resource.get("mchid", ""),
    )


def _rfc3339(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"success_time without an offset: {value!r}")
    return moment


def rfc3339(moment: datetime) -> str:
    """``2025-06-08T10:34:56+08:00``: whole seconds, in China time like WeChat Pay's own times."""
    return moment.astimezone(CHINA_TIME).isoformat(timespec="seconds")
