"""WeChat Pay API v3 (../shared/WECHAT.md §6) and its sandbox, against a fake WeChat Pay: no network.

The helpers here sign, verify and encrypt with ``cryptography`` directly rather than through
``commerce.payments.protocol``, so they check the protocol instead of repeating its mistakes.
"""

import base64
import json
import os
import re
import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from django.core.exceptions import ImproperlyConfigured

from commerce.payments import (
    InvalidNotification,
    Notification,
    PrepayRequest,
    RefundRequest,
    RefundResult,
    SandboxPayProvider,
    WeChatPayProvider,
    payment_provider,
)
from commerce.payments import sandbox as sandbox_module
from commerce.payments.protocol import authorization
from commerce.payments.sandbox import SandboxKeys
from tenants.errors import UpstreamError

API = "https://api.mch.weixin.qq.com"
MCHID = "1230000109"
MERCHANT_SERIAL = "444F4864EA9B34415AA6AC5DA1C05D2C2A2E3A42"
CERT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
PUBLIC_KEY_ID = "PUB_KEY_ID_0112345678202501010000000000000001"
APIV3_KEY = b"0123456789abcdef0123456789ABCDEF"
NOTIFY_URL = "https://siyu.example.com/api/v1/payments/wechatpay/notify"
APPID = "wxd678efh567hg6787"
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
NOW = datetime(2025, 6, 8, 2, 34, 56, tzinfo=UTC)
TIMESTAMP = str(int(NOW.timestamp()))


def clock():
    return NOW


# --- keys and an independent implementation of WeChat Pay's side -------------------------------------
@pytest.fixture(scope="module")
def keys():
    """Three 2048-bit keys, made once: the merchant's, a platform certificate's, a WeChat Pay public key."""
    merchant, platform, public = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3))
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(platform.public_key())
        .serial_number(int(CERT_SERIAL, 16))
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .sign(platform, hashes.SHA256())
    )
    return {
        "merchant": merchant,
        "platform": platform,
        "public": public,
        "certificate_pem": certificate.public_bytes(serialization.Encoding.PEM),
        "public_key_pem": public.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    }


def pem(private_key) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def rsa_sign(private_key, message: bytes) -> str:
    return base64.b64encode(private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def assert_signed(public_key, message: bytes, signature: str) -> None:
    public_key.verify(base64.b64decode(signature), message, padding.PKCS1v15(), hashes.SHA256())  # raises if not


def signature_headers(private_key, serial: str, body: bytes, *, timestamp: str = TIMESTAMP) -> dict:
    nonce = "593BEC0C930BF1AFEB40B4A08C8FB242"
    return {
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": rsa_sign(private_key, f"{timestamp}\n{nonce}\n".encode() + body + b"\n"),
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }


TRANSACTION = {
    "appid": APPID,
    "mchid": MCHID,
    "out_trade_no": "SY20250608000001",
    "transaction_id": "4200000000202506081234567890",
    "trade_type": "JSAPI",
    "trade_state": "SUCCESS",
    "trade_state_desc": "支付成功",
    "bank_type": "CMC",
    "attach": "",
    "success_time": "2025-06-08T10:34:50+08:00",
    "payer": {"openid": OPENID},
    "amount": {"total": 9900, "payer_total": 9900, "currency": "CNY", "payer_currency": "CNY"},
}
REFUND = {
    "mchid": MCHID,
    "out_trade_no": "SY20250608000001",
    "transaction_id": "4200000000202506081234567890",
    "out_refund_no": "RF20250608000001",
    "refund_id": "50000000382019052709732678859",
    "refund_status": "SUCCESS",
    "success_time": "2025-06-08T11:00:00+08:00",
    "user_received_account": "招商银行信用卡0403",
    "amount": {"total": 9900, "refund": 3300, "payer_total": 9900, "payer_refund": 3300},
}


def notification(
    private_key,
    serial,
    resource=TRANSACTION,
    *,
    event_type="TRANSACTION.SUCCESS",
    original_type="transaction",
    timestamp=TIMESTAMP,
    apiv3_key=APIV3_KEY,
    encrypted_with_aad="transaction",
):
    """What WeChat Pay POSTs: headers and body, the resource AES-256-GCM encrypted."""
    nonce = "fdasflkja484"
    ciphertext = AESGCM(apiv3_key).encrypt(nonce.encode(), json.dumps(resource).encode(), encrypted_with_aad.encode())
    body = json.dumps(
        {
            "id": "EV-2018022511223320873",
            "create_time": "2025-06-08T10:34:56+08:00",
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": "支付成功",
            "resource": {
                "original_type": original_type,
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(ciphertext).decode(),
                "associated_data": "transaction",
                "nonce": nonce,
            },
        },
        ensure_ascii=False,
    ).encode()
    return signature_headers(private_key, serial, body, timestamp=timestamp), body


# --- a fake WeChat Pay -----------------------------------------------------------------------------
class FakeWeChatPay:
    """Answers the queued answers in order and records every request; running out fails the test."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert self.answers, f"unexpected request {request.method} {request.url}"
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def signed(private_key, serial, payload, *, status=200, tamper=False) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {**signature_headers(private_key, serial, body), "content-type": "application/json"}
    return httpx.Response(status, content=body + b" " if tamper else body, headers=headers)


def make_provider(keys, *answers, verifying_keys=None):
    fake = FakeWeChatPay(*answers)
    provider = WeChatPayProvider(
        mchid=MCHID,
        merchant_serial_no=MERCHANT_SERIAL,
        merchant_private_key=pem(keys["merchant"]),
        apiv3_key=APIV3_KEY,
        verifying_keys=verifying_keys or {CERT_SERIAL: keys["certificate_pem"]},
        notify_url=NOTIFY_URL,
        http=httpx.Client(base_url=API, transport=httpx.MockTransport(fake)),
        clock=clock,
    )
    return provider, fake


def both_modes(keys):
    return {CERT_SERIAL: keys["certificate_pem"], PUBLIC_KEY_ID: keys["public_key_pem"]}


def parse_authorization(header: str) -> dict:
    schema, _, items = header.partition(" ")
    assert schema == "WECHATPAY2-SHA256-RSA2048"
    return dict(re.findall(r'(\w+)="([^"]*)"', items))


def assert_request_signed(keys, request: httpx.Request) -> dict:
    """The Authorization header signs METHOD\\nURL\\nTIMESTAMP\\nNONCE\\nBODY\\n of what was sent."""
    auth = parse_authorization(request.headers["Authorization"])
    assert (auth["mchid"], auth["serial_no"], auth["timestamp"]) == (MCHID, MERCHANT_SERIAL, TIMESTAMP)
    message = f"{request.method}\n{request.url.raw_path.decode()}\n{auth['timestamp']}\n{auth['nonce_str']}\n"
    assert_signed(keys["merchant"].public_key(), message.encode() + request.content + b"\n", auth["signature"])
    return auth


def prepay_request(**fields) -> PrepayRequest:
    values = {
        "appid": APPID,
        "out_trade_no": "SY20250608000001",
        "description": "Silk scarf ×1",
        "amount": 9900,
        "payer_openid": OPENID,
        "expires_at": NOW + timedelta(minutes=15),
        **fields,
    }
    return PrepayRequest(**values)


# --- request signatures ----------------------------------------------------------------------------
def test_authorization_signs_the_exact_message_of_a_get_with_query_and_empty_body(keys):
    header = authorization(
        mchid=MCHID,
        serial_no=MERCHANT_SERIAL,
        private_key=keys["merchant"],
        method="GET",
        url="/v3/refund/domestic/refunds/RF1?sub_mchid=1900000109",
        body=b"",
        timestamp=1554208460,
        nonce="593BEC0C930BF1AFEB40B4A08C8FB242",
    )

    auth = parse_authorization(header)
    assert auth.keys() == {"mchid", "nonce_str", "signature", "timestamp", "serial_no"}
    assert (auth["mchid"], auth["serial_no"], auth["timestamp"], auth["nonce_str"]) == (
        MCHID,
        MERCHANT_SERIAL,
        "1554208460",
        "593BEC0C930BF1AFEB40B4A08C8FB242",
    )
    expected = (
        b"GET\n/v3/refund/domestic/refunds/RF1?sub_mchid=1900000109\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n"
    )
    assert_signed(keys["merchant"].public_key(), expected, auth["signature"])


# --- prepay ----------------------------------------------------------------------------------------
def test_prepay_sends_a_signed_jsapi_request_and_answers_signed_pay_params(keys):
    provider, fake = make_provider(keys, signed(keys["platform"], CERT_SERIAL, {"prepay_id": "wx2014102720093955"}))

    result = provider.prepay(prepay_request())

    [request] = fake.requests
    assert (request.method, str(request.url)) == ("POST", f"{API}/v3/pay/transactions/jsapi")
    assert request.headers["content-type"] == "application/json"
    assert "wechatpay-serial" not in request.headers  # certificate mode: WeChat Pay picks the certificate
    assert json.loads(request.content) == {
        "appid": APPID,
        "mchid": MCHID,
        "description": "Silk scarf ×1",
        "out_trade_no": "SY20250608000001",
        "time_expire": "2025-06-08T10:49:56+08:00",
        "notify_url": NOTIFY_URL,
        "amount": {"total": 9900, "currency": "CNY"},
        "payer": {"openid": OPENID},
    }
    assert "×".encode() in request.content  # UTF-8 as is, and the signature covers those bytes
    assert_request_signed(keys, request)

    assert result.prepay_id == "wx2014102720093955"
    params = result.params
    assert params.keys() == {"timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert (params["timeStamp"], params["package"], params["signType"]) == (
        TIMESTAMP,
        "prepay_id=wx2014102720093955",
        "RSA",
    )
    message = f"{APPID}\n{TIMESTAMP}\n{params['nonceStr']}\nprepay_id=wx2014102720093955\n".encode()
    assert_signed(keys["merchant"].public_key(), message, params["paySign"])


def test_prepay_request_truncates_the_description_and_refuses_bad_values():
    assert len(prepay_request(description="丝" * 200).description) == 127
    for bad in (
        {"out_trade_no": "SY1"},
        {"out_trade_no": "SY 2025060800"},
        {"amount": 0},
        {"expires_at": datetime(2025, 6, 8, 10, 0)},
    ):
        with pytest.raises(ValueError):
            prepay_request(**bad)


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(lambda k: signed(k["platform"], CERT_SERIAL, {"prepay_id": "wx1"}, tamper=True), id="tampered"),
        pytest.param(lambda k: signed(k["public"], CERT_SERIAL, {"prepay_id": "wx1"}), id="wrong-key"),
        pytest.param(lambda k: signed(k["platform"], "0123ABCD", {"prepay_id": "wx1"}), id="unknown-serial"),
        pytest.param(lambda k: httpx.Response(200, json={"prepay_id": "wx1"}), id="unsigned"),
    ],
)
def test_an_answer_that_fails_verification_is_payment_unverified(keys, answer):
    provider, _ = make_provider(keys, answer(keys))

    with pytest.raises(UpstreamError) as caught:
        provider.prepay(prepay_request())

    assert caught.value.code == "payment_unverified"


def test_public_key_mode_names_its_key_so_answers_are_signed_with_it(keys):
    answer = signed(keys["public"], PUBLIC_KEY_ID, {"prepay_id": "wx1"})
    provider, fake = make_provider(keys, answer, verifying_keys=both_modes(keys))

    assert provider.prepay(prepay_request()).prepay_id == "wx1"
    assert fake.requests[0].headers["Wechatpay-Serial"] == PUBLIC_KEY_ID


# --- refund and close ------------------------------------------------------------------------------
def test_refund_sends_the_documented_body_and_answers_the_status(keys):
    answer = {"refund_id": "50000000382019052709732678859", "out_refund_no": "RF1", "status": "PROCESSING"}
    provider, fake = make_provider(keys, signed(keys["platform"], CERT_SERIAL, answer))

    result = provider.refund(RefundRequest("SY20250608000001", "RF1", amount=3300, total=9900, reason="size"))

    assert result == RefundResult(status="PROCESSING", refund_id="50000000382019052709732678859")
    [request] = fake.requests
    assert (request.method, request.url.path) == ("POST", "/v3/refund/domestic/refunds")
    assert json.loads(request.content) == {
        "out_trade_no": "SY20250608000001",
        "out_refund_no": "RF1",
        "reason": "size",
        "notify_url": NOTIFY_URL,
        "amount": {"refund": 3300, "total": 9900, "currency": "CNY"},
    }
    assert_request_signed(keys, request)


def test_refund_request_refuses_more_than_the_total():
    with pytest.raises(ValueError):
        RefundRequest("SY20250608000001", "RF1", amount=9901, total=9900)


def test_close_posts_the_mchid_to_the_encoded_path_and_accepts_204(keys):
    provider, fake = make_provider(keys, httpx.Response(204))

    assert provider.close("SY2025|06*08") is None

    [request] = fake.requests
    assert request.url.raw_path == b"/v3/pay/transactions/out-trade-no/SY2025%7C06%2A08/close"
    assert json.loads(request.content) == {"mchid": MCHID}
    assert_request_signed(keys, request)


# --- errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("answer", "code", "wechat_code"),
    [
        (
            httpx.Response(400, json={"code": "PARAM_ERROR", "message": "appid和openid不匹配"}),
            "payment_rejected",
            "PARAM_ERROR",
        ),
        (httpx.Response(401, json={"code": "SIGN_ERROR", "message": "签名错误"}), "payment_rejected", "SIGN_ERROR"),
        (httpx.Response(404, text="not found"), "payment_rejected", "HTTP_404"),
        (httpx.Response(500, json={"code": "SYSTEM_ERROR", "message": "系统错误"}), "payment_unavailable", None),
        (httpx.Response(503, text="busy"), "payment_unavailable", None),
        (httpx.ConnectError("refused"), "payment_unavailable", None),
        (httpx.ReadTimeout("slow"), "payment_unavailable", None),
    ],
)
def test_wechat_pay_failures_become_domain_errors(keys, answer, code, wechat_code):
    provider, _ = make_provider(keys, answer)

    with pytest.raises(UpstreamError) as caught:
        provider.refund(RefundRequest("SY20250608000001", "RF1", amount=100, total=9900))

    assert caught.value.code == code
    if wechat_code:
        assert caught.value.fields == {"code": wechat_code}
        assert wechat_code in caught.value.message


# --- notifications ---------------------------------------------------------------------------------
def test_a_payment_notification_is_verified_and_decrypted_into_all_fields(keys):
    provider, _ = make_provider(keys)
    headers, body = notification(keys["platform"], CERT_SERIAL)

    parsed = provider.parse_notification({name.lower(): value for name, value in headers.items()}, body)

    assert parsed == Notification(
        event_type="TRANSACTION.SUCCESS",
        out_trade_no="SY20250608000001",
        transaction_id="4200000000202506081234567890",
        trade_state="SUCCESS",
        amount_total=9900,
        payer_openid=OPENID,
        success_time=datetime(2025, 6, 8, 2, 34, 50, tzinfo=UTC),
        appid=APPID,
        mchid=MCHID,
    )


def test_a_refund_notification_is_parsed(keys):
    provider, _ = make_provider(keys)
    headers, body = notification(
        keys["platform"], CERT_SERIAL, REFUND, event_type="REFUND.SUCCESS", original_type="refund"
    )

    parsed = provider.parse_notification(headers, body)

    assert parsed == Notification(
        event_type="REFUND.SUCCESS",
        out_trade_no="SY20250608000001",
        transaction_id="4200000000202506081234567890",
        amount_total=9900,
        success_time=datetime(2025, 6, 8, 3, 0, tzinfo=UTC),
        out_refund_no="RF20250608000001",
        refund_id="50000000382019052709732678859",
        refund_status="SUCCESS",
        refund_amount=3300,
        mchid=MCHID,
    )


@pytest.mark.parametrize(
    ("signer", "serial"),
    [("platform", CERT_SERIAL), ("platform", CERT_SERIAL.lower()), ("public", PUBLIC_KEY_ID)],
    ids=["certificate", "certificate-lowercase-serial", "public-key"],
)
def test_both_verifying_modes_are_accepted_by_serial(keys, signer, serial):
    provider, _ = make_provider(keys, verifying_keys=both_modes(keys))

    parsed = provider.parse_notification(*notification(keys[signer], serial))

    assert parsed.out_trade_no == "SY20250608000001"


def test_a_timestamp_just_under_five_minutes_away_is_accepted(keys):
    provider, _ = make_provider(keys)
    timestamp = str(int((NOW - timedelta(minutes=4, seconds=59)).timestamp()))

    assert provider.parse_notification(*notification(keys["platform"], CERT_SERIAL, timestamp=timestamp))


def _tamper_body(headers, body):
    return headers, body.replace(b'"summary"', b'"summary" ')


def _tamper_ciphertext(keys):
    headers, body = notification(keys["platform"], CERT_SERIAL)
    envelope = json.loads(body)
    raw = bytearray(base64.b64decode(envelope["resource"]["ciphertext"]))
    raw[0] ^= 1
    envelope["resource"]["ciphertext"] = base64.b64encode(raw).decode()
    body = json.dumps(envelope).encode()
    return signature_headers(keys["platform"], CERT_SERIAL, body), body  # signed after tampering: only AES catches it


def _probe(keys):
    headers, body = notification(keys["platform"], CERT_SERIAL)
    return {**headers, "Wechatpay-Signature": "WECHATPAY/SIGNTEST/" + headers["Wechatpay-Signature"]}, body


def _without(name):
    def make(keys):
        headers, body = notification(keys["platform"], CERT_SERIAL)
        return {key: value for key, value in headers.items() if key != name}, body

    return make


def _minutes(minutes):
    return str(int((NOW + timedelta(minutes=minutes)).timestamp()))


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        pytest.param(lambda k: notification(k["public"], CERT_SERIAL), "bad signature", id="bad-signature"),
        pytest.param(lambda k: notification(k["platform"], "7A1B2C3D4E5F"), "unknown", id="unknown-serial"),
        pytest.param(
            lambda k: notification(k["platform"], CERT_SERIAL, timestamp=_minutes(-6)), "5 minutes", id="6-min-old"
        ),
        pytest.param(
            lambda k: notification(k["platform"], CERT_SERIAL, timestamp=_minutes(6)), "5 minutes", id="6-min-ahead"
        ),
        pytest.param(
            lambda k: notification(k["platform"], CERT_SERIAL, timestamp="soon"), "bad timestamp", id="bad-timestamp"
        ),
        pytest.param(
            lambda k: _tamper_body(*notification(k["platform"], CERT_SERIAL)), "bad signature", id="tampered-body"
        ),
        pytest.param(_tamper_ciphertext, "decrypt", id="tampered-ciphertext"),
        pytest.param(
            lambda k: notification(k["platform"], CERT_SERIAL, encrypted_with_aad="refund"),
            "decrypt",
            id="wrong-associated-data",
        ),
        pytest.param(
            lambda k: notification(k["platform"], CERT_SERIAL, apiv3_key=b"X" * 32), "decrypt", id="other-apiv3-key"
        ),
        pytest.param(_probe, "probe", id="signtest-probe"),
        pytest.param(_without("Wechatpay-Signature"), "missing", id="no-signature"),
        pytest.param(_without("Wechatpay-Serial"), "missing", id="no-serial"),
        pytest.param(
            lambda k: ({**notification(k["platform"], CERT_SERIAL)[0], "Wechatpay-Signature-Type": "SM2"}, b"{}"),
            "signature type",
            id="other-signature-type",
        ),
    ],
)
def test_untrustworthy_notifications_are_refused(keys, make, reason):
    provider, _ = make_provider(keys)

    with pytest.raises(InvalidNotification, match=reason):
        provider.parse_notification(*make(keys))


# --- sandbox ---------------------------------------------------------------------------------------
@pytest.fixture
def sandbox(keys):
    return SandboxPayProvider(SandboxKeys(keys["merchant"], keys["platform"], APIV3_KEY), clock=clock)


def test_sandbox_prepay_answers_params_signed_with_the_sandbox_merchant_key(keys, sandbox):
    result = sandbox.prepay(prepay_request())

    assert result.prepay_id == "sbx_prepay_SY20250608000001"
    params = result.params
    assert (params["package"], params["signType"], params["timeStamp"]) == (
        "prepay_id=sbx_prepay_SY20250608000001",
        "RSA",
        TIMESTAMP,
    )
    message = f"{APPID}\n{TIMESTAMP}\n{params['nonceStr']}\n{params['package']}\n".encode()
    assert_signed(sandbox.keys.merchant_private_key.public_key(), message, params["paySign"])
    assert sandbox.trades["SY20250608000001"].amount == 9900


def test_sandbox_payment_notification_is_what_wechat_pay_posts_and_parses(keys, sandbox):
    headers, body = sandbox.payment_notification("SY20250608000001", 9900, OPENID, APPID)

    assert headers["Wechatpay-Serial"] == "SANDBOX_PLATFORM"
    envelope = json.loads(body)
    assert (envelope["event_type"], envelope["resource"]["algorithm"]) == ("TRANSACTION.SUCCESS", "AEAD_AES_256_GCM")
    assert OPENID.encode() not in body  # encrypted
    message = f"{headers['Wechatpay-Timestamp']}\n{headers['Wechatpay-Nonce']}\n".encode() + body + b"\n"
    assert_signed(keys["platform"].public_key(), message, headers["Wechatpay-Signature"])

    parsed = sandbox.parse_notification(headers, body)

    assert (parsed.event_type, parsed.out_trade_no, parsed.trade_state) == (
        "TRANSACTION.SUCCESS",
        "SY20250608000001",
        "SUCCESS",
    )
    assert (parsed.amount_total, parsed.payer_openid, parsed.appid) == (9900, OPENID, APPID)
    assert (parsed.transaction_id, parsed.success_time) == ("sbx_tx_SY20250608000001", NOW)


def test_sandbox_refund_answers_success_and_its_notification_parses(sandbox):
    result = sandbox.refund(RefundRequest("SY20250608000001", "RF1", amount=3300, total=9900))
    assert result == RefundResult(status="SUCCESS", refund_id="sbx_refund_RF1")

    parsed = sandbox.parse_notification(
        *sandbox.refund_notification("SY20250608000001", "RF1", 3300, 9900, status="ABNORMAL")
    )

    assert (parsed.event_type, parsed.refund_status, parsed.refund_id) == (
        "REFUND.ABNORMAL",
        "ABNORMAL",
        "sbx_refund_RF1",
    )
    assert (parsed.out_refund_no, parsed.refund_amount, parsed.amount_total) == ("RF1", 3300, 9900)
    assert sandbox.close("SY20250608000001") is None


def test_sandbox_probe_and_stale_notifications_are_refused(keys, sandbox):
    with pytest.raises(InvalidNotification):
        sandbox.parse_notification(*sandbox.probe_notification())

    later = SandboxPayProvider(sandbox.keys, clock=lambda: NOW + timedelta(minutes=5))
    with pytest.raises(InvalidNotification):
        later.parse_notification(*sandbox.payment_notification("SY20250608000001", 9900, OPENID, APPID))


def test_sandbox_keys_are_made_once_per_directory_and_shared(tmp_path):
    first = SandboxPayProvider(key_dir=tmp_path / "sandbox", clock=clock)
    second = SandboxPayProvider(key_dir=tmp_path / "sandbox", clock=clock)

    assert [path.name for path in (tmp_path / "sandbox").iterdir()] == ["wechatpay-keys.json"]
    assert (tmp_path / "sandbox" / "wechatpay-keys.json").stat().st_mode & 0o777 == 0o600
    assert first.keys.apiv3_key == second.keys.apiv3_key and len(first.keys.apiv3_key) == 32
    assert first.keys.merchant_private_key.key_size == 2048
    assert second.parse_notification(*first.payment_notification("SY20250608000001", 9900, OPENID, APPID))


def test_sandbox_processes_starting_at_once_end_up_with_one_key_set(keys, tmp_path, monkeypatch):
    """Every racer generates its own set before any writes; all must load the same one."""
    racers = 4
    everyone_generated = threading.Barrier(racers)

    def generate():
        everyone_generated.wait(timeout=10)
        return SandboxKeys(keys["merchant"], keys["platform"], os.urandom(16).hex().encode())

    monkeypatch.setattr(SandboxKeys, "generate", staticmethod(generate))
    loaded = []
    threads = [
        threading.Thread(target=lambda: loaded.append(SandboxKeys.load_or_create(tmp_path))) for _ in range(racers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(loaded) == racers and len({keys.apiv3_key for keys in loaded}) == 1
    assert [path.name for path in tmp_path.iterdir()] == [sandbox_module.KEY_FILE]


# --- payment_provider() ----------------------------------------------------------------------------
def test_the_sandbox_backend_is_one_provider_with_keys_under_var_dir(settings, tmp_path):
    settings.WECHAT_BACKEND = "sandbox"
    settings.VAR_DIR = tmp_path

    provider = payment_provider()

    assert isinstance(provider, SandboxPayProvider) and provider.name == "sandbox"
    assert payment_provider() is provider
    assert (tmp_path / "sandbox" / sandbox_module.KEY_FILE).exists()


@pytest.fixture
def wechatpay_settings(settings, keys, tmp_path):
    (tmp_path / "apiclient_key.pem").write_bytes(pem(keys["merchant"]))
    (tmp_path / "wechatpay_cert.pem").write_bytes(keys["certificate_pem"])
    (tmp_path / "pub_key.pem").write_bytes(keys["public_key_pem"])
    settings.WECHAT_BACKEND = "wechat"
    settings.WECHATPAY_MCHID = MCHID
    settings.WECHATPAY_MERCHANT_SERIAL_NO = MERCHANT_SERIAL
    settings.WECHATPAY_PRIVATE_KEY_PATH = str(tmp_path / "apiclient_key.pem")
    settings.WECHATPAY_APIV3_KEY = APIV3_KEY.decode()
    settings.WECHATPAY_PLATFORM_CERTS = [str(tmp_path / "wechatpay_cert.pem")]
    settings.WECHATPAY_PUBLIC_KEY_PATH = str(tmp_path / "pub_key.pem")
    settings.WECHATPAY_PUBLIC_KEY_ID = PUBLIC_KEY_ID
    settings.WECHATPAY_NOTIFY_URL = NOTIFY_URL
    settings.WECHATPAY_API_BASE = ""
    return settings


def test_the_wechat_backend_builds_the_real_provider_from_settings(keys, wechatpay_settings):
    provider = payment_provider()

    assert isinstance(provider, WeChatPayProvider) and provider.name == "wechatpay"
    assert payment_provider() is provider
    assert (provider.mchid, provider.notify_url, provider.answer_serial) == (MCHID, NOTIFY_URL, PUBLIC_KEY_ID)
    assert str(provider.http.base_url).rstrip("/") == API
    for signer, serial in (("platform", CERT_SERIAL), ("public", PUBLIC_KEY_ID)):
        headers, body = notification(keys[signer], serial, timestamp=str(int(datetime.now(UTC).timestamp())))
        assert provider.parse_notification(headers, body).out_trade_no == "SY20250608000001"


def test_the_wechat_backend_names_every_missing_setting(settings):
    settings.WECHAT_BACKEND = "wechat"
    for name in ("MCHID", "MERCHANT_SERIAL_NO", "PRIVATE_KEY_PATH", "APIV3_KEY", "NOTIFY_URL", "PUBLIC_KEY_PATH"):
        setattr(settings, f"WECHATPAY_{name}", "")
    settings.WECHATPAY_PLATFORM_CERTS = []
    settings.WECHATPAY_PUBLIC_KEY_ID = PUBLIC_KEY_ID

    with pytest.raises(ImproperlyConfigured) as caught:
        payment_provider()

    for name in ("MCHID", "MERCHANT_SERIAL_NO", "PRIVATE_KEY_PATH", "APIV3_KEY", "NOTIFY_URL", "PUBLIC_KEY_PATH"):
        assert f"WECHATPAY_{name}" in str(caught.value)


def test_the_wechat_backend_needs_a_verifying_key_and_readable_files(wechatpay_settings, tmp_path):
    wechatpay_settings.WECHATPAY_PLATFORM_CERTS = []
    wechatpay_settings.WECHATPAY_PUBLIC_KEY_PATH = ""
    wechatpay_settings.WECHATPAY_PUBLIC_KEY_ID = ""
    with pytest.raises(ImproperlyConfigured, match="WECHATPAY_PUBLIC_KEY_PATH"):
        payment_provider()

    wechatpay_settings.WECHATPAY_PLATFORM_CERTS = f"{tmp_path / 'wechatpay_cert.pem'}, {tmp_path / 'missing.pem'}"
    with pytest.raises(ImproperlyConfigured, match="WECHATPAY_PLATFORM_CERTS.*missing.pem"):
        payment_provider()

    wechatpay_settings.WECHATPAY_PLATFORM_CERTS = str(tmp_path / "wechatpay_cert.pem")
    wechatpay_settings.WECHATPAY_APIV3_KEY = "too-short"
    with pytest.raises(ImproperlyConfigured, match="APIv3 key"):
        payment_provider()


def test_an_unknown_backend_is_improperly_configured(settings):
    settings.WECHAT_BACKEND = "alipay"

    with pytest.raises(ImproperlyConfigured, match="alipay"):
        payment_provider()
