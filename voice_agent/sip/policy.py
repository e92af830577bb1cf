"""Pure SIP policy helpers: allow-list, digest auth, header parsing, handoff headers.

Covers the source allow-list and digest auth for incoming INVITEs, and how a handoff summary
travels with a REFER.

Nothing here touches sockets, so every rule is unit-tested with plain strings.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import quote

_HEADER_LINE = re.compile(r"^([A-Za-z0-9!%*_+`'~.-]+)[ \t]*:[ \t]*(.*)$")
_AUTH_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]+)\s*,?')


def header_values(message: str, name: str, compact: str | None = None) -> list[str]:
    """All values of header ``name`` (case-insensitive, or its compact form) in a raw SIP message.

    Folded continuation lines are joined. Only the header section (before the blank line) is read.
    """
    head = message.replace("\r\n", "\n").split("\n\n", 1)[0]
    lines: list[str] = []
    for line in head.split("\n")[1:]:
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    wanted = {name.lower()} | ({compact.lower()} if compact else set())
    values = []
    for line in lines:
        match = _HEADER_LINE.match(line)
        if match and match.group(1).lower() in wanted:
            values.append(match.group(2).strip())
    return values


def source_host(address: str) -> str:
    """Host part of a source address such as ``127.0.0.1:5090`` or ``[::1]:5060``."""
    address = address.strip()
    if address.startswith("["):
        return address[1 : address.find("]")]
    if address.count(":") == 1:
        return address.rsplit(":", 1)[0]
    return address


class AllowList:
    """Source networks allowed to place calls; an empty list allows every source."""

    def __init__(self, entries: Iterable[str]):
        self._networks = [ipaddress.ip_network(e.strip(), strict=False) for e in entries]

    def allows(self, host: str) -> bool:
        if not self._networks:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in net for net in self._networks)


def parse_auth_params(value: str) -> dict[str, str]:
    """Parameters of a ``Digest ...`` Authorization/WWW-Authenticate header value."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        return {}
    params = {}
    for match in _AUTH_PARAM.finditer(rest):
        raw = match.group(2)
        if raw.startswith('"'):
            raw = raw[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        params[match.group(1).lower()] = raw
    return params


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def digest_response(
    *,
    username: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None = None,
    nc: str = "",
    cnonce: str = "",
) -> str:
    """Compute the RFC 2617 MD5 ``response`` value (as a client does)."""
    ha1 = _md5(f"{username}:{realm}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    if qop:
        return _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _md5(f"{ha1}:{nonce}:{ha2}")


class AuthResult(Enum):
    OK = "ok"
    MISSING = "missing"
    STALE = "stale"
    INVALID = "invalid"


@dataclass
class DigestAuthenticator:
    """Stateless digest challenges for incoming requests.

    Nonces are ``<hex time>.<HMAC>`` so any nonce we issued can be checked without storing it;
    one older than ``nonce_ttl_s`` is answered with a fresh challenge marked ``stale=true``.
    """

    username: str
    password: str
    realm: str = "voice-agent"
    nonce_ttl_s: float = 300.0
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def _sign(self, stamp: str) -> str:
        return hmac.new(self.secret, stamp.encode(), hashlib.sha256).hexdigest()[:32]

    def make_nonce(self, now: float | None = None) -> str:
        stamp = format(int(now if now is not None else time.time()), "x")
        return f"{stamp}.{self._sign(stamp)}"

    def challenge(self, *, stale: bool = False, now: float | None = None) -> str:
        """Build a ``WWW-Authenticate`` header value."""
        value = (
            f'Digest realm="{self.realm}", nonce="{self.make_nonce(now)}", '
            'algorithm=MD5, qop="auth"'
        )
        return value + (", stale=true" if stale else "")

    def verify(
        self, method: str, authorization: str | None, now: float | None = None
    ) -> AuthResult:
        """Check an ``Authorization`` header value for a request with ``method``."""
        if not authorization:
            return AuthResult.MISSING
        params = parse_auth_params(authorization)
        needed = ("username", "realm", "nonce", "uri", "response")
        if any(k not in params for k in needed):
            return AuthResult.INVALID
        if params["username"] != self.username or params["realm"] != self.realm:
            return AuthResult.INVALID
        if params.get("algorithm", "MD5").upper() != "MD5":
            return AuthResult.INVALID
        stamp, _, signature = params["nonce"].partition(".")
        if not hmac.compare_digest(signature, self._sign(stamp)):
            return AuthResult.INVALID
        qop = params.get("qop")
        if qop and qop != "auth":
            return AuthResult.INVALID
        expected = digest_response(
            username=self.username,
            realm=self.realm,
            password=self.password,
            method=method,
            uri=params["uri"],
            nonce=params["nonce"],
            qop=qop,
            nc=params.get("nc", ""),
            cnonce=params.get("cnonce", ""),
        )
        if not hmac.compare_digest(expected, params["response"].lower()):
            return AuthResult.INVALID
        issued = int(stamp, 16)
        current = now if now is not None else time.time()
        if current - issued > self.nonce_ttl_s or issued - current > 5:
            return AuthResult.STALE
        return AuthResult.OK


_HEADER_SAFE = re.compile(r"[^A-Za-z0-9-]")


def summary_headers(summary: Mapping[str, object], limit: int = 8) -> list[tuple[str, str]]:
    """Turn a handoff summary into custom ``X-VA-*`` headers for the transfer target.

    Keys become header-safe names, values are flattened to one printable line of at most 200
    characters, and at most ``limit`` headers are produced (SIP messages must stay small on UDP).
    """
    headers = []
    for key, value in list(summary.items())[:limit]:
        if value is None:
            continue
        name = "X-VA-" + _HEADER_SAFE.sub("-", str(key).replace("_", "-")).strip("-").title()
        text = " ".join(str(value).split())
        text = "".join(ch for ch in text if ch.isprintable())[:200]
        headers.append((name, text))
    return headers


def transfer_uri(target: str, default_host: str) -> str:
    """Make a SIP URI of a transfer target given as a URI, ``tel:`` URI or bare number."""
    target = target.strip()
    if target.lower().startswith(("sip:", "sips:")):
        return target
    if target.lower().startswith("tel:"):
        target = target[4:]
    if re.fullmatch(r"[+\d\s().-]+", target):  # a phone number: drop visual separators
        user = re.sub(r"[^\d+]", "", target)
    else:
        user = re.sub(r"[^0-9A-Za-z+*#._-]", "", target)
    if not user:
        raise ValueError(f"not a usable transfer target: {target!r}")
    return f"sip:{user}@{default_host}"


def refer_to(uri: str, headers: Iterable[tuple[str, str]]) -> str:
    """Build a ``Refer-To`` value: the URI with headers embedded (RFC 3261 section 19.1.1).

    A transferee that honours embedded headers copies them into its INVITE to the target.
    """
    pairs = [f"{quote(n, safe='-')}={quote(v, safe='')}" for n, v in headers]
    if not pairs:
        return f"<{uri}>"
    joiner = "&" if "?" in uri else "?"
    return f"<{uri}{joiner}{'&'.join(pairs)}>"
