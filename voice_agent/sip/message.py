"""SIP message parsing and building (RFC 3261 text format over UDP), pure and synchronous."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from voice_agent.sip.rtp import DTMF_KEYS

MAX_MESSAGE_BYTES = 65_535

COMPACT = {
    "i": "call-id",
    "m": "contact",
    "e": "content-encoding",
    "l": "content-length",
    "c": "content-type",
    "f": "from",
    "s": "subject",
    "k": "supported",
    "t": "to",
    "v": "via",
    "r": "refer-to",
    "b": "referred-by",
    "o": "event",
    "u": "allow-events",
}

REASONS = {
    100: "Trying",
    180: "Ringing",
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    405: "Method Not Allowed",
    408: "Request Timeout",
    481: "Call/Transaction Does Not Exist",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    480: "Temporarily Unavailable",
    500: "Server Internal Error",
    503: "Service Unavailable",
    603: "Decline",
}

_REQUEST_LINE = re.compile(r"^([A-Za-z]+) (\S+) SIP/2\.0$")
_STATUS_LINE = re.compile(r"^SIP/2\.0 ([1-6]\d\d) ?(.*)$")
_HEADER = re.compile(r"^([A-Za-z0-9!%*_+`'~.-]+)[ \t]*:[ \t]*(.*)$")


class SipParseError(ValueError):
    """Raised for bytes that are not a well-formed SIP message."""


def canonical(name: str) -> str:
    """Lower-case long form of a header name (compact forms expanded)."""
    lower = name.lower()
    return COMPACT.get(lower, lower)


@dataclass
class SipMessage:
    """A SIP request (``method``/``uri`` set) or response (``status`` set)."""

    method: str | None = None
    uri: str | None = None
    status: int | None = None
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return self.method is not None

    def get(self, name: str) -> str | None:
        wanted = canonical(name)
        for key, value in self.headers:
            if canonical(key) == wanted:
                return value
        return None

    def get_all(self, name: str) -> list[str]:
        wanted = canonical(name)
        return [value for key, value in self.headers if canonical(key) == wanted]

    def add(self, name: str, value: str) -> None:
        self.headers.append((name, value))

    @property
    def call_id(self) -> str:
        return self.get("Call-ID") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        number, _, method = (self.get("CSeq") or "").strip().partition(" ")
        try:
            return int(number), method.strip().upper()
        except ValueError:
            return -1, method.strip().upper()

    @property
    def branch(self) -> str | None:
        via = self.get("Via")
        return param(via.split(",", 1)[0], "branch") if via else None

    @property
    def from_tag(self) -> str | None:
        value = self.get("From")
        return param(value, "tag") if value else None

    @property
    def to_tag(self) -> str | None:
        value = self.get("To")
        return param(value, "tag") if value else None

    def to_bytes(self) -> bytes:
        if self.is_request:
            lines = [f"{self.method} {self.uri} SIP/2.0"]
        else:
            lines = [f"SIP/2.0 {self.status} {self.reason}"]
        lines += [f"{k}: {v}" for k, v in self.headers if canonical(k) != "content-length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body

    def text(self) -> str:
        return self.to_bytes().decode(errors="replace")


def parse(data: bytes) -> SipMessage:
    """Parse one UDP datagram as a SIP message.

    Raises:
        SipParseError: for anything malformed (bad start line, header or Content-Length).
    """
    if len(data) > MAX_MESSAGE_BYTES:
        raise SipParseError("message too large")
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, rest = data.partition(b"\n\n")
    if not sep:
        raise SipParseError("no end of headers")
    try:
        lines = head.decode("utf-8").replace("\r\n", "\n").split("\n")
    except UnicodeDecodeError as exc:
        raise SipParseError("headers are not UTF-8") from exc
    message = SipMessage()
    start = lines[0].strip()
    if match := _REQUEST_LINE.match(start):
        message.method, message.uri = match.group(1).upper(), match.group(2)
    elif match := _STATUS_LINE.match(start):
        message.status, message.reason = int(match.group(1)), match.group(2)
    else:
        raise SipParseError(f"bad start line: {start[:80]!r}")
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t":
            if not message.headers:
                raise SipParseError("continuation before first header")
            name, value = message.headers[-1]
            message.headers[-1] = (name, value + " " + line.strip())
            continue
        header = _HEADER.match(line)
        if not header:
            raise SipParseError(f"bad header line: {line[:80]!r}")
        message.headers.append((header.group(1), header.group(2).strip()))
    for required in ("via", "call-id", "cseq", "from", "to"):
        if message.get(required) is None:
            raise SipParseError(f"missing {required} header")
    if message.cseq[0] < 0:
        raise SipParseError("bad CSeq")
    length = message.get("Content-Length")
    if length is None:
        message.body = rest
    else:
        try:
            size = int(length)
        except ValueError as exc:
            raise SipParseError("bad Content-Length") from exc
        if size < 0 or size > len(rest):
            raise SipParseError("Content-Length beyond the datagram")
        message.body = rest[:size]
    return message


def param(value: str, name: str) -> str | None:
    """A ``;name=value`` parameter of a header value (after the ``<URI>`` of a name-addr)."""
    tail = value.rsplit(">", 1)[-1] if ">" in value else value
    for part in tail.split(";")[1:]:
        key, _, val = part.strip().partition("=")
        if key.strip().lower() == name:
            return val.strip().strip('"')
    return None


def uri_of(value: str) -> str:
    """The URI inside a name-addr (``"Bob" <sip:b@h>;tag=1`` -> ``sip:b@h``) or addr-spec."""
    if "<" in value:
        return value.split("<", 1)[1].split(">", 1)[0].strip()
    return value.split(";", 1)[0].strip()


def host_port(uri: str, default_port: int = 5060) -> tuple[str, int]:
    """Host and port of a SIP URI (``sip:user@10.0.0.1:5080;transport=udp``)."""
    rest = uri.split(":", 1)[1] if ":" in uri else uri
    rest = rest.split("@", 1)[-1].split(";", 1)[0].split("?", 1)[0]
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        port = tail[1:] if tail.startswith(":") else ""
    else:
        host, _, port = rest.partition(":")
    return host, int(port) if port.isdigit() else default_port


def new_tag() -> str:
    return secrets.token_hex(6)


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)


def response(
    request: SipMessage,
    status: int,
    *,
    to_tag: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    reason: str | None = None,
) -> SipMessage:
    """A response to ``request`` (Via, From, To, Call-ID, CSeq copied; To tag added if given)."""
    out = SipMessage(status=status, reason=reason or REASONS.get(status, "Unknown"))
    for key, value in request.headers:
        name = canonical(key)
        if name == "via":
            out.add("Via", value)
        elif name == "to":
            if to_tag and param(value, "tag") is None:
                value = f"{value};tag={to_tag}"
            out.add("To", value)
        elif name in ("from", "call-id", "cseq", "record-route"):
            out.add(key if len(key) > 1 else name.title(), value)
    for key, value in headers:
        out.add(key, value)
    out.body = body
    return out


def sipfrag_status(body: bytes) -> int | None:
    """The status code a ``message/sipfrag`` body (a REFER's NOTIFY) reports, if any."""
    first = body.decode(errors="replace").strip().split("\n", 1)[0].split()
    if len(first) >= 2 and first[0].startswith("SIP/") and first[1].isdigit():
        return int(first[1])
    return None


def info_digit(req: SipMessage) -> str | None:
    """The key an INFO request carries (``application/dtmf-relay`` or ``application/dtmf``)."""
    kind = (req.get("Content-Type") or "").split(";")[0].strip().lower()
    text = req.body.decode(errors="replace").strip()
    if kind == "application/dtmf-relay":
        for line in text.splitlines():
            name, _, value = line.partition("=")
            if name.strip().lower() == "signal":
                text = value.strip()
                break
        else:
            return None
    elif kind != "application/dtmf":
        return None
    text = text.upper()
    return text if len(text) == 1 and text in DTMF_KEYS else None
