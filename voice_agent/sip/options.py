"""SIP endpoint options, taken from :class:`voice_agent.settings.Settings`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SipOptions:
    """Everything the SIP endpoint needs to know.

    Attributes:
        host: Address the SIP (UDP) and RTP sockets bind to.
        port: SIP UDP port.
        public_host: Address advertised in Contact/SDP when ``host`` is a wildcard or behind NAT.
        rtp_port: First RTP port; each call takes the next free pair.
        allow_from: Source networks (CIDR or bare addresses) allowed to send INVITEs; empty
            allows any source.
        auth_user: When set with ``auth_password``, INVITEs must carry a valid digest.
        auth_password: Password for incoming digest auth.
        realm: Digest realm for incoming auth.
        register_uri: Registrar to REGISTER with (e.g. ``sip:trunk.example.com``), or None.
        register_user: Username (and AOR user part) for REGISTER.
        register_password: Password for REGISTER challenges.
        register_expires: Registration lifetime asked for, in seconds.
        ring_s: How long to send 180 Ringing before answering (lets a trunk CANCEL).
        max_calls: Concurrent calls; more get 486 Busy Here.
        transfer_target: Default REFER target (SIP URI or number) when a handoff names none.

    """

    host: str = "127.0.0.1"
    port: int = 5060
    public_host: str | None = None
    rtp_port: int = 40000
    allow_from: tuple[str, ...] = ()
    auth_user: str | None = None
    auth_password: str | None = None
    realm: str = "voice-agent"
    register_uri: str | None = None
    register_user: str | None = None
    register_password: str | None = None
    register_expires: int = 300
    ring_s: float = 0.0
    max_calls: int = 30
    transfer_target: str | None = None

    @property
    def auth_enabled(self) -> bool:
        return bool(self.auth_user and self.auth_password)

    @classmethod
    def from_settings(cls, settings: Any) -> SipOptions:
        """Build options from ``Settings``; ``sip_*`` fields it does not define keep defaults."""
        values: dict[str, Any] = {
            "host": settings.sip_host,
            "port": settings.sip_port,
            "transfer_target": getattr(settings, "transfer_target", None),
        }
        optional = (
            "public_host",
            "rtp_port",
            "allow_from",
            "auth_user",
            "auth_password",
            "realm",
            "register_uri",
            "register_user",
            "register_password",
            "register_expires",
            "ring_s",
            "max_calls",
        )
        for name in optional:
            value = getattr(settings, f"sip_{name}", None)
            if value is not None:
                values[name] = value
        allow = values.get("allow_from")
        if isinstance(allow, str):
            values["allow_from"] = tuple(p.strip() for p in allow.split(",") if p.strip())
        elif allow is not None:
            values["allow_from"] = tuple(allow)
        return cls(**values)
