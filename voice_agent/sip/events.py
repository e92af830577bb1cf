"""What the sans-I/O SIP user agent (:mod:`voice_agent.sip.core`) produces."""

from __future__ import annotations

from dataclasses import dataclass

from voice_agent.sip.message import SipMessage

Address = tuple[str, int]


@dataclass
class Send:
    data: bytes
    addr: Address


@dataclass
class IncomingCall:
    key: str
    request: SipMessage
    source: Address


@dataclass
class MediaUpdate:
    """A re-INVITE or UPDATE carried a new SDP offer (e.g. the far end moved its media)."""

    key: str
    sdp: bytes


@dataclass
class Dtmf:
    """A key press sent as SIP INFO (``application/dtmf-relay`` or ``application/dtmf``)."""

    key: str
    digit: str


@dataclass
class CallConfirmed:
    key: str


@dataclass
class CallEnded:
    key: str
    code: int
    reason: str


@dataclass
class TransferStatus:
    key: str
    code: int
    final: bool


@dataclass
class Registration:
    code: int
    reason: str
    expires: int


Output = (
    Send
    | IncomingCall
    | CallConfirmed
    | CallEnded
    | TransferStatus
    | Registration
    | MediaUpdate
    | Dtmf
)
