"""Pure SIP policy pieces: header parsing, allow-list, digest auth, handoff headers, options."""

from types import SimpleNamespace

import pytest

from voice_agent.sip.options import SipOptions
from voice_agent.sip.policy import (
    AllowList,
    AuthResult,
    DigestAuthenticator,
    digest_response,
    header_values,
    parse_auth_params,
    refer_to,
    source_host,
    summary_headers,
    transfer_uri,
)
from voice_agent.sip.server import caller_id

INVITE = (
    "INVITE sip:agent@127.0.0.1:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5090;branch=z9hG4bK-1\r\n"
    'From: "Bob" <sip:+15551234@trunk.example>;tag=1\r\n'
    "i: abc@10.0.0.1\r\n"
    'Authorization: Digest username="trunk", realm="voice-agent",\r\n'
    ' nonce="n1", uri="sip:agent@127.0.0.1:5060", response="00"\r\n'
    "Content-Length: 4\r\n"
    "\r\n"
    "Authorization: not a header, body\r\n"
)


def test_header_values_reads_folded_and_compact_headers_but_not_the_body():
    assert header_values(INVITE, "call-id", "i") == ["abc@10.0.0.1"]
    auth = header_values(INVITE, "Authorization")
    assert len(auth) == 1
    assert 'nonce="n1"' in auth[0] and auth[0].startswith("Digest username")
    assert header_values(INVITE, "X-Missing") == []


def test_parse_auth_params_handles_quotes_and_tokens():
    params = parse_auth_params(
        'Digest username="a\\"b", realm="r", nonce="x,y", nc=00000001, qop=auth'
    )
    assert params == {
        "username": 'a"b',
        "realm": "r",
        "nonce": "x,y",
        "nc": "00000001",
        "qop": "auth",
    }
    assert parse_auth_params("Basic abc") == {}


@pytest.mark.parametrize(
    ("address", "host"),
    [("127.0.0.1:5090", "127.0.0.1"), ("[::1]:5060", "::1"), ("10.1.2.3", "10.1.2.3")],
)
def test_source_host(address, host):
    assert source_host(address) == host


def test_allow_list():
    allow = AllowList(["10.0.0.0/8", "192.0.2.7"])
    assert allow.allows("10.20.30.40")
    assert allow.allows("192.0.2.7")
    assert not allow.allows("192.0.2.8")
    assert not allow.allows("not-an-ip")
    assert AllowList([]).allows("203.0.113.5")
    with pytest.raises(ValueError):
        AllowList(["10.0.0.0/33"])


def _authorization(
    auth: DigestAuthenticator,
    password: str,
    *,
    qop: bool = True,
    method: str = "INVITE",
    now: float = 1_000_000.0,
) -> str:
    nonce = parse_auth_params(auth.challenge(now=now))["nonce"]
    uri = "sip:agent@127.0.0.1:5060"
    response = digest_response(
        username="trunk",
        realm="voice-agent",
        password=password,
        method=method,
        uri=uri,
        nonce=nonce,
        qop="auth" if qop else None,
        nc="00000001",
        cnonce="c0ffee",
    )
    value = (
        f'Digest username="trunk", realm="voice-agent", nonce="{nonce}", uri="{uri}", '
        f'response="{response}", algorithm=MD5'
    )
    if qop:
        value += ', qop=auth, nc=00000001, cnonce="c0ffee"'
    return value


def test_digest_accepts_the_right_password_with_and_without_qop():
    auth = DigestAuthenticator("trunk", "s3cret")
    for qop in (True, False):
        header = _authorization(auth, "s3cret", qop=qop)
        assert auth.verify("INVITE", header, now=1_000_010.0) is AuthResult.OK


def test_digest_rejects_wrong_password_method_user_and_forged_nonce():
    auth = DigestAuthenticator("trunk", "s3cret")
    now = 1_000_010.0
    assert auth.verify("INVITE", None) is AuthResult.MISSING
    assert auth.verify("INVITE", _authorization(auth, "guess"), now=now) is AuthResult.INVALID
    assert auth.verify("BYE", _authorization(auth, "s3cret"), now=now) is AuthResult.INVALID
    other = DigestAuthenticator("trunk", "s3cret")  # different secret: our nonce is not its own
    assert other.verify("INVITE", _authorization(auth, "s3cret"), now=now) is AuthResult.INVALID
    bad_user = _authorization(auth, "s3cret").replace('username="trunk"', 'username="x"')
    assert auth.verify("INVITE", bad_user, now=now) is AuthResult.INVALID
    assert auth.verify("INVITE", "Digest garbage", now=now) is AuthResult.INVALID


def test_digest_old_nonce_is_stale_and_challenge_says_so():
    auth = DigestAuthenticator("trunk", "s3cret", nonce_ttl_s=60)
    header = _authorization(auth, "s3cret", now=1_000_000.0)
    assert auth.verify("INVITE", header, now=1_000_000.0 + 61) is AuthResult.STALE
    assert "stale=true" in auth.challenge(stale=True)
    assert 'qop="auth"' in auth.challenge()


def test_summary_headers_are_sanitised_and_bounded():
    headers = summary_headers(
        {
            "order_id": "A-1001",
            "reason": "arrived\r\nbroken\x00",
            "intent": None,
            "long": "x" * 500,
            **{f"k{i}": i for i in range(20)},
        }
    )
    names = [n for n, _ in headers]
    assert names[:3] == ["X-VA-Order-Id", "X-VA-Reason", "X-VA-Long"]
    assert dict(headers)["X-VA-Reason"] == "arrived broken"
    assert len(dict(headers)["X-VA-Long"]) == 200
    assert len(headers) <= 8
    assert all("\r" not in v and "\n" not in v for _, v in headers)


def test_transfer_uri_and_refer_to():
    assert transfer_uri("sip:desk@pbx.example", "10.0.0.1") == "sip:desk@pbx.example"
    assert transfer_uri("+1 (555) 010-0199", "10.0.0.1") == "sip:+15550100199@10.0.0.1"
    assert transfer_uri("tel:+15550100199", "10.0.0.1") == "sip:+15550100199@10.0.0.1"
    with pytest.raises(ValueError):
        transfer_uri("   ", "10.0.0.1")
    assert refer_to("sip:desk@pbx", []) == "<sip:desk@pbx>"
    value = refer_to("sip:desk@pbx", [("X-VA-Reason", "too small & red")])
    assert value == "<sip:desk@pbx?X-VA-Reason=too%20small%20%26%20red>"


def test_caller_id():
    assert caller_id('"Bob" <sip:+15551234@trunk.example;user=phone>') == "+15551234"
    assert caller_id("<sip:trunk.example>") is None
    assert caller_id("tel:+15551234") == "+15551234"


def test_options_from_settings_reads_optional_sip_fields():
    settings = SimpleNamespace(
        sip_host="0.0.0.0",
        sip_port=5080,
        transfer_target="sip:d@x",
        sip_allow_from="10.0.0.0/8, 192.0.2.1",
        sip_auth_user="u",
        sip_auth_password="p",
        sip_ring_s=0.5,
    )
    options = SipOptions.from_settings(settings)
    assert (options.host, options.port, options.transfer_target) == ("0.0.0.0", 5080, "sip:d@x")
    assert options.allow_from == ("10.0.0.0/8", "192.0.2.1")
    assert options.auth_enabled and options.ring_s == 0.5
    assert SipOptions.from_settings(SimpleNamespace(sip_host="h", sip_port=1)).allow_from == ()


async def test_start_sip_is_off_when_disabled_and_survives_a_busy_port():
    import socket

    from voice_agent.sip.server import start_sip

    disabled = SimpleNamespace(sip_enabled=False, sip_host="127.0.0.1", sip_port=5060)
    assert await start_sip(disabled, lambda: None) is None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        settings = SimpleNamespace(sip_enabled=True, sip_host="127.0.0.1", sip_port=port)
        assert await start_sip(settings, lambda: None) is None  # logged, the app still starts


def test_advertised_host():
    from voice_agent.sip.stack import advertised_host

    assert advertised_host(SipOptions(host="0.0.0.0", public_host="203.0.113.9")) == "203.0.113.9"
    assert advertised_host(SipOptions(host="10.1.2.3")) == "10.1.2.3"
    wildcard = advertised_host(SipOptions(host="0.0.0.0"))
    assert wildcard != "0.0.0.0" and wildcard.count(".") == 3
