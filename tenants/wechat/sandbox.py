"""Offline stand-in for the WeChat mini-program API: deterministic, and strict about input."""

import hashlib
import re

from tenants.errors import InvalidInput
from tenants.wechat.base import CodeSession

# A real wx.login code is 32 URL-safe characters; the sandbox accepts any such token up to 64.
_CODE = re.compile(r"^[0-9A-Za-z_\-]{1,64}$")


def _digest(*parts: str) -> str:
    return hashlib.sha256(":".join(parts).encode()).hexdigest()


class SandboxMiniProgramClient:
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
