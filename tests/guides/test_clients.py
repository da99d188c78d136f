"""The transfer clients (商家转账) and the unlimited mini-program code, offline."""

import json

import httpx
import pytest

from commerce.payments.transfers import (
    SandboxTransferClient,
    TransferRequest,
    WeChatPayTransferClient,
)
from tenants.errors import InvalidInput, UpstreamError
from tenants.wechat import UnlimitedCode
from tenants.wechat.sandbox import SandboxMiniProgramClient
from tests.commerce.test_payments import CERT_SERIAL, assert_request_signed, make_provider, signed
from tests.commerce.test_payments import keys as payment_keys
from tests.tenants.test_wechat_client import make_client, token

keys = payment_keys  # the payment tests' module-scoped RSA keys, as a fixture here

REQUEST = TransferRequest(
    appid="wxd678efh567hg6787", out_bill_no="S1T2506080001AB", openid="oGuide", amount=1234, remark="Acme 佣金"
)


def test_transfer_posts_a_signed_bill_and_believes_only_a_verified_answer(keys):
    answer = {
        "out_bill_no": REQUEST.out_bill_no,
        "transfer_bill_no": "1330000071100999991182020050700019480001",
        "state": "SUCCESS",
    }
    provider, fake = make_provider(keys, signed(keys["platform"], CERT_SERIAL, answer))
    result = WeChatPayTransferClient(provider).transfer(REQUEST)

    [request] = fake.requests
    assert (request.method, request.url.path) == ("POST", "/v3/fund-app/mch-transfer/transfer-bills")
    assert_request_signed(keys, request)
    body = json.loads(request.content)
    assert body == {
        "appid": REQUEST.appid,
        "out_bill_no": REQUEST.out_bill_no,
        "transfer_scene_id": "1000",
        "openid": "oGuide",
        "transfer_amount": 1234,
        "transfer_remark": "Acme 佣金",
        "transfer_scene_report_infos": [
            {"info_type": "活动名称", "info_content": "导购佣金"},
            {"info_type": "奖励说明", "info_content": "导购佣金结算"},
        ],
    }
    assert result.succeeded and result.transfer_bill_no.startswith("1330")


def test_a_tampered_answer_is_not_believed(keys):
    provider, _ = make_provider(keys, signed(keys["platform"], CERT_SERIAL, {"state": "SUCCESS"}, tamper=True))
    with pytest.raises(UpstreamError) as error:
        WeChatPayTransferClient(provider).transfer(REQUEST)
    assert error.value.code == "payment_unverified"


def test_a_refusal_is_a_failed_transfer_and_trouble_is_an_error(keys):
    refused = httpx.Response(403, json={"code": "NOT_ENOUGH", "message": "balance"})
    provider, _ = make_provider(keys, refused, httpx.Response(500))
    client = WeChatPayTransferClient(provider)
    result = client.transfer(REQUEST)
    assert result.failed and result.fail_reason == "NOT_ENOUGH"
    with pytest.raises(UpstreamError) as error:
        client.transfer(REQUEST)
    assert error.value.code == "payment_unavailable"


def test_query_asks_by_out_bill_no(keys):
    answer = {"out_bill_no": REQUEST.out_bill_no, "state": "FAIL", "fail_reason": "PAYEE_ACCOUNT_ABNORMAL"}
    provider, fake = make_provider(keys, signed(keys["platform"], CERT_SERIAL, answer))
    result = WeChatPayTransferClient(provider).query(REQUEST.out_bill_no)
    assert fake.requests[0].url.path == f"/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{REQUEST.out_bill_no}"
    assert result.failed and result.fail_reason == "PAYEE_ACCOUNT_ABNORMAL"


def test_transfer_requests_refuse_bad_values():
    with pytest.raises(ValueError):
        TransferRequest(appid="wx1", out_bill_no="bad-no!", openid="o", amount=1, remark="")
    with pytest.raises(ValueError):
        TransferRequest(appid="wx1", out_bill_no="S1", openid="o", amount=0, remark="")


def test_the_sandbox_is_idempotent_by_bill_number():
    SandboxTransferClient.reset()
    client = SandboxTransferClient()
    assert client.transfer(REQUEST) == client.transfer(REQUEST)
    assert len(SandboxTransferClient.bills) == 1 and client.query(REQUEST.out_bill_no).succeeded
    with pytest.raises(UpstreamError):
        client.query("UNKNOWN1")


# --- wxa/getwxacodeunlimit ---------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n image"


def test_the_real_client_posts_the_code_request_and_answers_the_image():
    image = httpx.Response(200, content=PNG, headers={"content-type": "image/png"})
    client, fake = make_client(token("T1"), image)
    assert client.get_unlimited_code(UnlimitedCode(scene="abc123", page="pages/room/index")) == PNG
    request = fake.requests[1]
    assert request.url.path == "/wxa/getwxacodeunlimit" and request.url.params["access_token"] == "T1"
    assert json.loads(request.content) == {
        "scene": "abc123",
        "page": "pages/room/index",
        "width": 430,
        "check_path": True,
    }


@pytest.mark.parametrize(
    "errcode, error_class, code", [(41030, InvalidInput, "invalid_page"), (45009, Exception, "wechat_rate_limited")]
)
def test_a_json_errcode_instead_of_an_image_is_an_error(errcode, error_class, code):
    client, _ = make_client(token("T1"), {"errcode": errcode, "errmsg": "nope"})
    with pytest.raises(error_class) as error:
        client.get_unlimited_code(UnlimitedCode(scene="abc123"))
    assert error.value.code == code


def test_a_stale_token_is_refetched_once_for_the_code():
    image = httpx.Response(200, content=PNG, headers={"content-type": "image/png"})
    client, fake = make_client(token("OLD"), {"errcode": 40001}, token("NEW"), image)
    assert client.get_unlimited_code(UnlimitedCode(scene="abc123")) == PNG
    assert fake.requests[-1].url.params["access_token"] == "NEW"


def test_the_sandbox_draws_a_png_locally_and_bad_scenes_are_refused():
    png = SandboxMiniProgramClient("wx1234567890").get_unlimited_code(UnlimitedCode(scene="Ab1-._~", width=280))
    assert png.startswith(b"\x89PNG")
    for bad in ("", "x" * 33, "中文", "a%b"):
        with pytest.raises(ValueError):
            UnlimitedCode(scene=bad)
    with pytest.raises(ValueError):
        UnlimitedCode(scene="ok", page="/pages/x")
