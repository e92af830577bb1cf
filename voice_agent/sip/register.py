"""Pure pieces of the REGISTER client: the request, the digest answer and the granted expiry."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from voice_agent.sip.message import SipMessage, host_port, new_tag
from voice_agent.sip.policy import digest_response, parse_auth_params

Address = tuple[str, int]


@dataclass
class RegistrationState:
    """One registration binding kept fresh with a trunk's registrar."""

    registrar: str
    addr: Address
    user: str
    password: str
    expires: int
    call_id: str = field(default_factory=lambda: secrets.token_hex(10))
    from_tag: str = field(default_factory=new_tag)
    cseq: int = 0
    refresh_at: float | None = None
    tried_nonce: str | None = None


def build_register(
    reg: RegistrationState, hostport: str, branch: str, user_agent: str, challenge: str | None
) -> SipMessage:
    """The next REGISTER (CSeq advanced), answering ``challenge`` if one was received."""
    reg.cseq += 1
    domain = reg.registrar.split(":", 1)[-1].split(";", 1)[0]
    aor = f"sip:{reg.user}@{domain}"
    msg = SipMessage(method="REGISTER", uri=reg.registrar)
    msg.add("Via", f"SIP/2.0/UDP {hostport};branch={branch};rport")
    msg.add("Max-Forwards", "70")
    msg.add("From", f"<{aor}>;tag={reg.from_tag}")
    msg.add("To", f"<{aor}>")
    msg.add("Call-ID", reg.call_id)
    msg.add("CSeq", f"{reg.cseq} REGISTER")
    msg.add("Contact", f"<sip:{reg.user}@{hostport}>")
    msg.add("Expires", str(reg.expires))
    msg.add("User-Agent", user_agent)
    if challenge:
        msg.add(
            "Authorization",
            authorization(challenge, reg.user, reg.password, "REGISTER", reg.registrar),
        )
    return msg


def authorization(challenge: str, user: str, password: str, method: str, uri: str) -> str:
    """An ``Authorization`` value answering a ``WWW-Authenticate`` digest challenge."""
    params = parse_auth_params(challenge)
    realm, nonce = params.get("realm", ""), params.get("nonce", "")
    qop = "auth" if "auth" in params.get("qop", "").split(",") else None
    cnonce, nc = secrets.token_hex(8), "00000001"
    digest = digest_response(
        username=user,
        realm=realm,
        password=password,
        method=method,
        uri=uri,
        nonce=nonce,
        qop=qop,
        nc=nc,
        cnonce=cnonce,
    )
    value = (
        f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
        f'response="{digest}", algorithm=MD5'
    )
    if "opaque" in params:
        value += f', opaque="{params["opaque"]}"'
    if qop:
        value += f', qop={qop}, nc={nc}, cnonce="{cnonce}"'
    return value


def granted_expires(res: SipMessage, asked: int) -> int:
    """The lifetime the registrar granted (Contact ``expires`` param, else ``Expires``)."""
    for contact in res.get_all("Contact"):
        for part in contact.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "expires" and value.isdigit():
                return int(value)
    header = res.get("Expires")
    return int(header) if header and header.isdigit() else asked


def registrar_address(uri: str) -> Address:
    """Where REGISTERs for ``uri`` go (host and port of the registrar URI)."""
    return host_port(uri)
