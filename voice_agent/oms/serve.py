"""Serve an ASGI app (e.g. the embedded OMS) with uvicorn on a loopback port in a thread.

Used by tests and benchmarks that need a real HTTP server they can stop and start again on the
same port (to simulate an OMS outage), and by ``python -m voice_agent.oms.serve`` to run the
embedded OMS as its own process.
"""

from __future__ import annotations

import argparse
import socket
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the OS for a free TCP port on ``host``."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ServerThread:
    """A uvicorn server in a background thread; ``start()``/``stop()`` may be repeated."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.app = app
        self.host = host
        self.port = port or free_port(host)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 10.0) -> None:
        config = uvicorn.Config(
            self.app, host=self.host, port=self.port, log_level="warning", lifespan="off"
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name=f"uvicorn-{self.port}", daemon=True)
        thread.start()
        deadline = time.monotonic() + timeout_s
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on {self.url}")
            time.sleep(0.01)
        self._server, self._thread = server, thread

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout_s)
        self._server = self._thread = None

    def __enter__(self) -> ServerThread:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class FlakyApp:
    """ASGI wrapper that answers the first ``fail`` matching requests itself, for fault tests.

    A real (if tiny) proxy layer in front of a real app: the failed requests never reach it.

    Args:
        app: the wrapped ASGI app.
        fail: how many matching requests to fail.
        status: the status to fail them with (500, 503, 429...).
        retry_after: a ``Retry-After`` header value to send with the failures.
        method, path: which requests count (path is matched as a suffix).

    """

    def __init__(
        self,
        app: Any,
        fail: int,
        status: int = 500,
        retry_after: str | None = None,
        method: str = "POST",
        path: str = "/work-orders",
    ) -> None:
        self.app = app
        self.fail = fail
        self.status = status
        self.retry_after = retry_after
        self.method = method
        self.path = path
        self.failed = 0
        self.passed = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        matches = (
            scope["type"] == "http"
            and scope["method"] == self.method
            and scope["path"].endswith(self.path)
        )
        if not matches:
            await self.app(scope, receive, send)
            return
        if self.failed >= self.fail:
            self.passed += 1
            await self.app(scope, receive, send)
            return
        self.failed += 1
        headers = [(b"content-type", b"application/json")]
        if self.retry_after is not None:
            headers.append((b"retry-after", self.retry_after.encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"detail": "injected failure"}'})


def main(argv: list[str] | None = None) -> None:
    """Run the embedded OMS alone: ``python -m voice_agent.oms.serve --db var/oms.sqlite``."""
    from voice_agent.oms.embedded import create_oms_app

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--db", type=Path, default=Path("var/oms.sqlite3"))
    parser.add_argument("--seed", type=Path, default=None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    args = parser.parse_args(argv)
    uvicorn.run(create_oms_app(args.db, args.seed), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
