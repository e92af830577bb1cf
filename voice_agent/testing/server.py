"""Start a real agent process (``python -m voice_agent serve``) on a free loopback port."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from voice_agent.pipeline.recording import read_events, recording_paths

ROOT = Path(__file__).resolve().parents[2]


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AgentProcess:
    """The agent as a subprocess; waits for ``/health`` to answer 200 on entry."""

    def __init__(
        self, data_dir: Path, env: dict[str, str] | None = None, startup_timeout_s: float = 180
    ) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/twilio/media"
        self.log = data_dir / "server.log"
        self._env = env or {}
        self._timeout = startup_timeout_s
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> AgentProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = (
            os.environ
            | {
                "HF_HUB_OFFLINE": "1",
                "VOICE_AGENT_DATA_DIR": str(self.data_dir),
                "VOICE_AGENT_SIP_ENABLED": "false",
                # Calls are not turned away for slow answers: tests and benches measure them,
                # and a busy box would turn theirs into busy lines (set it to see that).
                "VOICE_AGENT_SLOW_ANSWER_S": "0",
            }
            | self._env
        )
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "voice_agent", "serve", "--port", str(self.port)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_healthy()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_healthy(self) -> None:
        self._poll_health(lambda r: r.status_code == 200, "healthy", self._timeout)

    def wait_prompts_warm(self, timeout_s: float = 120) -> None:
        """Wait until the agent's fixed prompts are synthesized (``/health`` says so), so that
        a measurement does not share the CPU with the start-up warm-up.
        """
        self._poll_health(lambda r: r.json().get("prompts_warm") is True, "warm", timeout_s)

    def _poll_health(
        self, ready: Callable[[httpx.Response], bool], what: str, timeout_s: float
    ) -> None:
        """Poll ``/health`` until ``ready`` holds; fail if the agent exits or time runs out."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"agent exited:\n{self.log_tail()}")
            try:
                if ready(httpx.get(self.base_url + "/health", timeout=1)):
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"agent not {what} after {timeout_s}s:\n{self.log_tail()}")
            time.sleep(0.25)

    async def call_events(self, call_sid: str, wait_s: float = 10.0) -> list[dict[str, Any]] | None:
        """A call's recorded events, once the agent has written them at the call's end; None
        if it has not within ``wait_s``.
        """
        _, path = recording_paths(self.data_dir, call_sid)
        deadline = time.monotonic() + wait_s
        while not path.is_file() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        return read_events(path)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def cpu_seconds(self) -> float:
        """User + system CPU time of the agent process so far (Linux /proc)."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def peak_rss_mb(self) -> float:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
