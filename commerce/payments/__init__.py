"""Pluggable payment providers (../shared/WECHAT.md §6).

``payment_provider()`` answers the provider ``settings.WECHAT_BACKEND`` names: ``sandbox`` (an
offline WeChat Pay speaking the same v3 protocol) or ``wechat`` (the real WeChat Pay API v3,
configured by the ``WECHATPAY_*`` settings). Each is built once per process and configuration.
"""

import threading
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from commerce.payments import protocol
from commerce.payments.base import (
    InvalidNotification,
    Notification,
    PaymentParams,
    PaymentProvider,
    PrepayRequest,
    RefundRequest,
    RefundResult,
)
from commerce.payments.sandbox import SandboxPayProvider
from commerce.payments.wechatpay import API_BASE, WeChatPayProvider

__all__ = [
    "InvalidNotification",
    "Notification",
    "PaymentParams",
    "PaymentProvider",
    "PrepayRequest",
    "RefundRequest",
    "RefundResult",
    "SandboxPayProvider",
    "WeChatPayProvider",
    "payment_provider",
]

_providers: dict[tuple, PaymentProvider] = {}
_lock = threading.Lock()


def payment_provider() -> PaymentProvider:
    backend = settings.WECHAT_BACKEND
    if backend == "sandbox":
        key_dir = Path(settings.VAR_DIR) / "sandbox"
        return _once(("sandbox", key_dir), lambda: SandboxPayProvider(key_dir=key_dir))
    if backend == "wechat":
        config = _wechatpay_config()
        return _once(("wechat", *config.items()), lambda: _wechatpay_provider(config))
    raise ImproperlyConfigured(f"Unknown WECHAT_BACKEND {backend!r}: use 'sandbox' or 'wechat'")


def _once(key: tuple, build) -> PaymentProvider:
    with _lock:
        if key not in _providers:
            _providers[key] = build()
        return _providers[key]


REQUIRED = (
    "WECHATPAY_MCHID",
    "WECHATPAY_MERCHANT_SERIAL_NO",
    "WECHATPAY_PRIVATE_KEY_PATH",
    "WECHATPAY_APIV3_KEY",
    "WECHATPAY_NOTIFY_URL",
)


def _wechatpay_config() -> dict:
    """The WECHATPAY_* settings, or ImproperlyConfigured naming every one that is missing."""
    names = (*REQUIRED, "WECHATPAY_PLATFORM_CERTS", "WECHATPAY_PUBLIC_KEY_PATH", "WECHATPAY_PUBLIC_KEY_ID")
    config = {name: getattr(settings, name, "") for name in names}
    certs = config["WECHATPAY_PLATFORM_CERTS"] or ()
    certs = certs.split(",") if isinstance(certs, str) else certs
    config["WECHATPAY_PLATFORM_CERTS"] = tuple(path.strip() for path in certs if path.strip())
    config["WECHATPAY_API_BASE"] = getattr(settings, "WECHATPAY_API_BASE", "") or API_BASE
    missing = [name for name in REQUIRED if not config[name]]
    # Either verifying mode will do; the public key needs its ID, which names it in Wechatpay-Serial.
    public_key_path, public_key_id = config["WECHATPAY_PUBLIC_KEY_PATH"], config["WECHATPAY_PUBLIC_KEY_ID"]
    if public_key_path and not public_key_id:
        missing.append("WECHATPAY_PUBLIC_KEY_ID")
    elif public_key_id and not public_key_path:
        missing.append("WECHATPAY_PUBLIC_KEY_PATH")
    elif not (config["WECHATPAY_PLATFORM_CERTS"] or public_key_path):
        missing.append("WECHATPAY_PUBLIC_KEY_PATH + WECHATPAY_PUBLIC_KEY_ID (or WECHATPAY_PLATFORM_CERTS)")
    if missing:
        raise ImproperlyConfigured(f"WECHAT_BACKEND is 'wechat' but WeChat Pay needs: {', '.join(missing)}")
    return config


def _read(name: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ImproperlyConfigured(f"{name}: cannot read {path}: {exc.strerror}") from exc


def _wechatpay_provider(config: dict) -> WeChatPayProvider:
    verifying_keys: dict[str, bytes] = {}
    for path in config["WECHATPAY_PLATFORM_CERTS"]:
        pem = _read("WECHATPAY_PLATFORM_CERTS", path)
        try:
            verifying_keys[protocol.certificate_serial(pem)] = pem
        except ValueError as exc:
            raise ImproperlyConfigured(f"WECHATPAY_PLATFORM_CERTS: {path} is not a PEM certificate") from exc
    if config["WECHATPAY_PUBLIC_KEY_PATH"]:
        public_key_id = config["WECHATPAY_PUBLIC_KEY_ID"]
        if not public_key_id.startswith(protocol.PUBLIC_KEY_ID_PREFIX):
            raise ImproperlyConfigured(f"WECHATPAY_PUBLIC_KEY_ID must start with {protocol.PUBLIC_KEY_ID_PREFIX}")
        verifying_keys[public_key_id] = _read("WECHATPAY_PUBLIC_KEY_PATH", config["WECHATPAY_PUBLIC_KEY_PATH"])
    try:
        return WeChatPayProvider(
            mchid=config["WECHATPAY_MCHID"],
            merchant_serial_no=config["WECHATPAY_MERCHANT_SERIAL_NO"],
            merchant_private_key=_read("WECHATPAY_PRIVATE_KEY_PATH", config["WECHATPAY_PRIVATE_KEY_PATH"]),
            apiv3_key=config["WECHATPAY_APIV3_KEY"],
            verifying_keys=verifying_keys,
            notify_url=config["WECHATPAY_NOTIFY_URL"],
            api_base=config["WECHATPAY_API_BASE"],
            timeout=settings.WECHAT_HTTP_TIMEOUT,
        )
    except (ValueError, TypeError) as exc:  # a key that does not load (or needs a password), an APIv3 key not 32 bytes…
        raise ImproperlyConfigured(f"WeChat Pay settings: {exc}") from exc
