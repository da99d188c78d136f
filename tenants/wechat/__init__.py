"""Pluggable WeChat mini-program clients (DESIGN §6, ../shared/WECHAT.md).

``mini_program_client(brand)`` answers the client that ``settings.WECHAT_BACKEND`` names:
``sandbox`` (offline, deterministic: the embedded default and tests) or ``wechat`` (the real
HTTPS API). Both raise the project's domain errors, so callers never see an errcode.
"""

from django.conf import settings

from tenants.wechat.base import (
    CodeSession,
    MessageRejected,
    MiniProgramClient,
    SubscribeMessage,
    UnlimitedCode,
    build_subscribe_data,
    fit_subscribe_value,
)
from tenants.wechat.client import WeChatMiniProgramClient
from tenants.wechat.sandbox import SandboxMiniProgramClient

__all__ = [
    "CodeSession",
    "MessageRejected",
    "MiniProgramClient",
    "SubscribeMessage",
    "UnlimitedCode",
    "build_subscribe_data",
    "fit_subscribe_value",
    "mini_program_client",
]


def mini_program_client(brand) -> MiniProgramClient:
    if settings.WECHAT_BACKEND == "wechat":
        return WeChatMiniProgramClient(appid=brand.appid, secret=brand.app_secret)
    if settings.WECHAT_BACKEND == "sandbox":
        return SandboxMiniProgramClient(appid=brand.appid)
    raise ValueError(f"Unknown WECHAT_BACKEND {settings.WECHAT_BACKEND!r}: use 'sandbox' or 'wechat'")
