"""Error messages in the client's language (tenants.error_messages): English by default, Chinese
for a client that asks (``Accept-Language`` on the API, ``?lang=`` or the header on the room's
socket), with the error's fields filled in; the codes never change. Every code of the
mini-program's API and of the room's socket has a Chinese message, translated in locale/."""

import re
from pathlib import Path

import pytest
from django.utils import translation
from drf_spectacular.generators import SchemaGenerator

from conftest import assert_error
from tenants import error_messages
from tenants.error_messages import MESSAGES, localized, negotiated_language

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
CJK = re.compile(r"[\u4e00-\u9fff]")


def socket_error_codes() -> set[str]:
    """The codes of the ``error`` frames the room's socket sends: its own and the comment service's."""
    sources = [ROOT / "livestream" / "consumers.py", ROOT / "livestream" / "services" / "live.py"]
    found = set()
    for source in sources:
        text = source.read_text()
        found |= set(re.findall(r'self\.error\(\s*"([a-z_]+)"', text))
        found |= set(re.findall(r'(?:Conflict|InvalidInput|RateLimited)\(\s*"((?:comment|comments)_[a-z_]+)"', text))
        found |= set(re.findall(r'code="([a-z_]+)"', text))
    return found


def mini_program_codes() -> set[str]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    codes = set()
    for path, item in schema["paths"].items():
        if not path.startswith("/api/v1/mp/"):
            continue
        for operation in item.values():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    codes |= set(response["content"]["application/json"]["examples"])
    return codes


def test_every_code_a_viewer_meets_has_a_chinese_message():
    socket_codes = socket_error_codes()
    assert {"muted", "comment_rate_limited", "comment_blocked", "flooding", "login_required"} <= socket_codes
    api_codes = mini_program_codes()
    assert {"out_of_stock", "room_paused", "coupon_min_spend_not_met", "flash_sale_limit_reached"} <= api_codes
    # ``invalid`` keeps the field messages' own words (DRF's, translated by DRF).
    missing = sorted((api_codes | socket_codes) - set(MESSAGES) - {"invalid"})
    assert not missing, f"no message in tenants/error_messages.py for: {missing}"
    with translation.override("zh-hans"):
        untranslated = sorted(key for key, text in MESSAGES.items() if not CJK.search(str(text)))
    assert not untranslated, f"no Chinese in locale/zh_Hans for: {untranslated}"


def test_the_language_a_client_asks_for():
    assert negotiated_language(None) == negotiated_language("") == "en"
    assert negotiated_language("zh-Hans") == negotiated_language("zh-CN,zh;q=0.9,en;q=0.8") == "zh-hans"
    assert negotiated_language("en-US,en;q=0.9") == "en"
    assert negotiated_language("fr-FR, de;q=0.5") == "en"  # none we speak: the API's default
    assert negotiated_language("fr;q=0.9, zh;q=0.5") == "zh-hans"


def test_a_message_fills_in_the_errors_fields():
    assert localized("out_of_stock", "Coat is out of stock.", {"sku": 3}, "en") == "Coat is out of stock."
    assert localized("out_of_stock", "Coat is out of stock.", {"sku": 3}, "zh-hans") == "商品已售罄，库存不足。"
    assert (
        localized("flash_sale_limit_reached", "At most 2 per customer.", {"limit": 2}, "zh-hans") == "每人限购 2 件。"
    )
    spend = localized("coupon_min_spend_not_met", "…", {"min_spend": 29900, "eligible_amount": 100}, "zh-hans")
    assert spend == "该优惠券需满 ¥299.00 可用。"
    rule = localized("lottery_not_eligible", "Like the room to join.", {"rule": "liked"}, "zh-hans")
    assert rule == "为直播间点赞后即可参与。"
    assert localized("lottery_not_eligible", "?", {"rule": "someday"}, "zh-hans") == "你暂不满足本次抽奖的参与条件。"
    # A field the message names but the error lacks: the service's words rather than a broken text.
    assert localized("flash_sale_limit_reached", "At most 2 per customer.", {}, "zh-hans") == "At most 2 per customer."
    # A code with no entry: its message, translated where the catalogue has it.
    assert localized("no_such_code", "Not found.", {}, "zh-hans") == "内容不存在。"
    assert localized("no_such_code", "Something else.", {}, "zh-hans") == "Something else."
    assert (
        localized("out_of_stock", "Coat is out of stock.", {}, "") == "Coat is out of stock."
    )  # "": the API's default


def test_every_placeholder_names_a_field_its_code_sends():
    """The fields each message names, and those its services raise it with (read from the source)."""
    sources = "\n".join(p.read_text() for p in ROOT.glob("*/services*/**/*.py")) + "\n".join(
        p.read_text() for p in ROOT.glob("*/services.py")
    )
    for key, text in MESSAGES.items():
        names = set(re.findall(r"%\((\w+)\)s", str(text)))
        if not names:
            continue
        code = key.split(":")[0]
        raised = re.search(rf'"{code}",\s*\n?\s*f?"[^"]*",\s*\n?\s*fields=\{{([^}}]*)\}}', sources)
        assert raised, f"{code}: raised with no fields"
        sent = set(re.findall(r'"(\w+)":', raised.group(1)))
        sent |= {f"{name}_yuan" for name in sent if name in error_messages.MONEY_FIELDS}
        assert names <= sent, (code, names, sent)


def test_the_api_answers_in_the_language_asked_for(anon, brand):
    english = anon.post("/api/v1/mp/login", {"appid": "wxnobody0000000", "code": "x"})
    assert assert_error(english, 400, "unknown_appid")["message"] == "No brand uses this mini-program appid."

    chinese = anon.post("/api/v1/mp/login", {"appid": "wxnobody0000000", "code": "x"}, HTTP_ACCEPT_LANGUAGE="zh-Hans")
    assert assert_error(chinese, 400, "unknown_appid")["message"] == "该小程序尚未接入品牌。"
    assert "Accept-Language" in chinese["Vary"]

    # DRF's own field messages follow the language too; the fields' keys and the codes do not.
    missing = anon.post("/api/v1/mp/login", {}, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    error = assert_error(missing, 400, "invalid")
    assert set(error["fields"]) == {"appid", "code"} and CJK.search(error["fields"]["appid"][0])
    assert CJK.search(assert_error(anon.get("/api/v1/mp/rooms"), 401, "not_authenticated")["message"]) is None
    unauthenticated = anon.get("/api/v1/mp/rooms", HTTP_ACCEPT_LANGUAGE="zh-Hans")
    assert assert_error(unauthenticated, 401, "not_authenticated")["message"] == "请先登录。"
    assert assert_error(anon.get("/api/v1/mp/nothing", HTTP_ACCEPT_LANGUAGE="zh"), 404, "not_found")["message"] == (
        "内容不存在。"
    )
