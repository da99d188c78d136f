import re
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class CodeSession:
    """What ``jscode2session`` answers for a ``wx.login`` code."""

    openid: str
    session_key: str
    unionid: str = ""


@dataclass(frozen=True)
class SubscribeMessage:
    """One subscribe message (WECHAT.md §3); ``data`` maps template keys to plain values."""

    openid: str
    template_id: str
    data: dict[str, str]
    page: str = ""
    miniprogram_state: str = "formal"
    lang: str = "zh_CN"


class MessageRejected(Exception):
    """WeChat will never deliver this one message: do not retry it.

    ``reason`` is one of ``refused`` (the user refused or unsubscribed), ``invalid_recipient``,
    ``invalid_template``, ``invalid_data`` or ``invalid_page``; ``errcode`` is WeChat's number.
    Transient trouble is not a rejection: it raises ``UpstreamError`` or ``RateLimited``.
    """

    def __init__(self, reason: str, errcode: int, errmsg: str = ""):
        self.reason = reason
        self.errcode = errcode
        self.errmsg = errmsg
        super().__init__(f"{reason} (errcode {errcode}){': ' + errmsg if errmsg else ''}")


# The most characters WeChat accepts per value type, the key without its digits (WECHAT.md §3).
# ``name`` allows 10 Han or 20 letters; 10 characters of any kind is the simple safe bound.
VALUE_LIMITS = {
    "thing": 20,
    "number": 32,
    "letter": 32,
    "symbol": 5,
    "character_string": 32,
    "phone_number": 17,
    "car_number": 8,
    "name": 10,
    "phrase": 5,
}
ELLIPSIS = "…"
_DIGITS = "0123456789"


def fit_subscribe_value(key: str, value: str) -> str:
    """``value`` made to fit the limits of ``key``'s type, rather than WeChat rejecting it (47003).

    Newlines become spaces (WeChat allows none); a too-long ``thing`` ends in "…" so the reader
    sees it was cut, other types are cut plainly since an ellipsis is not a valid digit, letter, …
    """
    value = value.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    kind = key.rstrip(_DIGITS)
    limit = VALUE_LIMITS.get(kind)
    if limit is None or len(value) <= limit:
        return value
    if kind == "thing":
        return value[: limit - 1] + ELLIPSIS
    return value[:limit]


def fit_subscribe_data(values: dict[str, str]) -> dict[str, str]:
    return {key: fit_subscribe_value(key, value) for key, value in values.items()}


def build_subscribe_data(values: dict[str, str]) -> dict[str, dict[str, str]]:
    """WeChat's ``data`` shape, ``{"thing1": {"value": "…"}}``, with every value fitted."""
    return {key: {"value": fit_subscribe_value(key, value)} for key, value in values.items()}


def check_subscribe_message(message: SubscribeMessage) -> None:
    """What both clients reject before sending: WeChat would answer these errcodes anyway."""
    if not message.openid:
        raise MessageRejected("invalid_recipient", 40003, "touser is empty")
    if not message.template_id:
        raise MessageRejected("invalid_template", 40037, "template_id is empty")


# A scene as the unlimited-code API takes it (WECHAT.md §4).
SCENE_PUNCTUATION = "!#$&'()*+,/:;=?@-._~"
SCENE = re.compile(r"^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]{1,32}$")


@dataclass(frozen=True)
class UnlimitedCode:
    """One unlimited mini-program code (WECHAT.md §4): ``scene`` ≤ 32 visible characters."""

    scene: str
    page: str = ""
    width: int = 430
    check_path: bool = True
    env_version: str = "release"

    def __post_init__(self):
        if not SCENE.match(self.scene):
            raise ValueError(f"a scene is 1–32 of digits, letters and {SCENE_PUNCTUATION}: {self.scene!r}")
        if self.page.startswith("/") or "?" in self.page:
            raise ValueError(f"a code's page has no leading / and no query: {self.page!r}")
        if not 280 <= self.width <= 1280:
            raise ValueError(f"width is 280–1280: {self.width}")
        if self.env_version not in ("release", "trial", "develop"):
            raise ValueError(f"env_version is release, trial or develop: {self.env_version!r}")

    def as_body(self) -> dict:
        body = {"scene": self.scene, "width": self.width, "check_path": self.check_path}
        if self.page:
            body["page"] = self.page
        if self.env_version != "release":
            body["env_version"] = self.env_version
        return body


class MiniProgramClient(Protocol):
    appid: str

    def code_to_session(self, code: str) -> CodeSession: ...

    def get_unlimited_code(self, code: UnlimitedCode) -> bytes:
        """The PNG of a mini-program code that opens ``code.page`` with ``code.scene``."""
        ...

    def send_subscribe_message(self, message: SubscribeMessage) -> None:
        """Send one subscribe message; ``MessageRejected`` if it can never be delivered."""
        ...
