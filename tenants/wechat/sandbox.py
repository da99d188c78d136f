"""Offline stand-in for the WeChat mini-program API: deterministic, and strict about input."""

import dataclasses
import hashlib
import io
import re
from typing import ClassVar

import qrcode

from tenants.errors import InvalidInput
from tenants.wechat.base import (
    CodeSession,
    MessageRejected,
    SubscribeMessage,
    UnlimitedCode,
    check_subscribe_message,
    fit_subscribe_data,
)

# A real wx.login code is 32 URL-safe characters; the sandbox accepts any such token up to 64.
_CODE = re.compile(r"^[0-9A-Za-z_\-]{1,64}$")


def _digest(*parts: str) -> str:
    return hashlib.sha256(":".join(parts).encode()).hexdigest()


class SandboxMiniProgramClient:
    # Shared by every instance, like WeChat's own state: tests and the demo read what was "sent"
    # and choose who refuses. No I/O or logging per message: benchmarks send 100,000 through it.
    outbox: ClassVar[list[SubscribeMessage]] = []
    refusing_openids: ClassVar[set[str]] = set()

    @classmethod
    def reset(cls) -> None:
        # Cleared in place, so a reference someone holds to ``outbox`` stays the live one.
        cls.outbox.clear()
        cls.refusing_openids.clear()

    def __init__(self, appid: str):
        self.appid = appid

    def code_to_session(self, code: str) -> CodeSession:
        """The same code always yields the same openid, so a demo user keeps their identity."""
        if not _CODE.match(code or ""):
            raise InvalidInput(
                "invalid_code", "The login code is invalid or expired.", fields={"code": ["Invalid code."]}
            )
        return CodeSession(
            openid="sbx_" + _digest(self.appid, code)[:24],
            session_key=_digest("session", self.appid, code)[:24],
            unionid="sbxu_" + _digest(code)[:24],
        )

    def send_subscribe_message(self, message: SubscribeMessage) -> None:
        """Records the message, with its data fitted as WeChat would need, in ``outbox``."""
        check_subscribe_message(message)
        if message.openid in self.refusing_openids:
            raise MessageRejected("refused", 43101, "user refuse to accept the msg")
        self.outbox.append(dataclasses.replace(message, data=fit_subscribe_data(message.data)))

    def get_unlimited_code(self, code: UnlimitedCode) -> bytes:
        """A QR code drawn locally, carrying what the real code opens: the page and the scene."""
        image = qrcode.make(f"{self.appid}/{code.page}?scene={code.scene}", box_size=10, border=2)
        image = image.get_image().convert("RGB").resize((code.width, code.width))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()
