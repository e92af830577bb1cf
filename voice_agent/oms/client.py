"""Async HTTP client of the OMS REST contract (the embedded OMS or a real one).

Retries only what a retry can fix: connection errors, timeouts, 5xx, 408 and 429 (honouring
``Retry-After``). Every other answer is final. Work orders are created with an ``Idempotency-Key``
so a retry after a lost response can never open a second work order.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from loguru import logger
from pydantic import ValidationError

from voice_agent.oms.models import Order, WorkOrder, WorkOrderCreate, orders_under, phone_key

M = TypeVar("M", Order, WorkOrder)


class OmsError(Exception):
    """Any failure talking to the OMS. ``retryable`` says whether trying again may succeed."""

    retryable: bool = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class OmsUnavailable(OmsError):
    """The OMS could not be reached or failed (connect error, timeout, 5xx, 429): retry later."""

    retryable = True


class OmsRejected(OmsError):
    """The OMS answered and refused the request (4xx other than 408/429): retrying won't help."""

    retryable = False


def idempotency_key(call_sid: str, intent: str, order_id: str, extra: str = "") -> str:
    """Derive a work order's key: the same call + intent + order always give the same key."""
    raw = "\x1f".join([call_sid, intent, order_id, extra])
    return "va-" + hashlib.sha256(raw.encode()).hexdigest()[:40]


_RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])[:500]
    return str(body)[:200]


class OmsClient:
    """Talks to an OMS at ``base_url`` (e.g. ``http://127.0.0.1:8000/oms``).

    Args:
        base_url: root of the OMS REST API.
        timeout_s: per-attempt timeout (connect, read, write, pool).
        retries: extra attempts after the first on retryable errors.
        backoff_s: first backoff; doubles per attempt with jitter, capped at ``max_backoff_s``.
        max_backoff_s: cap of one wait, also applied to ``Retry-After``.
        transport: an httpx transport (e.g. ``httpx.ASGITransport(app)`` to call an app in process).
        sleep: the sleep function (tests may pass one that records waits).

    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 3.0,
        retries: int = 3,
        backoff_s: float = 0.2,
        max_backoff_s: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "voice-agent"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> OmsClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    # --- API ------------------------------------------------------------------------------------
    async def get_order(self, order_id: str) -> Order | None:
        """Return the order, or None when the OMS has no such order."""
        response = await self._request(
            "GET", f"orders/{quote(order_id, safe='')}", ok=(200,), missing_ok=True
        )
        return None if response is None else self._parse(Order, response)

    async def list_orders(self) -> list[Order]:
        response = await self._request("GET", "orders", ok=(200,))
        assert response is not None
        return [self._parse(Order, item) for item in self._json_list(response)]

    async def orders_for_phone(self, phone: str) -> list[Order]:
        """The orders under the caller's number (any form); [] for a non-number like a SIP user."""
        if phone_key(phone) is None:
            return []
        response = await self._request("GET", "orders", ok=(200,), params={"phone": phone})
        assert response is not None
        orders = [self._parse(Order, item) for item in self._json_list(response)]
        # A retailer's OMS may ignore an unknown ?phone= and send every order.
        return orders_under(phone, orders)

    async def create_work_order(
        self, req: WorkOrderCreate, idempotency_key: str, *, retries: int | None = None
    ) -> WorkOrder:
        """Open a work order; replays with the same key return the same work order.

        ``retries`` overrides the client's retry count for this call (e.g. fewer while a caller
        waits on the line).

        Raises:
            OmsUnavailable: the OMS could not be reached after all retries (retry later with the
                same key).
            OmsRejected: the OMS refused it (unknown order, key reused with another body...).

        """
        response = await self._request(
            "POST",
            "work-orders",
            ok=(200, 201),
            json=req.model_dump(mode="json"),
            headers={"Idempotency-Key": idempotency_key},
            retries=retries,
        )
        assert response is not None
        return self._parse(WorkOrder, response)

    async def list_work_orders(self, call_sid: str) -> list[WorkOrder]:
        response = await self._request(
            "GET", "work-orders", ok=(200,), params={"call_sid": call_sid}
        )
        assert response is not None
        return [self._parse(WorkOrder, item) for item in self._json_list(response)]

    async def get_work_order(self, work_order_id: str) -> WorkOrder | None:
        response = await self._request(
            "GET", f"work-orders/{quote(work_order_id, safe='')}", ok=(200,), missing_ok=True
        )
        return None if response is None else self._parse(WorkOrder, response)

    # --- plumbing -------------------------------------------------------------------------------
    async def _request(
        self,
        method: str,
        path: str,
        *,
        ok: tuple[int, ...],
        missing_ok: bool = False,
        retries: int | None = None,
        **kwargs: Any,
    ) -> httpx.Response | None:
        max_retries = self.retries if retries is None else retries
        attempt = 0
        while True:
            wait: float | None = None
            try:
                response = await self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:  # connect/read/write/pool errors and timeouts
                error: OmsError = OmsUnavailable(
                    f"OMS {method} {path}: {type(exc).__name__}: {exc}".rstrip(": ")
                )
            except httpx.HTTPError as exc:  # e.g. an undecodable body: not worth retrying now
                raise OmsUnavailable(f"OMS {method} {path}: {type(exc).__name__}: {exc}") from exc
            else:
                if response.status_code in ok:
                    return response
                if response.status_code == 404 and missing_ok:
                    return None
                message = f"OMS {method} {path} -> {response.status_code}: {_detail(response)}"
                if response.status_code in _RETRYABLE_STATUS:
                    error = OmsUnavailable(message, status=response.status_code)
                    wait = _retry_after(response)
                else:
                    raise OmsRejected(message, status=response.status_code)
            if attempt >= max_retries:
                raise error
            delay = self.backoff_s * (2**attempt) * random.uniform(0.75, 1.25)
            if wait is not None:
                delay = max(delay, wait)
            delay = min(delay, self.max_backoff_s)
            attempt += 1
            logger.debug("{} (retry {}/{} in {:.2f}s)", error, attempt, max_retries, delay)
            await self._sleep(delay)

    @staticmethod
    def _json_list(response: httpx.Response) -> list[Any]:
        try:
            body = response.json()
        except ValueError as exc:
            raise OmsUnavailable(f"OMS sent invalid JSON: {exc}") from exc
        if not isinstance(body, list):
            raise OmsUnavailable(f"OMS sent {type(body).__name__}, expected a list")
        return body

    @staticmethod
    def _parse(model: type[M], data: httpx.Response | Any) -> M:
        try:
            if isinstance(data, httpx.Response):
                return model.model_validate_json(data.content)
            return model.model_validate(data)
        except ValidationError as exc:
            # A garbled answer: treat like an outage (the request itself was fine and, for work
            # orders, idempotent), so callers retry rather than drop it.
            raise OmsUnavailable(f"OMS sent an invalid {model.__name__}: {exc}") from exc
