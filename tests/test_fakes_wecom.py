"""The WeCom fakes must be faithful, or every test built on them proves nothing.

Three kinds of evidence:
* the independent crypto reproduces Tencent's published sample vectors;
* it interoperates both ways with wechatpy (the library the product uses);
* the fake API server answers in WeCom's wire format, including its failure
  modes, and wechatpy's own client is happy talking to it.
"""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.work import parse_message
from wechatpy.work.client import WeChatClient
from wechatpy.work.crypto import WeChatCrypto
from wechatpy.work.exceptions import InvalidCorpIdException

from tests.fakes import wecom_crypto
from tests.fakes.wecom_driver import CallbackDriver, parse_plain_xml
from tests.fakes.wecom_server import FakeWeCom, LoopbackServer

TOKEN = "callbackToken123"
CORP_ID = "ww0123456789abcdef"
SECRET = "app-secret-xyz"
AGENT_ID = 1000002
AES_KEY = wecom_crypto.make_aes_key()

# Tencent's sample (DOC 90968 / WXBizMsgCrypt samples): an independent oracle for our crypto.
OFFICIAL_TOKEN = "QDG6eK"
OFFICIAL_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
OFFICIAL_CORP = "wx5823bf96d3bd56c7"
OFFICIAL_MSG = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W"
    "/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+H"
    "MZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJ"
    "B3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3f"
    "VKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)
OFFICIAL_ECHOSTR = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="


def make_driver(base_url: str = "http://127.0.0.1:9") -> CallbackDriver:
    return CallbackDriver(base_url, token=TOKEN, aes_key=AES_KEY, corp_id=CORP_ID, agent_id=str(AGENT_ID))


def product_crypto() -> WeChatCrypto:
    """What the product does with wechatpy on its side of the wire."""
    return WeChatCrypto(TOKEN, AES_KEY, CORP_ID)


# ============================================================================ crypto


def test_official_vectors_signature_and_decrypt() -> None:
    sig = wecom_crypto.signature(OFFICIAL_TOKEN, "1409659813", "1372623149", OFFICIAL_MSG)
    assert sig == "477715d11cdb4164915debcba66cb864d751f3e6"
    msg, receive_id = wecom_crypto.decrypt(OFFICIAL_KEY, OFFICIAL_MSG)
    assert receive_id == OFFICIAL_CORP
    assert parse_plain_xml(msg)["Content"] == "hello"

    echo_sig = wecom_crypto.signature(OFFICIAL_TOKEN, "1409659589", "263014780", OFFICIAL_ECHOSTR)
    assert echo_sig == "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
    assert wecom_crypto.decrypt(OFFICIAL_KEY, OFFICIAL_ECHOSTR) == ("1616140317555161061", OFFICIAL_CORP)


@pytest.mark.parametrize("msg", ["", "a", "x" * 11, "x" * 12, "工单 #42：打印机坏了 ]]>", "y" * 3000])
@pytest.mark.parametrize("receive_id", [CORP_ID, ""])
def test_round_trip_pads_to_32_byte_blocks(msg: str, receive_id: str) -> None:
    encrypted = wecom_crypto.encrypt(AES_KEY, msg, receive_id)
    raw = base64.b64decode(encrypted)
    plain_len = 16 + 4 + len(msg.encode()) + len(receive_id.encode())
    assert len(raw) % 32 == 0
    assert len(raw) == plain_len + (32 - plain_len % 32)  # a full pad block when aligned
    assert wecom_crypto.decrypt(AES_KEY, encrypted) == (msg, receive_id)


def test_make_aes_key_is_valid_and_random() -> None:
    keys = {wecom_crypto.make_aes_key() for _ in range(20)}
    assert len(keys) == 20
    for key in keys:
        assert len(key) == 43 and "=" not in key
        assert len(base64.b64decode(key + "=")) == 32


def test_wrong_key_is_rejected() -> None:
    with pytest.raises(ValueError):
        wecom_crypto.decrypt("A" * 43, OFFICIAL_MSG)


# ============================================================================ wechatpy interop


def test_wechatpy_decrypts_driver_message() -> None:
    driver = make_driver()
    xml = driver.build_text("alice", "你好 ]]> <b>", msg_id=1234567890123456, create_time=1348831860)
    req = driver.sign_xml(xml)
    plain = product_crypto().decrypt_message(
        req.body, req.params["msg_signature"], req.params["timestamp"], req.params["nonce"]
    )
    assert plain == xml
    message = parse_message(plain)
    assert (message.type, message.content, message.source, message.target) == (
        "text",
        "你好 ]]> <b>",
        "alice",
        CORP_ID,
    )
    assert (message.id, message.agent, message.time) == (1234567890123456, AGENT_ID, 1348831860)


def test_wechatpy_accepts_driver_echostr() -> None:
    params, expected = make_driver().echostr_params()
    echoed = product_crypto().check_signature(
        params["msg_signature"], params["timestamp"], params["nonce"], params["echostr"]
    )
    assert echoed == expected


def test_driver_decrypts_wechatpy_passive_reply() -> None:
    reply = "<xml><ToUserName><![CDATA[alice]]></ToUserName><Content><![CDATA[收到]]></Content></xml>"
    encrypted_reply = product_crypto().encrypt_message(reply, "nonce123", "1409659813")
    assert make_driver().decrypt_reply(encrypted_reply) == reply


def test_wechatpy_rejects_wrong_corp_and_tampered_signature() -> None:
    driver = make_driver()
    xml = driver.build_text("alice", "hi")
    foreign = driver.sign_xml(xml, corp_id_override="wwSomeOtherCorp")
    with pytest.raises(InvalidCorpIdException):
        product_crypto().decrypt_message(
            foreign.body,
            foreign.params["msg_signature"],
            foreign.params["timestamp"],
            foreign.params["nonce"],
        )
    tampered = driver.sign_xml(xml, tamper_signature=True)
    with pytest.raises(InvalidSignatureException):
        product_crypto().decrypt_message(
            tampered.body,
            tampered.params["msg_signature"],
            tampered.params["timestamp"],
            tampered.params["nonce"],
        )


def test_wechatpy_parses_other_driver_payloads() -> None:
    driver = make_driver()
    assert parse_message(driver.build_image("bob", "MEDIA1")).media_id == "MEDIA1"
    assert parse_message(driver.build_event_click("bob", "MENU_KEY")).key == "MENU_KEY"
    card = parse_message(driver.build_template_card_event("bob", "claim", "task-1", "RC1"))
    # wechatpy has no class for this event; the product must read the raw fields.
    assert card._data["Event"] == "template_card_event"
    assert card._data["ResponseCode"] == "RC1"


# ============================================================================ driver over HTTP


class StubReceiver:
    """Minimal stand-in for the product's callback endpoint, built on wechatpy.

    ``script`` decides each POST's fate in order: an int is the HTTP status to
    answer, a float is seconds to stall before answering 200.
    """

    def __init__(self) -> None:
        self.crypto = product_crypto()
        self.received: list[str] = []
        self.script: list[int | float] = []
        self.app = Starlette(routes=[Route("/wecom/callback", self.handle, methods=["GET", "POST"])])

    async def handle(self, request: Request) -> Response:
        q = request.query_params
        try:
            if request.method == "GET":
                echo = self.crypto.check_signature(
                    q["msg_signature"], q["timestamp"], q["nonce"], q["echostr"]
                )
                return PlainTextResponse(echo)
            xml = self.crypto.decrypt_message(
                await request.body(), q["msg_signature"], q["timestamp"], q["nonce"]
            )
        except (InvalidSignatureException, InvalidCorpIdException):
            return PlainTextResponse("forbidden", status_code=403)
        self.received.append(xml)
        action = self.script.pop(0) if self.script else 200
        if isinstance(action, float):
            await asyncio.sleep(action)
            action = 200
        return Response(status_code=action)  # empty body: "ack now, answer later via message/send"

    def msg_ids(self) -> list[str]:
        return [parse_plain_xml(x)["MsgId"] for x in self.received]


@pytest.fixture(scope="module")
def _receiver_server() -> Iterator[tuple[StubReceiver, str]]:
    stub = StubReceiver()
    with LoopbackServer(stub.app) as server:
        yield stub, server.base_url


@pytest.fixture
def receiver(_receiver_server: tuple[StubReceiver, str]) -> tuple[StubReceiver, CallbackDriver]:
    stub, base_url = _receiver_server
    stub.received.clear()
    stub.script.clear()
    return stub, make_driver(base_url)


def test_verify_url_returns_exact_plaintext(receiver: tuple[StubReceiver, CallbackDriver]) -> None:
    _, driver = receiver
    started = time.monotonic()
    response, expected = driver.verify_url()
    assert time.monotonic() - started < 1.0
    assert response.status_code == 200 and response.text == expected
    bad, _ = driver.verify_url(tamper_signature=True)
    assert bad.status_code == 403


def test_post_text_reaches_receiver(receiver: tuple[StubReceiver, CallbackDriver]) -> None:
    stub, driver = receiver
    response = driver.post_text("alice", "打印机 ]]> 卡纸", msg_id=7, create_time=1348831860)
    assert response.status_code == 200
    assert response.request.headers["content-type"] == "text/xml"
    assert set(response.request.url.params) == {"msg_signature", "timestamp", "nonce"}
    [xml] = stub.received
    assert xml == driver.build_text("alice", "打印机 ]]> 卡纸", msg_id=7, create_time=1348831860)


def test_tampered_and_foreign_posts_are_rejected(receiver: tuple[StubReceiver, CallbackDriver]) -> None:
    stub, driver = receiver
    assert driver.post_text("alice", "x", tamper_signature=True).status_code == 403
    assert driver.post_text("alice", "x", corp_id_override="wwOther").status_code == 403
    assert stub.received == []


def test_deliver_redelivers_same_msgid_after_non_200(receiver: tuple[StubReceiver, CallbackDriver]) -> None:
    stub, driver = receiver
    stub.script[:] = [500, 503]
    results = driver.deliver(driver.build_text("alice", "hi", msg_id=99))
    assert [r.status_code for r in results if isinstance(r, httpx.Response)] == [500, 503, 200]
    assert stub.msg_ids() == ["99", "99", "99"]


def test_deliver_gives_up_after_three_deliveries(receiver: tuple[StubReceiver, CallbackDriver]) -> None:
    stub, driver = receiver
    stub.script[:] = [500, 500, 500, 500]
    results = driver.deliver(driver.build_text("alice", "hi"))
    assert len(results) == 3 and len(stub.received) == 3


def test_deliver_redelivers_after_timeout(receiver: tuple[StubReceiver, CallbackDriver]) -> None:
    stub, driver = receiver
    stub.script[:] = [0.5]
    results = driver.deliver(driver.build_text("alice", "slow", msg_id=5), timeout=0.2)
    assert isinstance(results[0], httpx.TimeoutException)
    assert isinstance(results[1], httpx.Response) and results[1].status_code == 200
    assert stub.msg_ids() == ["5", "5"]


@pytest.mark.asyncio
async def test_async_variants_run_concurrently(receiver: tuple[StubReceiver, CallbackDriver]) -> None:
    stub, driver = receiver
    responses = await asyncio.gather(*(driver.apost_text("alice", f"m{i}", msg_id=i) for i in range(5)))
    assert all(r.status_code == 200 for r in responses)
    assert sorted(stub.msg_ids()) == ["0", "1", "2", "3", "4"]
    results = await driver.adeliver(driver.build_text("bob", "again", msg_id=77))
    assert len(results) == 1
    response, expected = await driver.averify_url()
    assert response.text == expected


# ============================================================================ fake API server


@pytest.fixture(scope="module")
def _fake_server() -> Iterator[FakeWeCom]:
    with FakeWeCom(
        CORP_ID,
        SECRET,
        agent_id=AGENT_ID,
        known_users={"alice", "bob"},
        users={"alice": "王医生"},
    ) as fake:
        yield fake


@pytest.fixture
def fake(_fake_server: FakeWeCom) -> FakeWeCom:
    """One server per module (fast); state wiped per test (isolated)."""
    _fake_server.reset()
    if not _fake_server.is_up:
        _fake_server.up()
    return _fake_server


class Api:
    """Tiny raw client so the tests see exactly what travels on the wire."""

    def __init__(self, fake: FakeWeCom, timeout: float = 2.0) -> None:
        self.client = httpx.Client(base_url=fake.base_url + "/cgi-bin/", timeout=timeout)

    def token(self) -> str:
        return self.client.get("gettoken", params={"corpid": CORP_ID, "corpsecret": SECRET}).json()[
            "access_token"
        ]

    def post(self, endpoint: str, body: dict[str, Any], token: str | None = None) -> httpx.Response:
        return self.client.post(endpoint, params={"access_token": token or self.token()}, json=body)

    def get(self, endpoint: str, **params: str) -> httpx.Response:
        return self.client.get(endpoint, params={"access_token": self.token(), **params})


def text(touser: str = "alice", content: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"touser": touser, "agentid": AGENT_ID, "msgtype": "text", "text": {"content": content}, **extra}


def test_gettoken_success_is_cached_and_errors_are_http_200(fake: FakeWeCom) -> None:
    api = Api(fake)
    first = api.client.get("gettoken", params={"corpid": CORP_ID, "corpsecret": SECRET}).json()
    assert first["errcode"] == 0 and first["errmsg"] == "ok" and first["expires_in"] == 7200
    assert api.token() == first["access_token"]  # same token while valid, as WeCom documents
    wrong_corp = api.client.get("gettoken", params={"corpid": "wwNope", "corpsecret": SECRET})
    wrong_secret = api.client.get("gettoken", params={"corpid": CORP_ID, "corpsecret": "nope"})
    assert (wrong_corp.status_code, wrong_corp.json()["errcode"]) == (200, 40013)
    assert (wrong_secret.status_code, wrong_secret.json()["errcode"]) == (200, 40001)


def test_send_success_shape_and_recording(fake: FakeWeCom) -> None:
    body = text("alice|bob|ghost")
    reply = Api(fake).post("message/send", body).json()
    assert reply["errcode"] == 0 and reply["msgid"]
    assert (reply["invaliduser"], reply["invalidparty"], reply["invalidtag"]) == ("ghost", "", "")
    assert fake.delivered() == [body]
    assert fake.delivered_to("bob") == [body]
    send = fake.calls_to("message/send")[0]
    assert (send.method, send.path, send.errcode, send.outcome) == (
        "POST",
        "/cgi-bin/message/send",
        0,
        "delivered",
    )
    assert "access_token" in send.query
    fake.reset_calls()
    assert fake.calls == []


@pytest.mark.parametrize(
    ("body", "errcode"),
    [
        (text("ghost|nobody"), 81013),
        ({**text(), "agentid": None}, 41011),
        ({**text(), "agentid": 999}, 301002),
        ({**text(), "msgtype": "telegram"}, 40008),
        (text(content=""), 44004),
        (text(content="字" * 700), 45002),
    ],
)
def test_send_validation_errors(fake: FakeWeCom, body: dict[str, Any], errcode: int) -> None:
    reply = Api(fake).post("message/send", body)
    assert reply.status_code == 200 and reply.json()["errcode"] == errcode
    assert f"e={errcode}" in reply.json()["errmsg"]
    assert fake.delivered() == []


def test_token_missing_unknown_expired_invalidated(fake: FakeWeCom) -> None:
    api = Api(fake)
    assert api.client.post("message/send", json=text()).json()["errcode"] == 41001
    assert api.post("message/send", text(), token="bogus").json()["errcode"] == 40014
    old = api.token()
    fake.expire_token()
    assert api.post("message/send", text(), token=old).json()["errcode"] == 42001
    fresh = api.token()
    assert fresh != old and api.post("message/send", text(), token=fresh).json()["errcode"] == 0
    fake.invalidate_token()
    assert api.post("message/send", text(), token=fresh).json()["errcode"] == 40014


def test_short_token_ttl_expires_naturally() -> None:
    with FakeWeCom(CORP_ID, SECRET, token_ttl=0) as short:
        api = Api(short)
        assert api.post("message/send", text(), token=api.token()).json()["errcode"] == 42001


def test_fail_injection_counts_and_endpoint_filter(fake: FakeWeCom) -> None:
    api = Api(fake)
    token = api.token()
    fake.fail(-1, times=2, endpoints=["message/send"])
    assert api.token() == token  # gettoken unaffected by the filter
    codes = [api.post("message/send", text(), token=token).json()["errcode"] for _ in range(3)]
    assert codes == [-1, -1, 0]
    assert [c.outcome for c in fake.calls_to("message/send")] == ["injected", "injected", "delivered"]
    assert len(fake.delivered()) == 1
    fake.fail(45009)  # persistent and global until cleared
    assert (
        api.client.get("gettoken", params={"corpid": CORP_ID, "corpsecret": SECRET}).json()["errcode"]
        == 45009
    )
    assert api.post("message/send", text(), token=token).json()["errcode"] == 45009
    fake.clear_faults()
    assert api.post("message/send", text(), token=token).json()["errcode"] == 0


def test_fail_http_returns_non_json(fake: FakeWeCom) -> None:
    api = Api(fake)
    token = api.token()
    fake.fail_http(503, times=1, endpoints="/cgi-bin/message/send")
    broken = api.post("message/send", text(), token=token)
    assert broken.status_code == 503 and broken.headers["content-type"].startswith("text/html")
    with pytest.raises(ValueError):
        broken.json()
    assert api.post("message/send", text(), token=token).json()["errcode"] == 0
    assert [c.status for c in fake.calls_to("message/send")] == [503, 200]


def test_duplicate_check_accepts_but_does_not_redeliver(fake: FakeWeCom) -> None:
    api = Api(fake)
    token = api.token()
    body = text(content="工单 #42 已受理", enable_duplicate_check=1, duplicate_check_interval=600)
    first = api.post("message/send", body, token=token).json()
    again = api.post("message/send", body, token=token).json()
    assert first["errcode"] == again["errcode"] == 0 and first["msgid"] == again["msgid"]
    assert [c.outcome for c in fake.calls_to("message/send")] == ["delivered", "duplicate"]
    assert len(fake.delivered()) == 1
    api.post("message/send", text(content="工单 #42 已受理"), token=token)  # no check requested
    api.post("message/send", {**body, "text": {"content": "different"}}, token=token)
    assert len(fake.delivered()) == 3


def test_template_card_response_code_is_single_use(fake: FakeWeCom) -> None:
    api = Api(fake)
    token = api.token()
    card = {
        "touser": "alice",
        "agentid": AGENT_ID,
        "msgtype": "template_card",
        "template_card": {
            "card_type": "button_interaction",
            "task_id": "ticket-42",
            "main_title": {"title": "新工单"},
            "button_list": [{"text": "接单", "style": 1, "key": "claim"}],
        },
    }
    code = api.post("message/send", card, token=token).json()["response_code"]
    assert "response_code" not in api.post("message/send", text(), token=token).json()
    update = {
        "atall": 1,
        "agentid": AGENT_ID,
        "response_code": code,
        "button": {"replace_name": "已被王医生接单"},
    }
    assert api.post("message/update_template_card", update, token=token).json() == {
        "errcode": 0,
        "errmsg": "ok",
    }
    assert api.post("message/update_template_card", update, token=token).json()["errcode"] != 0
    clicked = {**update, "response_code": fake.new_response_code()}  # code from a click callback
    assert api.post("message/update_template_card", clicked, token=token).json()["errcode"] == 0
    assert len(fake.delivered("card_update")) == 2


def test_appchat_create_get_send(fake: FakeWeCom) -> None:
    api = Api(fake)
    token = api.token()
    created = api.post(
        "appchat/create", {"name": "维保群", "owner": "alice", "userlist": ["alice", "bob"], "chatid": "ops1"}
    )
    assert created.json() == {"errcode": 0, "errmsg": "ok", "chatid": "ops1"}
    generated = api.post("appchat/create", {"userlist": ["alice", "bob"]}, token=token).json()["chatid"]
    assert generated and generated != "ops1"
    info = api.get("appchat/get", chatid="ops1").json()["chat_info"]
    assert info["userlist"] == ["alice", "bob"] and info["owner"] == "alice"
    assert api.get("appchat/get", chatid="nope").json()["errcode"] == 86003
    msg = {"chatid": "ops1", "msgtype": "text", "text": {"content": "新工单"}}
    assert api.post("appchat/send", msg, token=token).json()["errcode"] == 0
    assert api.post("appchat/send", {**msg, "chatid": "nope"}, token=token).json()["errcode"] == 86003
    card = {
        "chatid": "ops1",
        "msgtype": "template_card",
        "template_card": {"card_type": "button_interaction"},
    }
    assert api.post("appchat/send", card, token=token).json()["errcode"] == 40008
    assert fake.delivered("appchat") == [msg]


def test_user_get(fake: FakeWeCom) -> None:
    api = Api(fake)
    alice = api.get("user/get", userid="alice").json()
    assert (alice["errcode"], alice["userid"], alice["name"], alice["department"]) == (
        0,
        "alice",
        "王医生",
        [1],
    )
    assert api.get("user/get", userid="ghost").json()["errcode"] == 60111


def test_down_refuses_connections_and_up_reuses_port(fake: FakeWeCom) -> None:
    api = Api(fake)
    token = api.token()
    port = fake.port
    fake.down()
    with pytest.raises(httpx.ConnectError):
        api.post("message/send", text(), token=token)
    fake.up()
    assert fake.port == port
    assert api.post("message/send", text(), token=token).json()["errcode"] == 0  # token survived


def test_delay_makes_responses_slow(fake: FakeWeCom) -> None:
    api = Api(fake, timeout=0.1)
    token = api.token()
    fake.delay(0.3, times=1, endpoints=["message/send"])
    with pytest.raises(httpx.ReadTimeout):
        api.post("message/send", text(), token=token)
    started = time.monotonic()
    assert api.post("message/send", text(), token=token).json()["errcode"] == 0
    assert time.monotonic() - started < 0.1


def test_wait_delivered_sees_sends_from_other_threads(fake: FakeWeCom) -> None:
    api = Api(fake)
    token = api.token()
    sender = threading.Timer(0.05, lambda: api.post("message/send", text(), token=token))
    sender.start()
    assert fake.wait_delivered(1, timeout=2.0) == [text()]
    sender.join()
    with pytest.raises(TimeoutError):
        fake.wait_delivered(2, timeout=0.05)


def test_wechatpy_client_speaks_to_fake(fake: FakeWeCom) -> None:
    """A third-party client accepting our responses is evidence the wire format is right."""

    class FakeBackedClient(WeChatClient):
        API_BASE_URL = fake.base_url + "/cgi-bin/"

        def fetch_access_token(self) -> dict[str, Any]:
            return self._fetch_access_token(
                url=fake.base_url + "/cgi-bin/gettoken",
                params={"corpid": self.corp_id, "corpsecret": self.secret},
            )

    client = FakeBackedClient(CORP_ID, SECRET, auto_retry=False)
    assert client.message.send_text(AGENT_ID, ["alice"], "hi from wechatpy")["errcode"] == 0
    chat_id = client.appchat.create(chat_id="wx1", name="g", owner="alice", user_list=["alice", "bob"])[
        "chatid"
    ]
    assert client.appchat.send_text(chat_id, "hello group")["errcode"] == 0
    assert fake.delivered()[0]["text"] == {"content": "hi from wechatpy"}
    assert fake.delivered("appchat")[0]["chatid"] == "wx1"
