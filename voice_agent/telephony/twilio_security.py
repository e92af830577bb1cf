"""Twilio request signatures and per-call media-stream tokens (pure functions)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from twilio.request_validator import RequestValidator


def public_request_url(public_url: str | None, request_url: str) -> str:
    """The URL Twilio signed: the request's path and query on the configured public origin.

    Behind a proxy or tunnel the server sees ``http://127.0.0.1:8000/...`` while Twilio signed
    ``https://abc.ngrok.app/...``; the public URL setting says which origin to check against.
    """
    if not public_url:
        return request_url
    public = urlsplit(public_url)
    seen = urlsplit(request_url)
    path = public.path.rstrip("/") + seen.path
    return urlunsplit((public.scheme, public.netloc, path, seen.query, ""))


def signature_is_valid(
    auth_token: str, url: str, params: Mapping[str, str], signature: str | None
) -> bool:
    """Check ``X-Twilio-Signature`` for a form POST (Twilio's HMAC-SHA1 over URL + params)."""
    if not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))


def sign(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The signature Twilio would send (for tests and local tools)."""
    return str(RequestValidator(auth_token).compute_signature(url, dict(params)))


def stream_token(secret: bytes, call_sid: str) -> str:
    """A token binding a media stream to the call whose webhook this server answered."""
    digest = hmac.new(secret, call_sid.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode("ascii")


def stream_token_is_valid(secret: bytes, call_sid: str, token: str | None) -> bool:
    if not token or not call_sid:
        return False
    return hmac.compare_digest(stream_token(secret, call_sid), token)
