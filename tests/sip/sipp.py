"""Running SIPp against the agent from tests: scenario rendering, ports, process handling."""

from __future__ import annotations

import asyncio
import shutil
import socket
import string
from dataclasses import dataclass
from pathlib import Path

import pytest

SIPP = shutil.which("sipp") or "/usr/bin/sipp"
SCENARIOS = Path(__file__).parent / "scenarios"
PCAPS = Path("/usr/share/sip-tester")

requires_sipp = pytest.mark.skipif(
    not Path(SIPP).exists(),
    reason="SIPp not installed (apt-get install -y sip-tester); SIP interop tests skipped",
)


def free_udp_port(count: int = 1) -> int:
    """A UDP port on loopback with ``count - 1`` free ports after it (best effort)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            base = int(s.getsockname()[1])
        if base + count >= 65000:
            continue
        try:
            socks = []
            for offset in range(count):
                probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(probe)
                probe.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for probe in socks:
                probe.close()
    raise RuntimeError("no free UDP port range")


def render(name: str, out_dir: Path, **values: object) -> Path:
    """Fill a scenario's ``$placeholders`` and write it to ``out_dir``."""
    text = string.Template((SCENARIOS / name).read_text()).substitute(
        {k: str(v) for k, v in values.items()}
    )
    path = out_dir / name
    path.write_text(text)
    return path


def dtmf_actions(digits: str, gap_ms: int = 400) -> str:
    """Scenario lines that play Debian's RFC 4733 pcaps for ``digits``."""
    names = {"*": "star", "#": "pound"}
    lines = []
    for digit in digits:
        pcap = PCAPS / f"dtmf_2833_{names.get(digit, digit)}.pcap"
        lines.append(f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>')
        lines.append(f'  <pause milliseconds="{gap_ms}"/>')
    return "\n".join(lines)


@dataclass
class SippRun:
    returncode: int
    output: str
    errors: str
    elapsed_s: float

    def explain(self) -> str:
        return f"sipp exit {self.returncode}\n{self.errors[-3000:]}\n{self.output[-3000:]}"


async def run_sipp(
    scenario: Path,
    *,
    target_port: int | None = None,
    calls: int = 1,
    limit: int | None = None,
    rate: float | None = None,
    server_mode: bool = False,
    local_port: int | None = None,
    timeout_s: float = 60.0,
    extra: list[str] | None = None,
) -> SippRun:
    """Run SIPp to completion (client calling ``127.0.0.1:target_port``, or a server)."""
    work = scenario.parent
    local_port = local_port or free_udp_port()
    args = [
        SIPP,
        "-sf",
        str(scenario),
        "-i",
        "127.0.0.1",
        "-p",
        str(local_port),
        "-m",
        str(calls),
        "-nostdin",
        "-trace_err",
        "-error_file",
        str(work / f"{scenario.stem}.err"),
        "-timeout",
        f"{int(timeout_s)}s",
        "-timeout_error",
        "-max_recv_loops",
        "1000",
    ]
    if not server_mode:
        args += [f"127.0.0.1:{target_port}", "-mp", str(free_udp_port(4 * calls + 4))]
        args += ["-l", str(limit or calls), "-r", str(rate or calls), "-rp", "1000"]
    args += extra or []
    loop = asyncio.get_running_loop()
    start = loop.time()
    proc = await asyncio.create_subprocess_exec(
        *args,
        cwd=work,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s + 15)
    except TimeoutError:
        proc.kill()
        out, _ = await proc.communicate()
    err_file = work / f"{scenario.stem}.err"
    errors = err_file.read_text(errors="replace") if err_file.exists() else ""
    return SippRun(proc.returncode or 0, out.decode(errors="replace"), errors, loop.time() - start)
