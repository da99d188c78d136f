from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class CodeSession:
    """What ``jscode2session`` answers for a ``wx.login`` code."""

    openid: str
    session_key: str
    unionid: str = ""


class MiniProgramClient(Protocol):
    appid: str

    def code_to_session(self, code: str) -> CodeSession: ...
