"""The few Twilio REST calls the agent makes: redirect a live call (transfer) and hang it up.

Uses the twilio library's async HTTP client. ``api_base_url`` (setting
``VOICE_AGENT_TWILIO_API_BASE_URL``) rebases every request onto another origin: a regional or
compatible endpoint, or a local stand-in in tests (Twilio's API can't be reached from CI).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from loguru import logger
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client


class _RebasedHttpClient(AsyncTwilioHttpClient):
    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._base = urlsplit(base_url)

    async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(url)
        rebased = urlunsplit(
            (self._base.scheme, self._base.netloc, self._base.path.rstrip("/") + parts.path,
             parts.query, "")
        )
        return await super().request(method, rebased, *args, **kwargs)


class TwilioRest:
    def __init__(
        self, account_sid: str, auth_token: str, api_base_url: str | None = None
    ) -> None:
        http = (
            _RebasedHttpClient(api_base_url, timeout=5.0)
            if api_base_url
            else AsyncTwilioHttpClient(timeout=5.0)
        )
        self._client = Client(account_sid, auth_token, http_client=http)

    async def redirect(self, call_sid: str, twiml: str) -> bool:
        """Replace the live call's TwiML (ends the media stream). False if the call is gone."""
        try:
            await self._client.calls(call_sid).update_async(twiml=twiml)
            return True
        except TwilioRestException as exc:
            logger.warning(f"[{call_sid}] Twilio refused the redirect: {exc.status} {exc.msg}")
            return False

    async def hang_up(self, call_sid: str) -> None:
        """Complete the call; a call that already ended (404) is not an error."""
        try:
            await self._client.calls(call_sid).update_async(status="completed")
        except TwilioRestException as exc:
            if exc.status != 404:
                logger.warning(f"[{call_sid}] Twilio hang-up failed: {exc.status} {exc.msg}")

    async def aclose(self) -> None:
        http = self._client.http_client
        session = getattr(http, "session", None)
        if session is not None:
            await session.close()
