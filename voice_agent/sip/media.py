"""Audio buffers between a call's 20 ms RTP media clock and the pipecat pipeline.

The media clock pulls one 20 ms frame of 8 kHz 16-bit PCM every 20 ms (that clock is what paces
outgoing RTP). The buffer is lock-protected so a media clock on another thread would also work.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

RATE = 8000
FRAME_MS = 20
FRAME_SAMPLES = RATE * FRAME_MS // 1000
FRAME_BYTES = FRAME_SAMPLES * 2
SILENCE = bytes(FRAME_BYTES)


class PlayoutBuffer:
    """PCM queued for the caller; read in fixed frames, padded with silence when short."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data = bytearray()
        self._drained = threading.Event()
        self._drained.set()
        self.frames_played = 0
        self.frames_silent = 0

    def write(self, pcm: bytes) -> None:
        if not pcm:
            return
        with self._lock:
            self._data.extend(pcm)
            self._drained.clear()

    def read_frame(self) -> bytes:
        """Next 20 ms frame (silence if nothing is queued)."""
        with self._lock:
            if not self._data:
                self.frames_silent += 1
                return SILENCE
            frame = bytes(self._data[:FRAME_BYTES])
            del self._data[:FRAME_BYTES]
            self.frames_played += 1
            if not self._data:
                self._drained.set()
        if len(frame) < FRAME_BYTES:
            frame += bytes(FRAME_BYTES - len(frame))
        return frame

    def clear(self) -> int:
        """Drop everything queued (barge-in); returns how many bytes were dropped."""
        with self._lock:
            dropped = len(self._data)
            self._data.clear()
            self._drained.set()
        return dropped

    @property
    def buffered_s(self) -> float:
        with self._lock:
            return len(self._data) / (RATE * 2)

    @property
    def is_empty(self) -> bool:
        return self._drained.is_set()


@dataclass
class CallLeg:
    """One SIP call as the server and the transport see it."""

    key: str
    sip_call_id: str
    remote_uri: str
    source: str
    playout: PlayoutBuffer = field(default_factory=PlayoutBuffer)
    #: Set by the transport; gets each received frame of 8 kHz PCM16 (event loop thread).
    deliver: Callable[[bytes], None] | None = None
    frames_received: int = 0
    rtp_stats: dict[str, int] = field(default_factory=dict)
    media_ready: bool = False
    disconnected: bool = False
    #: ``time.monotonic()`` when the INVITE was accepted for processing.
    invited_at: float = field(default_factory=time.monotonic)
